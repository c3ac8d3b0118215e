/**
 * Regexes from config that run against client input, compiled so they cannot stall a worker.
 *
 * The engine is RE2 (the `re2` package, a native addon built at install time): matching is linear
 * in the subject, whatever the pattern, so `(a+)+$` or `(a|aa)*c` on a long run of "a" cost no
 * more than `a*`. RE2 has no backreferences and no lookarounds; such patterns fail to compile and
 * the thrown Error says so (callers prefix it with the config field).
 *
 * When RE2 cannot be loaded (the native build failed on this machine), or FLOODGATE_DISABLE_RE2=1
 * (tests, debugging), patterns fall back to V8's backtracking RegExp, and are accepted only when the
 * caller's `fallbackGuard` finds them safe (for cors: src/plugins/cors/regex-guard.ts). Without a
 * guard the fallback refuses every pattern: an unguarded backtracking regex on client input is what
 * this module exists to prevent. A notice is emitted once per process the first time the fallback
 * is used; `re2FallbackWarning()` gives the same line for a start-up log.
 */

/** What a compiled pattern offers: the caller anchors the source itself if it needs to. */
export interface UntrustedRegex {
  test(subject: string): boolean;
}

export interface UntrustedRegexOptions {
  /**
   * Fallback path only (RE2 not available): null when `source` is safe to run on V8's backtracking
   * engine, else why not, as a sentence fragment ("uses a backreference").
   */
  readonly fallbackGuard?: (source: string) => string | null;
}

/** RE2 instances behave as RegExps (exec, test, named groups), in linear time. */
type RE2Constructor = new (pattern: string, flags?: string) => RegExp;

interface Engine {
  readonly re2: RE2Constructor | null;
  readonly error: Error | null;
}

function loadRe2(): Engine {
  if (process.env.FLOODGATE_DISABLE_RE2 === '1') {
    return { re2: null, error: new Error('RE2 disabled by FLOODGATE_DISABLE_RE2=1') };
  }
  try {
    const mod: unknown = require('re2');
    if (typeof mod !== 'function') return { re2: null, error: new Error('the re2 package does not export a constructor') };
    return { re2: mod as RE2Constructor, error: null };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return { re2: null, error: new Error(`cannot load the re2 package: ${e.message}`, { cause: e }) };
  }
}

const engine = loadRe2();

/** True when patterns are compiled with RE2 (linear-time); false on the guarded RegExp fallback. */
export const re2InUse: boolean = engine.re2 !== null;
/** Why RE2 is not in use, or null when it is. */
export const re2LoadError: Error | null = engine.error;

/** One line for a start-up log when the fallback is in use, else null. */
export function re2FallbackWarning(): string | null {
  if (engine.re2 !== null) return null;
  return (
    `RE2 not available (${engine.error?.message ?? 'unknown reason'}); regexes from config run on the ` +
    'backtracking RegExp engine and only patterns that pass a complexity guard are accepted. ' +
    'Reinstall dependencies (`npm ci`, needs a C++ compiler) to get linear-time matching.'
  );
}

let noticed = false;
function noticeFallbackOnce(): void {
  if (noticed) return;
  noticed = true;
  process.emitWarning(re2FallbackWarning() ?? 'RE2 not available', { code: 'FLOODGATE_RE2_FALLBACK' });
}

/**
 * Compile `source` (JS regex syntax) with `flags`. Throws an Error whose message explains why the
 * pattern is refused (invalid syntax, a feature RE2 lacks, or, on the fallback, the guard's reason);
 * the message does not repeat the pattern, so callers prefix it with the field and the pattern.
 */
export function compileUntrustedRegex(source: string, flags = '', options: UntrustedRegexOptions = {}): UntrustedRegex {
  const RE2 = engine.re2;
  if (RE2 !== null) {
    try {
      return new RE2(source, flags);
    } catch (err) {
      throw new Error(explainRe2Error(err));
    }
  }
  noticeFallbackOnce();
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (err) {
    throw new Error(`is not a valid regex (${reasonOf(err)})`);
  }
  const guard = options.fallbackGuard;
  if (guard === undefined) {
    throw new Error(`cannot be run safely: RE2 is not available (${engine.error?.message ?? 'unknown reason'}) and no complexity guard applies`);
  }
  const problem = guard(source);
  if (problem !== null) throw new Error(problem);
  return re;
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // V8 says "Invalid regular expression: /<source>/<flags>: <reason>"; keep the reason.
  const at = message.lastIndexOf(': ');
  return message.startsWith('Invalid regular expression') && at !== -1 ? message.slice(at + 2) : message;
}

/** RE2's syntax errors, with the unsupported features named. */
function explainRe2Error(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/invalid escape sequence: \\([1-9]|k)/.test(message)) {
    return `uses a backreference, which linear-time matching (RE2) does not support (${message})`;
  }
  if (/invalid perl operator: \(\?<?[=!]/.test(message)) {
    return `uses a lookaround, which linear-time matching (RE2) does not support (${message})`;
  }
  return `is not a valid regex for RE2 (${message})`;
}

/**
 * A full RegExp-compatible object (exec with named groups) backed by RE2, for callers that need
 * match positions and captures (the router). Returns null when RE2 is not available, so the
 * caller keeps its own behaviour; throws when RE2 refuses the pattern.
 */
export function compileLinearRegExp(source: string, flags: string): RegExp | null {
  const RE2 = engine.re2;
  if (RE2 === null) return null;
  return new RE2(source, flags);
}
