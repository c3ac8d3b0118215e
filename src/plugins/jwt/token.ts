/**
 * Finding the token in a request, in Kong's order: URI parameters, then cookies, then headers.
 * Every place is searched and the distinct non-empty values are collected, so one token sent in
 * two places is fine and two different tokens are "Multiple tokens provided" (Kong 3.x).
 */
import { unescape as unescapeQuery } from 'node:querystring';
import type { RequestHead } from '../api';

export const enum Found {
  /** No token anywhere: "Unauthorized". */
  None = 0,
  /** Two different tokens (two places, or one parameter given twice): "Multiple tokens provided". */
  Multiple = 1,
  /** `?jwt` with no `=`: Kong's query parser yields `true`, not a string: "Unrecognizable token". */
  Unrecognizable = 2,
}

/** `Bearer <token>` anywhere in the value, as Kong's `\s*[Bb]earer\s+(.+)`. */
const BEARER = /[Bb]earer\s+(.+)/;

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 11 || c === 12 || c === 13;
}

function bearerToken(value: string): string | null {
  // Fast path for the usual `Bearer <token>`; the regex handles everything else.
  if (value.length > 7 && value.charCodeAt(6) === 32 && !isSpace(value.charCodeAt(7)) && (value.startsWith('Bearer') || value.startsWith('bearer'))) {
    return value.slice(7);
  }
  const m = BEARER.exec(value);
  return m === null ? null : m[1];
}

function decodeQueryPart(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  // querystring.unescape never throws: a malformed escape is kept as written, as nginx does.
  return unescapeQuery(s.replace(/\+/g, ' '));
}

/** Where to look, resolved once per plugin instance. */
export class TokenFinder {
  readonly #params: readonly string[];
  /** Lower-cased: nginx's $cookie_<name> matches names case-insensitively. */
  readonly #cookies: readonly string[];
  /** Lower-cased header names, and whether each accepts a bare value (every one but Authorization). */
  readonly #headers: readonly string[];
  readonly #headerTakesRaw: readonly boolean[];

  // Per-request scratch state. onRequest is synchronous, so one set per instance is enough.
  #token: string | null = null;
  #multiple = false;
  #bare = false;

  constructor(uriParamNames: readonly string[], cookieNames: readonly string[], headerNames: readonly string[]) {
    this.#params = [...new Set(uriParamNames)];
    this.#cookies = [...new Set(cookieNames.map((n) => n.toLowerCase()))];
    this.#headers = [...new Set(headerNames.map((n) => n.toLowerCase()))];
    this.#headerTakesRaw = this.#headers.map((n) => n !== 'authorization');
  }

  /** The one token of the request, or why there is none. */
  find(req: RequestHead): string | Found {
    this.#token = null;
    this.#multiple = false;
    this.#bare = false;
    if (this.#params.length > 0 && req.query !== '') this.#scanQuery(req.query);
    if (this.#cookies.length > 0) this.#scanCookies(req);
    for (let i = 0; i < this.#headers.length; i++) {
      const value = req.header(this.#headers[i]);
      if (value === undefined) continue;
      const t = bearerToken(value);
      if (t !== null) this.#add(t);
      else if (this.#headerTakesRaw[i]) this.#add(value.trim());
    }
    if (this.#multiple || (this.#bare && this.#token !== null)) return Found.Multiple;
    if (this.#token !== null) return this.#token;
    return this.#bare ? Found.Unrecognizable : Found.None;
  }

  #add(token: string): void {
    if (token === '') return;
    if (this.#token === null) this.#token = token;
    else if (this.#token !== token) this.#multiple = true;
  }

  #scanQuery(query: string): void {
    const params = this.#params;
    let start = 0;
    while (start <= query.length) {
      let end = query.indexOf('&', start);
      if (end < 0) end = query.length;
      if (end > start) {
        const eq = query.indexOf('=', start);
        const hasValue = eq >= 0 && eq < end;
        const name = decodeQueryPart(query.slice(start, hasValue ? eq : end));
        for (let i = 0; i < params.length; i++) {
          if (params[i] !== name) continue;
          if (hasValue) this.#add(decodeQueryPart(query.slice(eq + 1, end)));
          else this.#bare = true;
          break;
        }
      }
      start = end + 1;
    }
  }

  #scanCookies(req: RequestHead): void {
    const cookies = this.#cookies;
    for (let c = 0; c < cookies.length; c++) {
      const value = firstCookie(req, cookies[c]);
      if (value !== null) this.#add(value);
    }
  }
}

/** The first cookie named `lowerName` over all Cookie headers, as nginx's $cookie_<name>. */
function firstCookie(req: RequestHead, lowerName: string): string | null {
  const names = req.headerNames;
  for (let h = 0; h < names.length; h++) {
    if (names[h] !== 'cookie') continue;
    const header = req.headerValues[h];
    let start = 0;
    while (start < header.length) {
      let end = header.indexOf(';', start);
      if (end < 0) end = header.length;
      let s = start;
      while (s < end && isSpace(header.charCodeAt(s))) s++;
      const eq = header.indexOf('=', s);
      if (eq >= 0 && eq < end && eq - s === lowerName.length && header.slice(s, eq).toLowerCase() === lowerName) {
        return header.slice(eq + 1, end).trim();
      }
      start = end + 1;
    }
  }
  return null;
}
