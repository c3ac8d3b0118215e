/**
 * A config-time check that an origin regex cannot stall a worker, used only on the fallback path.
 *
 * Origin regexes normally run on RE2 (src/util/safe-regex.ts), which is linear-time and needs no
 * such check. When RE2 cannot be loaded (its native build failed, or FLOODGATE_DISABLE_RE2=1), the
 * patterns run on V8's backtracking engine (its linear engine, the `l` flag, exists only behind an
 * experimental process-wide flag), and this check bounds what they can cost:
 *
 * 1. Backreferences and lookarounds are refused (they defeat the analysis, and origins never need
 *    them).
 * 2. A group repeated more than once (`*`, `+`, `{2,}`...) may not contain a variable-width
 *    quantifier or an alternation: `(a+)+`, `(a|aa)*`, `(x.*){3}` are the exponential shapes.
 * 3. What is left is at most polynomial. The number of ways the engine can split the subject is
 *    bounded by the product of each choice point's options: an unbounded quantifier has about
 *    `subjectMax` options, a bounded one `max - min + 1`, an alternation its branch count; k
 *    unbounded quantifiers together split the subject in at most L^k / k! ways. The estimate must
 *    stay under MAX_PATHS. Measured on Node 20 with 270-character subjects (the longest origin
 *    considered): about 5 ns per path, so the costliest accepted patterns take 2-3 ms once per
 *    distinct origin; `.*.*x` takes 0.25 ms, while `a?a?a?a?a?a?a?a?a?a?.*.*.*x` (refused)
 *    takes 20 s.
 *
 * The subject length is capped by the caller (OriginMatcher), and each distinct origin's decision
 * is cached, so a pattern runs once per distinct origin.
 */

/** Estimated backtracking paths allowed for one pattern on a maximal subject. */
export const MAX_PATHS = 500_000;
/** Longest pattern accepted. */
export const MAX_PATTERN_LENGTH = 1000;

interface Group {
  /** Contains (at any depth) a quantifier whose min and max differ. */
  variable: boolean;
  /** Contains (at any depth) an alternation. */
  alternation: boolean;
  branches: number;
}

/**
 * `null` when `source` (a JS RegExp source, already known to compile) is safe to run on subjects
 * of at most `subjectMax` characters; otherwise why not, as a sentence fragment.
 */
export function regexProblem(source: string, subjectMax: number): string | null {
  if (source.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  const stack: Group[] = [{ variable: false, alternation: false, branches: 1 }];
  /** The atom a following quantifier applies to: 'atom', a closed group, or null (nothing). */
  let last: 'atom' | Group | null = null;
  let paths = 1;
  let unbounded = 0;
  const n = source.length;
  let i = 0;
  while (i < n) {
    const c = source[i];
    switch (c) {
      case '\\': {
        const d = source[i + 1] ?? '';
        if (d >= '1' && d <= '9') return 'uses a backreference';
        if (d === 'k' && source[i + 2] === '<') return 'uses a backreference';
        last = 'atom';
        i += 2;
        break;
      }
      case '[': {
        let j = i + 1;
        if (source[j] === '^') j++;
        while (j < n && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
        last = 'atom';
        i = j + 1;
        break;
      }
      case '(': {
        if (source.startsWith('(?=', i) || source.startsWith('(?!', i) || source.startsWith('(?<=', i) || source.startsWith('(?<!', i)) {
          return 'uses a lookaround';
        }
        if (source.startsWith('(?:', i)) i += 3;
        else if (source.startsWith('(?<', i)) {
          const close = source.indexOf('>', i);
          if (close === -1) return 'has an unterminated group name';
          i = close + 1;
        } else i += 1;
        stack.push({ variable: false, alternation: false, branches: 1 });
        last = null;
        break;
      }
      case ')': {
        if (stack.length === 1) return 'has unbalanced parentheses';
        const group = stack.pop()!;
        const parent = stack[stack.length - 1];
        parent.variable ||= group.variable;
        parent.alternation ||= group.alternation;
        paths *= group.branches;
        last = group;
        i += 1;
        break;
      }
      case '|': {
        const top = stack[stack.length - 1];
        top.branches++;
        top.alternation = true;
        last = null;
        i += 1;
        break;
      }
      case '*':
      case '+':
      case '?':
      case '{': {
        let min: number;
        let max: number;
        let len = 1;
        if (c === '*') [min, max] = [0, Infinity];
        else if (c === '+') [min, max] = [1, Infinity];
        else if (c === '?') [min, max] = [0, 1];
        else {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 24));
          if (m === null) {
            // Not a quantifier: a literal "{" (non-unicode mode).
            last = 'atom';
            i += 1;
            break;
          }
          min = Number(m[1]);
          max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
          len = m[0].length;
        }
        i += len;
        if (source[i] === '?') i += 1; // lazy: same cost
        if (typeof last === 'object' && last !== null && max > 1 && (last.variable || last.alternation)) {
          return 'repeats a group that itself contains a repetition or an alternation (nested quantifier)';
        }
        if (min !== max) {
          stack[stack.length - 1].variable = true;
          if (max === Infinity || max - min + 1 >= subjectMax) {
            unbounded++;
            paths = (paths * subjectMax) / unbounded; // L^k / k!
          } else {
            paths *= max - min + 1;
          }
        }
        last = null;
        break;
      }
      default:
        last = 'atom';
        i += 1;
        break;
    }
    if (paths > MAX_PATHS) {
      return `has too many ways to match (over ${MAX_PATHS.toLocaleString('en-US')} backtracking paths estimated): use fewer *, +, ? and alternations`;
    }
  }
  if (stack.length !== 1) return 'has unbalanced parentheses';
  paths *= stack[0].branches;
  if (paths > MAX_PATHS) {
    return `has too many ways to match (over ${MAX_PATHS.toLocaleString('en-US')} backtracking paths estimated): use fewer *, +, ? and alternations`;
  }
  return null;
}
