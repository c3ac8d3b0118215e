/**
 * Kong's route regexes are written for PCRE / Rust's regex crate. This is the one place that turns
 * them into JS RegExps, shared by the config loader (to reject a bad regex with its line) and the
 * router (to compile it), so both accept exactly the same patterns.
 */

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
 * Unicode mode first (closest to the Rust regex engine Kong 3 uses: `.` is one code point); if
 * the pattern is only valid in legacy mode (e.g. `\-` outside a class) that mode is used instead.
 * `anchor` wraps the pattern so it matches at the start only. Throws the engine's SyntaxError.
 */
export function compileKongRegex(t: { source: string; caseInsensitive: boolean }, flags: string, anchor: boolean): RegExp {
  const f = t.caseInsensitive && !flags.includes('i') ? flags + 'i' : flags;
  const source = anchor ? `^(?:${t.source})` : t.source;
  try {
    return new RegExp(source, f + 'u');
  } catch {
    return new RegExp(source, f);
  }
}
