/**
 * Kong's proxy-cache key: the SHA-256 (hex) of
 *   `<prefix>|<method>|<request line up to the query>|<query part>|<header part>`
 * where the prefix is `<consumer id>:<route id>`, the route id alone, or `default`. Kong takes
 * the request line (`GET /path?x HTTP/1.1`) and cuts it at `?`: a request without a query keeps
 * ` HTTP/1.1` in its key, one with a query does not. We reproduce that so keys match Kong's.
 *
 * Query part: the configured `vary_query_params` (all of them, sorted, when none are set) as
 * `name=value` joined by `:`; a repeated name sorts its values and joins them with `,`; a name
 * without `=` appears bare. Header part: the configured `vary_headers` only, the same way.
 */
import { createHash } from 'node:crypto';
import type { RequestHead } from '../api';

/** Decoded query arguments as Kong's get_query returns them: `true` for a bare name. */
export type QueryArgs = Map<string, string[] | true>;

export function parseQueryArgs(query: string): QueryArgs {
  const args: QueryArgs = new Map();
  if (query === '') return args;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq === -1 ? part : part.slice(0, eq));
    if (name === '') continue;
    if (eq === -1) {
      if (!args.has(name)) args.set(name, true);
      continue;
    }
    const value = decodeComponent(part.slice(eq + 1));
    const prior = args.get(name);
    if (prior === undefined || prior === true) args.set(name, [value]);
    else prior.push(value);
  }
  return args;
}

function decodeComponent(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

function part(name: string, value: string[] | true | undefined): string | null {
  if (value === undefined) return null;
  if (value === true) return name;
  return name + '=' + (value.length === 1 ? value[0] : [...value].sort().join(','));
}

export function queryKeyPart(args: QueryArgs, vary: readonly string[] | null): string {
  const names = vary === null || vary.length === 0 ? [...args.keys()].sort() : vary;
  const out: string[] = [];
  for (const name of names) {
    const p = part(name, args.get(name));
    if (p !== null) out.push(p);
  }
  return out.join(':');
}

export function headerKeyPart(head: RequestHead, vary: readonly string[] | null): string {
  if (vary === null || vary.length === 0) return '';
  const out: string[] = [];
  for (const name of vary) {
    const lower = name.toLowerCase();
    const values: string[] = [];
    for (let i = 0; i < head.headerNames.length; i++) if (head.headerNames[i] === lower) values.push(head.headerValues[i]);
    if (values.length > 0) out.push(part(name, values)!);
  }
  return out.join(':');
}

export function cacheKeyPrefix(consumerId: string | null, routeId: string | null): string {
  if (consumerId !== null && routeId !== null) return consumerId + ':' + routeId;
  return routeId ?? 'default';
}

/** The request line as Kong's `ngx.var.request`, cut at the query (see above). */
export function requestLineUri(head: RequestHead, ignoreCase: boolean): string {
  const line = head.query === '' ? `${head.method} ${head.rawPath} HTTP/1.1` : `${head.method} ${head.rawPath}`;
  return ignoreCase ? line.toLowerCase() : line;
}

export function buildCacheKey(prefix: string, method: string, uri: string, queryPart: string, headerPart: string): string {
  return createHash('sha256').update(`${prefix}|${method}|${uri}|${queryPart}|${headerPart}`).digest('hex');
}
