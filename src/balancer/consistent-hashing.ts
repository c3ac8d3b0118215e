/**
 * Consistent hashing with Kong's `hash_on` / `hash_fallback`: the request's consumer, client IP,
 * a header, a cookie, the path or a query argument picks a point on the ring (hash-ring.ts).
 * When the primary input is empty the fallback is used; when both are, the pick falls back to
 * round-robin (as Kong's `hash_on: none` does). Cookie mode sets the cookie when the client has
 * none, so its next requests stick to the same target.
 */
import { randomUUID } from 'node:crypto';
import type { UpstreamConfig } from '../config/types';
import { Balancer, type BalancedTarget, type HashSource } from './balancer';
import { HashRing } from './hash-ring';
import { smoothPick } from './round-robin';
import type { SharedBalancerState } from './shared-state';

export interface HashInputConfig {
  readonly hashOn: string;
  readonly hashFallback: string;
  readonly hashOnHeader: string | null;
  readonly hashFallbackHeader: string | null;
  readonly hashOnCookie: string | null;
  readonly hashOnCookiePath: string;
  readonly hashOnQueryArg: string | null;
  readonly hashFallbackQueryArg: string | null;
}

const enum HashOn {
  None = 0,
  Consumer = 1,
  Ip = 2,
  Header = 3,
  Cookie = 4,
  Path = 5,
  QueryArg = 6,
}

function hashOnCode(name: string): HashOn {
  switch (name) {
    case 'consumer':
      return HashOn.Consumer;
    case 'ip':
      return HashOn.Ip;
    case 'header':
      return HashOn.Header;
    case 'cookie':
      return HashOn.Cookie;
    case 'path':
      return HashOn.Path;
    case 'query_arg':
      return HashOn.QueryArg;
    default:
      return HashOn.None;
  }
}

export class ConsistentHashingBalancer<Target extends BalancedTarget> extends Balancer<Target> {
  readonly ring: HashRing;
  readonly #on: HashOn;
  readonly #fallback: HashOn;
  readonly #onName: string | null;
  readonly #fallbackName: string | null;
  readonly #cookiePath: string;
  readonly #current: Float64Array = new Float64Array(this.targets.length);

  constructor(
    targets: readonly Target[],
    keys: readonly string[],
    shared: SharedBalancerState,
    hash: HashInputConfig,
    thresholdPercent = 0,
    maxEjectionPercent = 50,
  ) {
    super(targets, shared, thresholdPercent, maxEjectionPercent);
    this.ring = new HashRing(keys, targets.map((t) => t.weight));
    this.#on = hashOnCode(hash.hashOn);
    this.#fallback = hashOnCode(hash.hashFallback);
    this.#onName = nameFor(this.#on, hash.hashOnHeader, hash.hashOnCookie, hash.hashOnQueryArg);
    this.#fallbackName = nameFor(this.#fallback, hash.hashFallbackHeader, null, hash.hashFallbackQueryArg);
    this.#cookiePath = hash.hashOnCookiePath;
  }

  protected choose(source: HashSource | null, eligibleCount: number): Target {
    let key = source === null ? '' : this.#input(source, this.#on, this.#onName);
    if (key === '' && source !== null) key = this.#input(source, this.#fallback, this.#fallbackName);
    if (key !== '') {
      const owner = this.ring.lookup(key, this.eligible);
      if (owner >= 0) return this.targets[owner];
    }
    return this.targets[smoothPick(this.#current, this.weights, this.eligibleList, eligibleCount)];
  }

  #input(source: HashSource, on: HashOn, name: string | null): string {
    switch (on) {
      case HashOn.Consumer:
        return source.consumer !== null ? source.consumer.id : (source.credentialId ?? '');
      case HashOn.Ip:
        return source.request.remoteAddress;
      case HashOn.Header:
        return source.request.header(name!) ?? '';
      case HashOn.Cookie: {
        const value = cookieValue(source.request.header('cookie'), name!);
        if (value !== '') return value;
        const fresh = randomUUID();
        source.setResponseHeader('set-cookie', `${name}=${fresh}; Path=${this.#cookiePath}`);
        return fresh;
      }
      case HashOn.Path:
        return source.request.path;
      case HashOn.QueryArg:
        return queryArg(source.request.query, name!);
      default:
        return '';
    }
  }
}

function nameFor(on: HashOn, header: string | null, cookie: string | null, queryArgName: string | null): string | null {
  if (on === HashOn.Header) return header === null ? null : header.toLowerCase();
  if (on === HashOn.Cookie) return cookie;
  if (on === HashOn.QueryArg) return queryArgName;
  return null;
}

/** The value of cookie `name` in a Cookie header, or ''. */
export function cookieValue(header: string | undefined, name: string): string {
  if (header === undefined) return '';
  let at = 0;
  while (at < header.length) {
    let end = header.indexOf(';', at);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', at);
    if (eq !== -1 && eq < end && header.slice(at, eq).trim() === name) return header.slice(eq + 1, end).trim();
    at = end + 1;
  }
  return '';
}

/** The first value of query argument `name` (raw, as sent), or ''. */
export function queryArg(query: string, name: string): string {
  let at = 0;
  while (at <= query.length) {
    let end = query.indexOf('&', at);
    if (end === -1) end = query.length;
    if (query.startsWith(name, at) && query.charCodeAt(at + name.length) === 61 /* = */ && at + name.length < end) {
      return query.slice(at + name.length + 1, end);
    }
    at = end + 1;
  }
  return '';
}

export function hashConfigOf(u: UpstreamConfig): HashInputConfig {
  return u;
}
