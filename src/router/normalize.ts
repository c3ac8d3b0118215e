/**
 * Request path normalization, as Kong 3.x does it (kong/tools/uri.lua `normalize` and `escape`).
 *
 * The router matches on the normalized path, so two spellings of one resource (`/a/./b`, `/a//b`,
 * `/%61/b`) reach the same route and a prefix rule cannot be bypassed with dot segments or
 * percent-encoding. Reserved characters stay encoded because decoding them changes the meaning of
 * the path (`/a%2Fb` is one segment, `/a/b` is two); `%25` stays encoded too (Kong lists `%` as
 * reserved) so that `escapePath` never turns `%2541` into `%41` and the upstream never decodes twice.
 *
 * Both functions work on JS strings whose non-ASCII characters are already Unicode characters
 * (uWS hands the URL over as UTF-8-decoded text); percent-decoded bytes are decoded as UTF-8.
 */

const PERCENT = 37; // %
const DOT = 46; // .
const SLASH = 47; // /

/** ASCII bytes that stay percent-encoded when normalizing (Kong's RESERVED_CHARS, `%` included). */
const KEEP_ENCODED = asciiTable("!#$&'()*+,/:;=?@[]%");

/** ASCII characters `escapePath` leaves alone: RFC 3986 pchar plus `/`. */
const SAFE = asciiTable("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:/@");

const HEX_UPPER = '0123456789ABCDEF';

/** `%XX` for every byte, built once so escaping never formats numbers. */
const PCT: readonly string[] = Array.from({ length: 256 }, (_, b) => '%' + HEX_UPPER[b >> 4] + HEX_UPPER[b & 15]);

function asciiTable(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** Value of one hex digit, or -1 (NaN from an out-of-range charCodeAt lands here too). */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Normalizes a request path (no query string). Returns `null` when the path cannot be
 * normalized safely (a `%` not followed by two hex digits, or percent-encoded bytes that are
 * not valid UTF-8), so the proxy can answer 400 instead of guessing. Never throws.
 *
 * Returns `raw` itself when it contains no `%`, no `.` and no `//`: the common case allocates nothing.
 */
export function normalizePath(raw: string): string | null {
  const len = raw.length;
  let hasPercent = false;
  let hasDot = false;
  let hasDoubleSlash = false;
  let prev = 0;
  for (let i = 0; i < len; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT) hasPercent = true;
    else if (c === DOT) hasDot = true;
    else if (c === SLASH && prev === SLASH) hasDoubleSlash = true;
    prev = c;
  }
  if (!hasPercent && !hasDot && !hasDoubleSlash) return raw;

  let path = raw;
  if (hasPercent) {
    const decoded = percentDecode(raw);
    if (decoded === null) return null;
    path = decoded;
  }
  // Checked after decoding on purpose: `/%2e%2e/` must be treated as `/../` (as Kong does).
  if (!needsSegmentRewrite(path)) return path;
  return removeDotSegments(path);
}

/** Decodes %XX except reserved characters (whose hex is upper-cased); null on malformed input. */
function percentDecode(raw: string): string | null {
  const len = raw.length;
  let out = '';
  let copied = 0;
  let i = raw.indexOf('%');
  while (i !== -1) {
    const h1 = hexValue(raw.charCodeAt(i + 1));
    const h2 = hexValue(raw.charCodeAt(i + 2));
    if (h1 < 0 || h2 < 0) return null;
    const b = (h1 << 4) | h2;
    let piece: string;
    let next = i + 3;
    if (b < 0x80) {
      piece = KEEP_ENCODED[b] === 1 ? PCT[b] : String.fromCharCode(b);
    } else {
      // A multi-byte UTF-8 sequence must be entirely percent-encoded; a lead byte followed by a
      // raw character is not valid UTF-8 and is rejected rather than passed through.
      let need: number;
      let cp: number;
      if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x07;
      } else {
        return null;
      }
      for (let k = 0; k < need; k++) {
        if (raw.charCodeAt(next) !== PERCENT) return null;
        const c1 = hexValue(raw.charCodeAt(next + 1));
        const c2 = hexValue(raw.charCodeAt(next + 2));
        if (c1 < 0 || c2 < 0) return null;
        const cb = (c1 << 4) | c2;
        if ((cb & 0xc0) !== 0x80) return null;
        // Second-byte limits reject overlong forms, UTF-16 surrogates and code points > U+10FFFF.
        if (k === 0) {
          if (b === 0xe0 && cb < 0xa0) return null;
          if (b === 0xed && cb > 0x9f) return null;
          if (b === 0xf0 && cb < 0x90) return null;
          if (b === 0xf4 && cb > 0x8f) return null;
        }
        cp = (cp << 6) | (cb & 0x3f);
        next += 3;
      }
      piece = String.fromCodePoint(cp);
    }
    out += raw.slice(copied, i) + piece;
    copied = next;
    i = raw.indexOf('%', next);
  }
  return copied === 0 ? raw : copied === len ? out : out + raw.slice(copied);
}

/** True when the path has a `.`/`..` segment or an empty segment (`//`): the only cases Kong's loop rewrites. */
function needsSegmentRewrite(s: string): boolean {
  const len = s.length;
  let segStart = 0;
  for (let i = 0; i <= len; i++) {
    if (i < len && s.charCodeAt(i) !== SLASH) continue;
    const segLen = i - segStart;
    if (segLen === 1 && s.charCodeAt(segStart) === DOT) return true;
    if (segLen === 2 && s.charCodeAt(segStart) === DOT && s.charCodeAt(segStart + 1) === DOT) return true;
    if (segLen === 0 && i > 0 && i < len) return true;
    segStart = i + 1;
  }
  return false;
}

/**
 * RFC 3986 5.2.4 plus `//` merging, written as Kong's loop so edge cases (`/..` at the root,
 * relative inputs, `/.hidden`) give byte-identical results. Only reached when a rewrite is needed.
 */
function removeDotSegments(input: string): string {
  const out: string[] = [];
  let uri = input;
  while (uri.length > 0) {
    const c1 = uri.charCodeAt(0);
    const c2 = uri.charCodeAt(1);
    const c3 = uri.charCodeAt(2);
    const c4 = uri.charCodeAt(3);
    if (uri === '/.') {
      uri = '/';
    } else if (uri === '/..') {
      uri = '/';
      out.pop();
    } else if (uri === '.' || uri === '..') {
      uri = '';
    } else if (c1 === DOT && c2 === DOT && c3 === SLASH) {
      uri = uri.slice(3);
    } else if (c1 === DOT && c2 === SLASH) {
      uri = uri.slice(2);
    } else if (c1 === SLASH && c2 === DOT && c3 === SLASH) {
      uri = uri.slice(2);
    } else if (c1 === SLASH && c2 === DOT && c3 === DOT && c4 === SLASH) {
      uri = uri.slice(3);
      out.pop();
    } else if (c1 === SLASH && c2 === SLASH) {
      uri = uri.slice(1);
    } else {
      const next = uri.indexOf('/', 1);
      if (next === -1) {
        out.push(uri);
        uri = '';
      } else {
        out.push(uri.slice(0, next));
        uri = uri.slice(next);
      }
    }
  }
  return out.length === 1 ? out[0] : out.join('');
}

/**
 * Makes a normalized path safe for the upstream request line: percent-encodes (UTF-8, upper-case
 * hex) every character outside RFC 3986 pchar and `/`, leaving existing `%XX` triplets alone.
 * Returns its input unchanged when nothing needs escaping. Never throws: a lone UTF-16 surrogate
 * (impossible from `normalizePath`) is sent as U+FFFD.
 */
export function escapePath(normalized: string): string {
  const len = normalized.length;
  let i = 0;
  for (; i < len; i++) {
    const c = normalized.charCodeAt(i);
    if (c < 128 && SAFE[c] === 1) continue;
    if (c === PERCENT && isTriplet(normalized, i)) {
      i += 2;
      continue;
    }
    break;
  }
  if (i === len) return normalized;

  let out = normalized.slice(0, i);
  let copied = i;
  for (; i < len; i++) {
    const c = normalized.charCodeAt(i);
    if (c < 128 && SAFE[c] === 1) continue;
    if (c === PERCENT && isTriplet(normalized, i)) {
      i += 2;
      continue;
    }
    if (copied < i) out += normalized.slice(copied, i);
    if (c < 0x80) {
      out += PCT[c];
    } else if (c < 0x800) {
      out += PCT[0xc0 | (c >> 6)] + PCT[0x80 | (c & 0x3f)];
    } else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(normalized.charCodeAt(i + 1))) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (normalized.charCodeAt(i + 1) - 0xdc00);
      out +=
        PCT[0xf0 | (cp >> 18)] +
        PCT[0x80 | ((cp >> 12) & 0x3f)] +
        PCT[0x80 | ((cp >> 6) & 0x3f)] +
        PCT[0x80 | (cp & 0x3f)];
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += '%EF%BF%BD';
    } else {
      out += PCT[0xe0 | (c >> 12)] + PCT[0x80 | ((c >> 6) & 0x3f)] + PCT[0x80 | (c & 0x3f)];
    }
    copied = i + 1;
  }
  return copied < len ? out + normalized.slice(copied) : out;
}

function isTriplet(s: string, i: number): boolean {
  return hexValue(s.charCodeAt(i + 1)) >= 0 && hexValue(s.charCodeAt(i + 2)) >= 0;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
