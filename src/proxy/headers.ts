/**
 * Header rules at the proxy boundary. Hop-by-hop headers (RFC 9110 §7.6.1) describe one
 * connection and must not be forwarded; neither may any header the Connection header names.
 */
import { isToken } from './request-validation';

/** lowerTokenName: the name is not an RFC 9110 token (it cannot be sent). */
export const NOT_A_TOKEN = null;

/**
 * The names plugins have passed, lower-cased: plugins set the same few constant names on every
 * request (key-auth four, rate-limiting five), and a Map lookup of a constant (its hash is kept
 * in the string) costs less than reading its characters again. Bounded: names beyond the cap
 * are converted each time.
 */
const LOWER_TOKEN_NAMES = new Map<string, string | null>();
const LOWER_NAMES = new Map<string, string>();
const NAME_CACHE_LIMIT = 1024;

/**
 * A plugin's header name in the lower case the gateway keeps names in, or null when it is not a
 * token. bench/micro/pipeline.ts, "plugin header names".
 */
export function lowerTokenName(name: string): string | null {
  const known = LOWER_TOKEN_NAMES.get(name);
  if (known !== undefined) return known;
  const lower = isToken(name) ? name.toLowerCase() : NOT_A_TOKEN;
  if (LOWER_TOKEN_NAMES.size < NAME_CACHE_LIMIT) LOWER_TOKEN_NAMES.set(name, lower);
  return lower;
}

/** `name` in lower case (see lowerTokenName). */
export function lowerName(name: string): string {
  const known = LOWER_NAMES.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  if (LOWER_NAMES.size < NAME_CACHE_LIMIT) LOWER_NAMES.set(name, lower);
  return lower;
}

/** Request headers we never forward as-is (hop-by-hop, or rebuilt by the proxy). */
export const DROPPED_REQUEST_HEADERS = new Set<string>([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Rebuilt from what the gateway itself saw.
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-forwarded-prefix',
  'x-real-ip',
  'via',
  // Set only by authentication (PluginContext.authenticate); a client must not be able to claim them.
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-custom-id',
  'x-credential-identifier',
  'x-anonymous-consumer',
  'x-consumer-groups',
  // Envoy's XFCC: only the gateway's own mTLS verification sets it (Envoy's SANITIZE default).
  'x-forwarded-client-cert',
]);

// Their `_` spellings too (`transfer_encoding`, `x_forwarded_for`, and `content_length`): a name
// with `_` is a valid token and is forwarded, but CGI-style upstreams map `_` and `-` to the same
// variable, so these would smuggle framing or spoof what the gateway rebuilt. NGINX drops every
// name with `_` by default; we drop only these.
for (const name of [...DROPPED_REQUEST_HEADERS, 'content-length']) if (name.includes('-')) DROPPED_REQUEST_HEADERS.add(name.replaceAll('-', '_'));

/**
 * A byte table built once at load: for each name length (< 32), a bit per first letter a-z of the
 * dropped names with that length. Most forwarded names (accept, user-agent, cookie...) miss it
 * with one array read and one AND, and never reach the Set's string hash.
 */
const DROPPED_BY_LENGTH = new Uint32Array(32);
for (const name of DROPPED_REQUEST_HEADERS) DROPPED_BY_LENGTH[name.length] |= 1 << (name.charCodeAt(0) - 97);

/** `name` is lower-case (uWS lower-cases request header names). */
export function isDroppedRequestHeader(name: string): boolean {
  const len = name.length;
  if (len >= 32) return false;
  const letter = name.charCodeAt(0) - 97;
  // Not a-z: the shift would wrap; such names are never dropped, but let the Set say so.
  if (letter >= 0 && letter < 26 && (DROPPED_BY_LENGTH[len] & (1 << letter)) === 0) return false;
  return DROPPED_REQUEST_HEADERS.has(name);
}

/**
 * Tokens of a Connection header other than close/keep-alive, i.e. extra hop-by-hop header names.
 * Returns null in the common case (no extra names) so callers skip the per-header check.
 */
export function connectionTokens(connection: string): string[] | null {
  if (connection === '' || connection === 'close' || connection === 'keep-alive') return null;
  const tokens: string[] = [];
  for (const raw of connection.split(',')) {
    const t = raw.trim();
    if (t !== '' && t !== 'close' && t !== 'keep-alive') tokens.push(t);
  }
  return tokens.length === 0 ? null : tokens;
}

/** A lower-cased Connection value holds the `close` option (RFC 9112 §9.6). */
export function connectionHasClose(connection: string): boolean {
  if (connection === 'close') return true;
  if (connection.indexOf('close') === -1) return false;
  for (const raw of connection.split(',')) if (raw.trim() === 'close') return true;
  return false;
}

const enum C {
  a = 97, c = 99, d = 100, e = 101, g = 103, k = 107, l = 108, n = 110, p = 112, r = 114, t = 116, u = 117,
}

/**
 * A raw header name, buf[start, end), equals `lower` (a lower-case name), without decoding the
 * bytes. The offsets let callers compare names inside a response head without a subarray each.
 */
export function nameIs(buf: Uint8Array, lower: string, start = 0, end = buf.length): boolean {
  const len = end - start;
  if (len !== lower.length) return false;
  for (let i = 0; i < len; i++) {
    // '-' (0x2d) | 0x20 is still 0x2d, digits and letters fold correctly; anything else differs.
    if ((buf[start + i] | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** buf[start, end) is one of the names of a flat `[name, value, ...]` list of lower-case names. */
export function nameInFlatList(buf: Uint8Array, flat: readonly string[], start = 0, end = buf.length): boolean {
  for (let i = 0; i < flat.length; i += 2) if (nameIs(buf, flat[i], start, end)) return true;
  return false;
}

export const enum ResponseHeaderKind {
  Forward = 0,
  /** Hop-by-hop or framing: uWS writes its own framing and Date. */
  Drop = 1,
  ContentLength = 2,
  Connection = 3,
}

/**
 * Classify an upstream response header name without turning it into a string: most names are
 * forwarded untouched, and converting each to a string would cost an allocation per header.
 */
export function classifyResponseHeader(buf: Uint8Array, start = 0, end = buf.length): ResponseHeaderKind {
  switch (end - start) {
    case 2:
      return nameIs(buf, 'te', start, end) ? ResponseHeaderKind.Drop : ResponseHeaderKind.Forward;
    case 4:
      return nameIs(buf, 'date', start, end) ? ResponseHeaderKind.Drop : ResponseHeaderKind.Forward;
    case 7: {
      const first = buf[start] | 0x20;
      return (first === C.u && nameIs(buf, 'upgrade', start, end)) || (first === C.t && nameIs(buf, 'trailer', start, end))
        ? ResponseHeaderKind.Drop
        : ResponseHeaderKind.Forward;
    }
    case 10:
      if (nameIs(buf, 'connection', start, end)) return ResponseHeaderKind.Connection;
      return nameIs(buf, 'keep-alive', start, end) ? ResponseHeaderKind.Drop : ResponseHeaderKind.Forward;
    case 14:
      return nameIs(buf, 'content-length', start, end) ? ResponseHeaderKind.ContentLength : ResponseHeaderKind.Forward;
    case 16:
      return nameIs(buf, 'proxy-connection', start, end) ? ResponseHeaderKind.Drop : ResponseHeaderKind.Forward;
    case 17:
      return nameIs(buf, 'transfer-encoding', start, end) ? ResponseHeaderKind.Drop : ResponseHeaderKind.Forward;
    default:
      return ResponseHeaderKind.Forward;
  }
}

/** Parse a decimal Content-Length from raw bytes, value[start, end); -1 when malformed. */
export function parseContentLength(value: Uint8Array, start = 0, end = value.length): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = value[i] - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted',
  203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized',
  402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout', 409: 'Conflict',
  410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  418: "I'm a teapot", 421: 'Misdirected Request', 422: 'Unprocessable Content', 425: 'Too Early',
  426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** Status lines are built once per code, not per response. */
const STATUS_LINES: string[] = [];
for (let code = 100; code < 600; code++) STATUS_LINES[code] = `${code} ${REASONS[code] ?? 'Unknown'}`;

export function statusLine(code: number): string {
  return STATUS_LINES[code] ?? `${code} Unknown`;
}

/**
 * The same status lines as ArrayBuffers, for uWS's own responses: uWS reads an ArrayBuffer's
 * bytes where a string argument costs it a UTF-8 conversion (v8::String::Utf8Value, about 400
 * instructions per call by callgrind).
 */
const STATUS_LINE_BYTES: ArrayBuffer[] = [];
const statusEncoder = new TextEncoder();
for (let code = 100; code < 600; code++) STATUS_LINE_BYTES[code] = statusEncoder.encode(STATUS_LINES[code]).buffer as ArrayBuffer;

export function statusLineBytes(code: number): ArrayBuffer | string {
  return STATUS_LINE_BYTES[code] ?? statusLine(code);
}
