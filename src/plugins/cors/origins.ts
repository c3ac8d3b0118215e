/**
 * Kong's cors `origins`: which request Origins are allowed, and the value to send back.
 *
 * As Kong: "*" allows every origin; an entry made only of [A-Za-z0-9.:/-] is a plain origin,
 * compared after normalization (scheme://host[:port], default port dropped); anything else is a
 * regex that must match the whole value (Kong appends "$" and strips a leading "^", then matches
 * anchored). A regex entry without ":" is matched against the Origin's host only, one with ":"
 * against the normalized origin, as Kong's `by_host` rule does. The allowed answer is the
 * normalized request origin.
 *
 * Regexes come from config and run against client input, so they are compiled with RE2
 * (src/util/safe-regex.ts): matching is linear-time whatever the pattern, and patterns RE2 cannot
 * run (backreferences, lookarounds) are config errors. Where RE2 is not available, the backtracking
 * fallback accepts only patterns that pass regex-guard.ts. In both cases the subject is capped at
 * MAX_ORIGIN_LENGTH and each distinct Origin's decision is kept in a bounded LRU: a pattern runs
 * once per distinct origin, not per request.
 */
import { LRUCache } from 'lru-cache';
import { compileUntrustedRegex, type UntrustedRegex } from '../../util/safe-regex';
import { regexProblem } from './regex-guard';

/** Longest Origin considered (scheme + a 253-character host + port). Longer ones are refused. */
export const MAX_ORIGIN_LENGTH = 270;
/** Distinct origins whose decision is remembered, per plugin instance. */
const CACHE_SIZE = 1000;
const PLAIN_ORIGIN = /^[A-Za-z0-9.:/-]+$/;

interface Normalized {
  /** scheme://host[:port], lower-case, default port dropped; the input itself when it has no host. */
  readonly origin: string;
  readonly host: string;
}

/** Kong's normalize_origin, lower-casing scheme and host (browsers send them lower-case anyway). */
export function normalizeOrigin(value: string): Normalized {
  const sep = value.indexOf('://');
  if (sep <= 0) return { origin: value, host: value };
  const scheme = value.slice(0, sep).toLowerCase();
  let rest = value.slice(sep + 3);
  for (const stop of ['/', '?', '#']) {
    const at = rest.indexOf(stop);
    if (at !== -1) rest = rest.slice(0, at);
  }
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = rest.slice(at + 1);
  let host = rest;
  let port = '';
  if (rest.charCodeAt(0) === 91 /* [ */) {
    const close = rest.indexOf(']');
    if (close !== -1) {
      host = rest.slice(0, close + 1);
      if (rest.charCodeAt(close + 1) === 58 /* : */) port = rest.slice(close + 2);
    }
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon !== -1) {
      host = rest.slice(0, colon);
      port = rest.slice(colon + 1);
    }
  }
  host = host.toLowerCase();
  if (host === '') return { origin: value, host: value };
  if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) port = '';
  return { origin: `${scheme}://${host}${port === '' ? '' : ':' + port}`, host };
}

interface OriginRegex {
  readonly re: UntrustedRegex;
  /** Kong's by_host: the entry has no ":", so it is matched against the host alone. */
  readonly byHost: boolean;
}

export class OriginMatcher {
  /** Every origin is allowed: no list, an empty list, or "*" in it. */
  readonly wildcard: boolean;
  readonly #exact: ReadonlySet<string>;
  readonly #regexes: readonly OriginRegex[];
  /** Raw Origin -> allowed value, or '' when refused. */
  readonly #decisions = new LRUCache<string, string>({ max: CACHE_SIZE });

  private constructor(wildcard: boolean, exact: ReadonlySet<string>, regexes: readonly OriginRegex[]) {
    this.wildcard = wildcard;
    this.#exact = exact;
    this.#regexes = regexes;
  }

  /** Throws an Error naming the first bad entry as `config.origins[i]`. */
  static compile(origins: readonly string[] | null): OriginMatcher {
    if (origins === null || origins.length === 0 || origins.includes('*')) return new OriginMatcher(true, new Set(), []);
    const exact = new Set<string>();
    const regexes: OriginRegex[] = [];
    origins.forEach((entry, i) => {
      if (PLAIN_ORIGIN.test(entry)) {
        exact.add(normalizeOrigin(entry).origin);
        return;
      }
      regexes.push({ re: compileOriginRegex(entry, `config.origins[${i}]`), byHost: !entry.includes(':') });
    });
    return new OriginMatcher(false, exact, regexes);
  }

  /** The value for Access-Control-Allow-Origin when `origin` is allowed, else null. */
  match(origin: string): string | null {
    let decision = this.#decisions.get(origin);
    if (decision === undefined) {
      decision = this.#decide(origin);
      this.#decisions.set(origin, decision);
    }
    return decision === '' ? null : decision;
  }

  #decide(origin: string): string {
    if (origin.length > MAX_ORIGIN_LENGTH) return '';
    const n = normalizeOrigin(origin);
    if (this.#exact.has(n.origin)) return n.origin;
    for (const { re, byHost } of this.#regexes) if (re.test(byHost ? n.host : n.origin)) return n.origin;
    return '';
  }
}

/**
 * Anchor a Kong origin regex to the whole subject and compile it with RE2 (or, without RE2, the
 * guarded RegExp fallback); refuse what does not compile or, on the fallback, is unsafe.
 */
function compileOriginRegex(entry: string, label: string): UntrustedRegex {
  const quoted = `"${entry}"`;
  try {
    // Syntax check only: constructing a RegExp never runs it.
    new RegExp(entry);
  } catch (err) {
    throw new Error(`${label}: ${quoted} is neither a plain origin nor a valid regex (${(err as Error).message})`);
  }
  let body = entry;
  if (body.startsWith('^')) body = body.slice(1);
  if (body.endsWith('$') && !isEscaped(body, body.length - 1)) body = body.slice(0, -1);
  try {
    return compileUntrustedRegex(`^(?:${body})$`, '', { fallbackGuard: () => regexProblem(body, MAX_ORIGIN_LENGTH) });
  } catch (err) {
    throw new Error(`${label}: regex ${quoted} ${(err as Error).message}`);
  }
}

function isEscaped(s: string, index: number): boolean {
  let backslashes = 0;
  for (let i = index - 1; i >= 0 && s[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}
