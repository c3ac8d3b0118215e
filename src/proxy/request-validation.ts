/**
 * What the proxy checks in a request head before it routes or forwards anything: the HTTP/1.1
 * rules (RFC 9112, RFC 9110, RFC 3986) that uWS leaves to us, and the request-smuggling families
 * that only a strict reading stops. uWS frames the body itself, so a head whose framing we would
 * read differently from uWS, or from any server behind us, is refused and its connection closed.
 *
 * Every function is pure, allocation-free on the common path, and never throws: the proxy turns a
 * verdict into one of the error table's answers (errors.ts).
 */
import { TCHAR } from '../upstream/parser-kernel';

/** What the Transfer-Encoding fields of a request say (RFC 9112 §6.1). */
export const enum TransferCoding {
  /** No Transfer-Encoding field. */
  None = 0,
  /** Exactly one field whose value is `chunked` (names of codings are case-insensitive). */
  Chunked = 1,
  /** Anything else: another coding, a list, an empty value, or the field twice. We do not guess. */
  Unsupported = 2,
}

/** The verdict after one more Transfer-Encoding field with `value` (uWS already trimmed its OWS). */
export function addTransferEncoding(current: TransferCoding, value: string): TransferCoding {
  if (current !== TransferCoding.None) return TransferCoding.Unsupported;
  return value.length === 7 && value.toLowerCase() === 'chunked' ? TransferCoding.Chunked : TransferCoding.Unsupported;
}

/** Content-Length is 1*DIGIT (RFC 9110 §8.6); 15 digits keep it an exact JS number. -2 = invalid. */
export function parseRequestContentLength(value: string): number {
  const len = value.length;
  if (len === 0 || len > 15) return -2;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -2;
    n = n * 10 + d;
  }
  return n;
}

/**
 * A method or a field name is a token (RFC 9110 §5.6.2: tchar, the response parser's table).
 * `GET:` or `G\x01T` is not, and a parser behind us may read it otherwise.
 */
export function isToken(s: string): boolean {
  const len = s.length;
  if (len === 0) return false;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * A control byte (0x00-0x1F), a space or DEL in the request target, path or query: never valid
 * there (RFC 9112 §3.2 builds the target from RFC 3986 characters only), and NGINX answers 400 too.
 */
export function hasControlByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

const PERCENT = 37;
const DOT = 46;
const SLASH = 47;

/** `.` or its percent-encoding `%2e`/`%2E` at `i`: how many characters it takes, or 0. */
function dotAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === DOT) return 1;
  if (c === PERCENT && s.charCodeAt(i + 1) === 50 /* 2 */ && (s.charCodeAt(i + 2) | 0x20) === 101 /* e */) return 3;
  return 0;
}

/**
 * The raw path's `..` segments (`.` or `%2e`, in any mix) climb above the root: `/../x`,
 * `/a/../../x`, `/%2e%2e/x`. Normalizing would quietly clamp these at `/`; a request that tries it is
 * probing for a path traversal, and gets a 400 as NGINX gives. A path without a dot costs one scan.
 */
export function climbsAboveRoot(raw: string): boolean {
  if (raw.indexOf('.') === -1 && raw.indexOf('%2') === -1) return false;
  const len = raw.length;
  let depth = 0;
  let i = 0;
  while (i < len) {
    // raw starts with '/', and every iteration starts just after a '/'.
    if (raw.charCodeAt(i) === SLASH) i++;
    const start = i;
    let dots = 0;
    let onlyDots = true;
    while (i < len && raw.charCodeAt(i) !== SLASH) {
      const d = dotAt(raw, i);
      if (d === 0) {
        onlyDots = false;
        i++;
      } else {
        dots++;
        i += d;
      }
    }
    if (i === start) continue; // empty segment (`//`)
    if (onlyDots && dots === 1) continue;
    if (onlyDots && dots === 2) {
      if (--depth < 0) return true;
      continue;
    }
    depth++;
  }
  return false;
}

/** `%00` in the path: a NUL that a C upstream would cut the path at. */
export function hasEncodedNul(raw: string): boolean {
  return raw.indexOf('%00') !== -1;
}

/** unreserved / sub-delims of RFC 3986 §2: what a reg-name may hold besides `%XX`. */
const REG_NAME = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=") REG_NAME[c.charCodeAt(0)] = 1;
const IPV6_LITERAL = new Uint8Array(128);
for (const c of '0123456789abcdefABCDEF:.') IPV6_LITERAL[c.charCodeAt(0)] = 1;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
}

/**
 * The Host header is `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a reg-name, an
 * IPv4 address or a bracketed IPv6 literal, then an optional decimal port 0-65535. No userinfo
 * (`user@host`), no path, no `<>`, no space: such a value never reaches the router or
 * X-Forwarded-Host. An empty Host is refused as well; HTTP/1.1 requests have an authority.
 */
export function isValidHostHeader(h: string): boolean {
  const len = h.length;
  if (len === 0) return false;
  let i = 0;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const close = h.indexOf(']');
    if (close < 3) return false;
    for (i = 1; i < close; i++) {
      const c = h.charCodeAt(i);
      if (c >= 128 || IPV6_LITERAL[c] === 0) return false;
    }
    i = close + 1;
  } else {
    for (; i < len; i++) {
      const c = h.charCodeAt(i);
      if (c === 58 /* : */) break;
      if (c === PERCENT) {
        if (!isHex(h.charCodeAt(i + 1)) || !isHex(h.charCodeAt(i + 2))) return false;
        i += 2;
        continue;
      }
      if (c >= 128 || REG_NAME[c] === 0) return false;
    }
    if (i === 0) return false;
  }
  if (i === len) return true;
  if (h.charCodeAt(i) !== 58) return false;
  const digits = len - i - 1;
  if (digits < 1 || digits > 5) return false;
  let port = 0;
  for (let k = i + 1; k < len; k++) {
    const d = h.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return false;
    port = port * 10 + d;
  }
  return port <= 65535;
}

/** Characters uWS hands over that say a header value's bytes are not all plain ASCII. */
const NOT_PLAIN = /[^\x00-\x7e]/;

/** A header value holds DEL, or a byte at or above 0x80. Checked per header value: one regex test. */
export function needsValueCheck(value: string): boolean {
  return NOT_PLAIN.test(value);
}

/**
 * Whether a value that `needsValueCheck` flagged can be forwarded exactly. uWS decodes header
 * values as UTF-8, so a value it could decode comes back byte for byte as its UTF-8 encoding
 * (RequestContext sends it so); bytes that were not UTF-8 arrive as U+FFFD and can no longer be
 * restored, and DEL is not a field-vchar (RFC 9110 §5.5). Both are refused rather than altered.
 */
export function isForwardableValue(value: string): boolean {
  return value.indexOf('\x7f') === -1 && value.indexOf('\ufffd') === -1;
}
