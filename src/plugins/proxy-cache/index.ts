/**
 * Kong's proxy-cache plugin, `memory` strategy.
 *
 * onRequest: a request whose method is cacheable gets Kong's cache key. A fresh entry is served
 * locally (X-Cache-Status: Hit, Age, X-Cache-Key). Otherwise, when no fill of that key is in
 * flight, this request fills it (Miss, or Refresh for a stale entry); when one is, it waits for
 * it and is then served the new entry. Waiting requests that find nothing (the response was not
 * cacheable, or its client went away) go upstream on their own: one failing fill never makes
 * the others queue behind each other.
 * onResponse: the filler checks the response (status, content type, Cache-Control, Set-Cookie)
 * and, when cacheable, watches the body stream through a response body filter; at the end the
 * entry is stored and the waiters are released. onLog releases them whatever happened.
 *
 * Beyond Kong, and always on: a response with Set-Cookie, or Cache-Control private, no-store or
 * no-cache, is never stored (Kong honours Cache-Control only with cache_control: true, and stores
 * Set-Cookie responses, which would hand one user's cookie to everyone).
 */
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance, type ResponseBodyFilter } from '../api';
import { buildCacheKey, cacheKeyPrefix, headerKeyPart, parseQueryArgs, queryKeyPart, requestLineUri } from './cache-key';
import { entrySize, storeFor, type CacheStore, type CachedResponse } from './store';
import { ProxyCacheSchema, type ProxyCacheConfig } from './schema';
import { defaultMessage, messageBody } from '../../util/status-messages';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Never replayed from the cache (Kong's list: hop-by-hop, and Content-Length, set by the reply). */
const NOT_REPLAYED = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailers', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'age', 'x-cache-status', 'x-cache-key', 'date']);

type Directives = Map<string, string | true>;

/** Kong's parse_directive_header: `a, b=1` -> {a: true, b: "1"}; names lower-cased. */
export function parseDirectives(value: string | undefined): Directives {
  const out: Directives = new Map();
  if (value === undefined) return out;
  for (const piece of value.split(',')) {
    const t = piece.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq === -1) out.set(t.toLowerCase(), true);
    else out.set(t.slice(0, eq).trim().toLowerCase(), t.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

function numberOf(d: Directives, name: string): number | null {
  const v = d.get(name);
  if (v === undefined || v === true) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

interface MediaType {
  readonly type: string;
  readonly subtype: string;
  readonly params: ReadonlyMap<string, string>;
}

export function parseMediaType(value: string): MediaType | null {
  const parts = value.split(';');
  const slash = parts[0].indexOf('/');
  if (slash <= 0) return null;
  const type = parts[0].slice(0, slash).trim().toLowerCase();
  const subtype = parts[0].slice(slash + 1).trim().toLowerCase();
  if (type === '' || subtype === '') return null;
  const params = new Map<string, string>();
  for (let i = 1; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    if (eq === -1) continue;
    params.set(parts[i].slice(0, eq).trim().toLowerCase(), parts[i].slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return { type, subtype, params };
}

/** Kong's content_type rule: type and subtype match (or `*`), and the parameters are exactly the same. */
function mediaTypeMatches(actual: MediaType, expected: readonly MediaType[]): boolean {
  for (const e of expected) {
    if (e.type !== '*' && e.type !== actual.type) continue;
    if (e.subtype !== '*' && e.subtype !== actual.subtype) continue;
    if (e.params.size !== actual.params.size) continue;
    let same = true;
    for (const [k, v] of e.params) if (actual.params.get(k) !== v) same = false;
    if (same) return true;
  }
  return false;
}

/** One request's fill: its key, and the response captured so far. Also the body filter. */
class Fill implements ResponseBodyFilter {
  readonly store: CacheStore;
  readonly key: string;
  status = 0;
  headers: string[] = [];
  contentType = '';
  ttl = 0;
  storageTtl = 0;
  chunks: Buffer[] = [];
  bytes = 0;
  /** The body outgrew the store: keep streaming, stop keeping. */
  overflow = false;
  /** This request holds the key's fill lock (false: it waited, found nothing, and went on alone). */
  readonly locked: boolean;
  /** The lock was given back (end of body, uncacheable response, or end of request). */
  released = false;
  readonly now: () => number;

  constructor(store: CacheStore, key: string, now: () => number, locked: boolean) {
    this.store = store;
    this.key = key;
    this.now = now;
    this.locked = locked;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.locked) this.store.endFill(this.key);
  }

  onChunk(chunk: Buffer): Buffer {
    if (!this.overflow) {
      this.bytes += chunk.length;
      if (this.bytes > this.store.maxBytes) {
        this.overflow = true;
        this.chunks = [];
      } else {
        // undici may reuse the chunk's memory after the call: keep a copy.
        this.chunks.push(Buffer.from(chunk));
      }
    }
    return chunk;
  }

  onEnd(): null {
    if (!this.overflow) {
      const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.bytes);
      const timestamp = this.now();
      const entry: CachedResponse = {
        status: this.status,
        headers: this.headers,
        contentType: this.contentType,
        body,
        timestamp,
        ttl: this.ttl,
        expiresAt: timestamp + this.storageTtl,
        size: entrySize(this.key, this.headers, body.length),
      };
      this.store.set(this.key, entry);
    }
    this.chunks = [];
    this.release();
    return null;
  }
}

export interface ProxyCacheOptions {
  /** Unix seconds; tests inject a fake clock. */
  readonly now?: () => number;
}

export class ProxyCache implements PluginInstance {
  readonly #conf: ProxyCacheConfig;
  readonly #methods: ReadonlySet<string>;
  readonly #statuses: ReadonlySet<number>;
  readonly #contentTypes: readonly MediaType[];
  readonly #store: CacheStore;
  readonly #now: () => number;
  readonly #fills = new WeakMap<PluginContext, Fill>();
  readonly #showStatus: boolean;
  readonly #showKey: boolean;
  readonly #showAge: boolean;

  constructor(conf: ProxyCacheConfig, opts: ProxyCacheOptions = {}) {
    this.#conf = conf;
    this.#methods = new Set(conf.request_method);
    this.#statuses = new Set(conf.response_code);
    this.#contentTypes = conf.content_type.map(parseMediaType).filter((m): m is MediaType => m !== null);
    this.#store = storeFor(conf.memory.dictionary_name);
    this.#now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.#showStatus = conf.response_headers['X-Cache-Status'];
    this.#showKey = conf.response_headers['X-Cache-Key'];
    this.#showAge = conf.response_headers.age;
  }

  get store(): CacheStore {
    return this.#store;
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    const req = ctx.request;
    const debug = req.header('kong-debug') !== undefined;
    const cc = this.#conf.cache_control ? parseDirectives(req.header('cache-control')) : null;
    if (!this.#methods.has(req.method) || (cc !== null && (cc.has('no-store') || cc.has('no-cache') || req.header('authorization') !== undefined))) {
      if (debug || this.#showStatus) ctx.setResponseHeader('X-Cache-Status', 'Bypass');
      return Verdict.Continue;
    }
    const conf = this.#conf;
    const key = buildCacheKey(
      cacheKeyPrefix(ctx.consumer === null ? null : ctx.consumer.id, ctx.routeId === '' ? null : ctx.routeId),
      req.method,
      requestLineUri(req, conf.ignore_uri_case),
      queryKeyPart(parseQueryArgs(req.query), conf.vary_query_params),
      headerKeyPart(req, conf.vary_headers),
    );
    if (debug || this.#showKey) ctx.setResponseHeader('X-Cache-Key', key);
    const entry = this.#store.get(key, this.#now());
    if (entry !== undefined) {
      const stale = this.#staleness(entry, cc);
      if (stale === null) return this.#serve(ctx, entry, key, debug);
    }
    if (this.#store.isFilling(key)) {
      // Another request is fetching this key: wait for it rather than stampede the upstream.
      return this.#store.waitForFill(key).then(() => this.#afterWait(ctx, key, cc, debug));
    }
    if (entry === undefined && cc !== null && cc.has('only-if-cached')) {
      ctx.respond(504, messageBody(defaultMessage(504)), JSON_TYPE, null);
      return Verdict.Stop;
    }
    this.#startFill(ctx, key, entry === undefined ? 'Miss' : 'Refresh', debug);
    return Verdict.Continue;
  }

  #afterWait(ctx: PluginContext, key: string, cc: Directives | null, debug: boolean): Verdict {
    const entry = this.#store.get(key, this.#now());
    if (entry !== undefined && this.#staleness(entry, cc) === null) return this.#serve(ctx, entry, key, debug);
    // The fill stored nothing usable: go upstream without a lock (but still store a cacheable answer).
    this.#startFill(ctx, key, entry === undefined ? 'Miss' : 'Refresh', debug, false);
    return Verdict.Continue;
  }

  /** null when the entry may be served; else why not (Kong's Refresh cases). */
  #staleness(entry: CachedResponse, cc: Directives | null): string | null {
    const age = this.#now() - entry.timestamp;
    if (cc === null) return age > this.#conf.cache_ttl ? 'stale' : null;
    const maxAge = numberOf(cc, 'max-age');
    if (maxAge !== null && age > maxAge) return 'max-age';
    const maxStale = numberOf(cc, 'max-stale');
    if (maxStale !== null && age - entry.ttl > maxStale) return 'max-stale';
    const minFresh = numberOf(cc, 'min-fresh');
    if (minFresh !== null && entry.ttl - age < minFresh) return 'min-fresh';
    // As in Kong, with cache_control the entry then lives until its storage TTL.
    return null;
  }

  #startFill(ctx: PluginContext, key: string, status: 'Miss' | 'Refresh', debug: boolean, lock = true): void {
    const fill = new Fill(this.#store, key, this.#now, lock && this.#store.beginFill(key));
    this.#fills.set(ctx, fill);
    if (debug || this.#showStatus) ctx.setResponseHeader('X-Cache-Status', status);
  }

  #serve(ctx: PluginContext, entry: CachedResponse, key: string, debug: boolean): Verdict {
    const headers = entry.headers.slice();
    if (debug || this.#showAge) headers.push('Age', String(Math.max(0, this.#now() - entry.timestamp)));
    if (debug || this.#showStatus) headers.push('X-Cache-Status', 'Hit');
    if (debug || this.#showKey) headers.push('X-Cache-Key', key);
    ctx.respond(entry.status, entry.body, entry.contentType, headers);
    return Verdict.Stop;
  }

  onResponse(ctx: PluginContext): void {
    const fill = this.#fills.get(ctx);
    if (fill === undefined) return;
    const ttl = this.#cacheableTtl(ctx);
    if (ttl === null) {
      this.#fills.delete(ctx);
      fill.release();
      if (ctx.request.header('kong-debug') !== undefined || this.#showStatus) ctx.setResponseHeader('X-Cache-Status', 'Bypass');
      return;
    }
    fill.status = ctx.responseStatus;
    fill.ttl = ttl;
    const conf = this.#conf;
    fill.storageTtl = conf.storage_ttl ?? ttl;
    const upstream = ctx.upstreamResponseHeaders();
    const kept: string[] = [];
    for (let i = 0; i < upstream.length; i += 2) {
      const name = upstream[i];
      if (name === 'content-type') fill.contentType = upstream[i + 1];
      else if (!NOT_REPLAYED.has(name) && !name.includes('ratelimit-remaining')) kept.push(name, upstream[i + 1]);
    }
    fill.headers = kept;
    // Stays in #fills: if the body never ends (abort, upstream error), onLog releases the lock.
    ctx.filterResponseBody(fill, false);
  }

  /** Kong's cacheable_response, plus our Set-Cookie/private rule; the fresh TTL, or null. */
  #cacheableTtl(ctx: PluginContext): number | null {
    if (!this.#statuses.has(ctx.responseStatus)) return null;
    const type = ctx.responseHeader('content-type');
    if (type === undefined || type === '') return null;
    const media = parseMediaType(type);
    if (media === null || !mediaTypeMatches(media, this.#contentTypes)) return null;
    if (ctx.responseHeader('set-cookie') !== undefined) return null;
    const cc = parseDirectives(ctx.responseHeader('cache-control'));
    if (cc.has('private') || cc.has('no-store') || cc.has('no-cache')) return null;
    if (!this.#conf.cache_control) return this.#conf.cache_ttl;
    const ttl = this.#resourceTtl(ctx, cc);
    return ttl <= 0 ? null : ttl;
  }

  /** Kong's calculate_resource_ttl: s-maxage, max-age, else Expires minus now. */
  #resourceTtl(ctx: PluginContext, cc: Directives): number {
    const maxAge = numberOf(cc, 's-maxage') ?? numberOf(cc, 'max-age');
    if (maxAge !== null) return Math.max(0, maxAge);
    const expires = ctx.responseHeader('expires');
    if (expires === undefined) return 0;
    const at = Date.parse(expires);
    return Number.isFinite(at) ? Math.max(0, Math.floor(at / 1000) - this.#now()) : 0;
  }

  /** Whatever happened (local reply, upstream error, client gone): never leave waiters hanging. */
  onLog(ctx: PluginContext): void {
    const fill = this.#fills.get(ctx);
    if (fill === undefined) return;
    this.#fills.delete(ctx);
    fill.release();
  }
}

export const proxyCache: PluginDefinition<ProxyCacheConfig> = {
  name: 'proxy-cache',
  priority: 100,
  version: '1.0.0',
  configSchema: ProxyCacheSchema,
  create: (conf) => new ProxyCache(conf),
};
