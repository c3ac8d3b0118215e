/**
 * Kong's route regexes are written for PCRE / Rust's regex crate. This is the one place that turns
 * them into JS RegExps, shared by the config loader (to reject a bad regex with its line) and the
 * router (to compile it), so both accept exactly the same patterns.
 */
import { compileLinearRegExp } from '../util/safe-regex';

/** Rust/PCRE spellings that JS spells differently: `(?P<name>` and a leading `(?i)`. */
export function translateRegex(source: string): { source: string; caseInsensitive: boolean } {
  let s = source.replace(/\(\?P</g, '(?<');
  let caseInsensitive = false;
  if (s.startsWith('(?i)')) {
    s = s.slice(4);
    caseInsensitive = true;
  }
  return { source: s, caseInsensitive };
}

/**
 * Route and header regexes come from config and run on every matching request, so they are
 * compiled with RE2 (linear time, like the Rust regex crate Kong 3 uses): no pattern can stall a
 * worker, and patterns RE2 cannot run (backreferences, lookarounds) are config errors. Only when
 * RE2 is not installed does this fall back to V8's engine: Unicode mode first (`.` is one code
 * point), then legacy mode (e.g. `\-` outside a class). `anchor` wraps the pattern so it matches
 * at the start only. Throws the engine's error.
 */
export function compileKongRegex(t: { source: string; caseInsensitive: boolean }, flags: string, anchor: boolean): RegExp {
  const f = t.caseInsensitive && !flags.includes('i') ? flags + 'i' : flags;
  const source = anchor ? `^(?:${t.source})` : t.source;
  const linear = compileLinearRegExp(source, f + 'u');
  if (linear !== null) return linear;
  try {
    return new RegExp(source, f + 'u');
  } catch {
    return new RegExp(source, f);
  }
}
