/**
 * The pieces of Kong's hmac-auth that are pure functions (kong/plugins/hmac-auth/access.lua):
 * reading the Authorization header's parameters, the signing string, the HMAC, and NGINX's
 * HTTP-date parser. Kept apart from the plugin so each rule has its own tests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RequestHead } from '../api';
import type { HmacAlgorithm } from './schema';

export interface HmacParams {
  username: string;
  algorithm: string;
  headers: string[];
  signature: string;
}

/**
 * Kong's pattern: `hmac username="...", algorithm="...", headers="...", signature="..."`, with the
 * scheme in either case, anywhere in the value. Each value is greedy as in Kong's PCRE pattern
 * (the last `", algorithm="` ends the username, and so on), which this reproduces by searching
 * each separator from the end rather than with a backtracking regex on client input.
 */
export function parseAuthorization(value: string | undefined): HmacParams | null {
  if (value === undefined) return null;
  const scheme = /[Hh]mac\s*username="/.exec(value);
  if (scheme === null) return null;
  const rest = value.slice(scheme.index + scheme[0].length);
  const sig = /",\s*signature="/g;
  // signature: from the last `", signature="` to the last `"` after it.
  let sigMatch: RegExpExecArray | null = null;
  for (let m = sig.exec(rest); m !== null; m = sig.exec(rest)) sigMatch = m;
  if (sigMatch === null) return null;
  const tail = rest.slice(sigMatch.index + sigMatch[0].length);
  const endQuote = tail.lastIndexOf('"');
  if (endQuote <= 0) return null;
  const signature = tail.slice(0, endQuote);
  const head = rest.slice(0, sigMatch.index);
  const hdr = lastSeparator(head, /",\s*headers="/g);
  if (hdr === null) return null;
  const headers = head.slice(hdr.end);
  const beforeHeaders = head.slice(0, hdr.start);
  const alg = lastSeparator(beforeHeaders, /",\s*algorithm="/g);
  if (alg === null) return null;
  const username = beforeHeaders.slice(0, alg.start);
  const algorithm = beforeHeaders.slice(alg.end);
  if (username === '' || algorithm === '' || headers === '') return null;
  return { username, algorithm, headers: headers.split(' '), signature };
}

function lastSeparator(text: string, re: RegExp): { start: number; end: number } | null {
  let found: { start: number; end: number } | null = null;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    // A value needs at least one character before the separator (`.+` in Kong's pattern).
    if (m.index > 0) found = { start: m.index, end: m.index + m[0].length };
  }
  return found;
}

/** kong.request.get_header: case-insensitive, `_` read as `-`, the first value. */
function headerValue(req: RequestHead, name: string): string | undefined {
  return req.header(name.toLowerCase().replace(/_/g, '-'));
}

/**
 * Kong's signing string: for each listed header, `name: value`; a header the request lacks is
 * `name:`, except `@request-target` (`@request-target: <method lower-cased> <path?query>`) and
 * `request-line` (`<METHOD> <path?query> HTTP/1.1`). Lines joined by `\n`.
 */
export function signingString(req: RequestHead, headers: readonly string[]): string {
  const uri = req.query === '' ? req.rawPath : req.rawPath + '?' + req.query;
  const lines: string[] = [];
  for (const name of headers) {
    const value = headerValue(req, name);
    if (value !== undefined) lines.push(name + ': ' + value);
    else if (name === '@request-target') lines.push(name + ': ' + req.method.toLowerCase() + ' ' + uri);
    // uWS speaks HTTP/1.1 only.
    else if (name === 'request-line') lines.push(req.method + ' ' + uri + ' HTTP/1.1');
    else lines.push(name + ':');
  }
  return lines.join('\n');
}

const DIGEST: Readonly<Record<HmacAlgorithm, string>> = {
  'hmac-sha1': 'sha1',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The signature (base64, as sent) matches the HMAC of the signing string; constant time. */
export function signatureMatches(algorithm: HmacAlgorithm, secret: string, data: string, signature: string): boolean {
  // Kong's ngx.decode_base64 refuses malformed input; Buffer.from would skip what it cannot read.
  if (!BASE64.test(signature)) return false;
  const expected = createHmac(DIGEST[algorithm], secret).update(data).digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const RFC1123 = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850 = /^[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Unix seconds of an HTTP date in the three forms NGINX's `ngx.parse_http_time` reads
 * (RFC 1123, RFC 850, asctime); null for anything else.
 */
export function parseHttpDate(value: string): number | null {
  let day: number, month: string, year: number, h: number, m: number, s: number;
  let x = RFC1123.exec(value);
  if (x !== null) [day, month, year, h, m, s] = [+x[1], x[2], +x[3], +x[4], +x[5], +x[6]];
  else if ((x = RFC850.exec(value)) !== null) {
    const yy = +x[3];
    [day, month, year, h, m, s] = [+x[1], x[2], yy < 70 ? 2000 + yy : 1900 + yy, +x[4], +x[5], +x[6]];
  } else if ((x = ASCTIME.exec(value)) !== null) [month, day, h, m, s, year] = [x[1], +x[2].trim(), +x[3], +x[4], +x[5], +x[6]];
  else return null;
  const mon = MONTHS[month];
  if (mon === undefined || day < 1 || day > 31 || h > 23 || m > 59 || s > 59) return null;
  return Date.UTC(year, mon, day, h, m, s) / 1000;
}
