/**
 * Query-string helpers for key-auth: find one argument by name, and drop it, reading the query the
 * way nginx's `ngx.req.get_uri_args` does (pairs split on `&`, the name ends at the first `=`,
 * names and values percent-decoded with `+` as a space) without building a map per request.
 */

export const enum ArgState {
  /** No argument with that name. */
  Absent = 0,
  /** Exactly one, with a value (possibly empty): see `found.value`. */
  Value = 1,
  /** Exactly one, without `=` (`?apikey`): nginx gives `true`, which Kong does not take as a key. */
  Bare = 2,
  /** More than one: Kong answers "Duplicate API key found". */
  Duplicate = 3,
}

/**
 * `found.value` is the decoded value from the last `findQueryArg` that returned `ArgState.Value`.
 * One module-level slot instead of a result object per call: lookups are synchronous and the
 * caller reads it right after the call.
 */
export const found = { value: '' };

/**
 * Look for the argument `name` in `query` (no leading `?`). `name` is plain ASCII without `%` or
 * `+` (the schema's header-name pattern), so a pair needs decoding only when it contains `%`.
 */
export function findQueryArg(query: string, name: string): ArgState {
  if (query === '') return ArgState.Absent;
  // Fast exit: the name can only appear encoded if the query has a '%'.
  if (query.indexOf(name) === -1 && query.indexOf('%') === -1) return ArgState.Absent;
  let state = ArgState.Absent;
  const len = query.length;
  let start = 0;
  while (start <= len) {
    let end = query.indexOf('&', start);
    if (end === -1) end = len;
    if (end > start) {
      let nameEnd = query.indexOf('=', start);
      if (nameEnd === -1 || nameEnd > end) nameEnd = end;
      if (argNameIs(query, start, nameEnd, name)) {
        if (state !== ArgState.Absent) return ArgState.Duplicate;
        if (nameEnd === end) {
          state = ArgState.Bare;
        } else {
          state = ArgState.Value;
          found.value = decodeComponent(query.slice(nameEnd + 1, end));
        }
      }
    }
    start = end + 1;
  }
  return state;
}

/** `query` without every `name` argument; the other pairs are kept byte for byte, in order. */
export function removeQueryArg(query: string, name: string): string {
  let out = '';
  let first = true;
  const len = query.length;
  let start = 0;
  while (start <= len) {
    let end = query.indexOf('&', start);
    if (end === -1) end = len;
    let nameEnd = query.indexOf('=', start);
    if (nameEnd === -1 || nameEnd > end) nameEnd = end;
    if (end === start || !argNameIs(query, start, nameEnd, name)) {
      // Empty pairs ("a=1&&b=2") are kept too, except a trailing one left by the loop's end.
      if (!(end === start && end === len)) {
        out = first ? query.slice(start, end) : out + '&' + query.slice(start, end);
        first = false;
      }
    }
    start = end + 1;
  }
  return out;
}

function argNameIs(query: string, start: number, end: number, name: string): boolean {
  if (end - start === name.length && query.startsWith(name, start)) return true;
  const pct = query.indexOf('%', start);
  if (pct === -1 || pct >= end) return false;
  return decodeComponent(query.slice(start, end)) === name;
}

/**
 * Percent-decode as nginx does: `+` is a space, valid `%XX` escapes become bytes, anything else
 * (a lone `%`, `%zz`) is kept as written; the bytes are read as UTF-8.
 */
export function decodeComponent(s: string): string {
  const hasPct = s.indexOf('%') !== -1;
  if (!hasPct && s.indexOf('+') === -1) return s;
  const plus = s.replace(/\+/g, ' ');
  if (!hasPct) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return lenientDecode(plus);
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 65 && c <= 70) return c - 55; // A-F
  if (c >= 97 && c <= 102) return c - 87; // a-f
  return -1;
}

function lenientDecode(s: string): string {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === 37 /* % */ && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]);
      const lo = hexValue(src[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = c;
  }
  return out.toString('utf8', 0, n);
}
