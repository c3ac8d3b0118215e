/**
 * The `memory` strategy's store: one LRU per dictionary name per worker thread, bounded in bytes
 * (lru-cache's maxSize with a size per entry), living across config reloads as Kong's shared
 * dictionaries do. It also holds the fills in progress, so that one request per key goes upstream
 * while the others with the same key wait for it (no stampede).
 *
 * Expiry is checked against the entry's own timestamps on read (Kong keeps an entry for its
 * storage TTL and serves it while younger than its cache TTL), with an injectable clock.
 */
import { LRUCache } from 'lru-cache';

/** Kong's mem_cache_size default (128m). */
export const DEFAULT_MEM_CACHE_BYTES = 128 * 1024 * 1024;

/**
 * How long a request waits for another request's fill of the same key before going upstream on
 * its own (NGINX's proxy_cache_lock_timeout default): a hung fill must not hang everyone.
 */
export const FILL_WAIT_MS = 5000;

/** A fill in flight: the requests waiting for it, and the one timer that bounds their wait. */
class FillState {
  waiters: (() => void)[] = [];
  timer: NodeJS.Timeout | null = null;
  /** The wait is over for this fill: later requests for the key go upstream without waiting. */
  expired = false;
}

function releaseWaiters(fill: FillState): void {
  fill.expired = true;
  fill.timer = null;
  const waiters = fill.waiters;
  fill.waiters = [];
  for (let i = 0; i < waiters.length; i++) waiters[i]();
}

/** Bytes an entry costs besides its body and headers: key, object, array slots (an estimate). */
const ENTRY_OVERHEAD = 200;

export interface CachedResponse {
  readonly status: number;
  /** Flat `[name, value, ...]`, lower-case names, hop-by-hop and cache headers already dropped. */
  readonly headers: readonly string[];
  readonly contentType: string;
  readonly body: Buffer;
  /** Unix seconds when stored. */
  readonly timestamp: number;
  /** Seconds it is fresh for (cache_ttl, or Cache-Control's with cache_control on). */
  readonly ttl: number;
  /** Unix seconds after which it is gone (the storage TTL). */
  readonly expiresAt: number;
  readonly size: number;
}

export function entrySize(key: string, headers: readonly string[], bodyBytes: number): number {
  let n = ENTRY_OVERHEAD + key.length + bodyBytes;
  for (let i = 0; i < headers.length; i++) n += headers[i].length;
  return n;
}

export class CacheStore {
  readonly maxBytes: number;
  readonly #fillWaitMs: number;
  readonly #lru: LRUCache<string, CachedResponse>;
  /** Keys being filled, with the requests waiting for them. */
  readonly #fills = new Map<string, FillState>();

  constructor(maxBytes: number, fillWaitMs = FILL_WAIT_MS) {
    this.maxBytes = maxBytes;
    this.#fillWaitMs = fillWaitMs;
    this.#lru = new LRUCache<string, CachedResponse>({ maxSize: maxBytes, sizeCalculation: (e) => e.size });
  }

  /** The entry, or undefined when absent or past its storage TTL (then it is dropped). */
  get(key: string, nowSec: number): CachedResponse | undefined {
    const e = this.#lru.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= nowSec) {
      this.#lru.delete(key);
      return undefined;
    }
    return e;
  }

  set(key: string, entry: CachedResponse): void {
    // lru-cache refuses an entry larger than maxSize by itself; evicts least recently used otherwise.
    if (entry.size <= this.maxBytes) this.#lru.set(key, entry);
  }

  /** Bytes held now (the sum of entry sizes). */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get entries(): number {
    return this.#lru.size;
  }

  /** A fill of `key` is in flight and still worth waiting for. */
  isFilling(key: string): boolean {
    const fill = this.#fills.get(key);
    return fill !== undefined && !fill.expired;
  }

  /**
   * Take the fill of `key`. False when another fill still holds it (one whose waiters timed out):
   * the caller then goes upstream without the lock. On true, the caller must call `endFill(key)`
   * exactly once, whatever happens.
   */
  beginFill(key: string): boolean {
    if (this.#fills.has(key)) return false;
    this.#fills.set(key, new FillState());
    return true;
  }

  /** Resolves when the fill of `key` ends (stored or not), or after FILL_WAIT_MS at most. */
  waitForFill(key: string): Promise<void> {
    const fill = this.#fills.get(key);
    if (fill === undefined || fill.expired) return Promise.resolve();
    if (fill.timer === null) {
      // One timer per fill, armed by its first waiter, not one per waiting request.
      fill.timer = setTimeout(releaseWaiters, this.#fillWaitMs, fill);
      fill.timer.unref();
    }
    return new Promise<void>((resolve) => fill.waiters.push(resolve));
  }

  endFill(key: string): void {
    const fill = this.#fills.get(key);
    if (fill === undefined) return;
    this.#fills.delete(key);
    if (fill.timer !== null) clearTimeout(fill.timer);
    releaseWaiters(fill);
  }

  clear(): void {
    this.#lru.clear();
  }
}

let capacity = DEFAULT_MEM_CACHE_BYTES;
const stores = new Map<string, CacheStore>();

/** Set by the data plane from --mem-cache-size before any plugin is created. */
export function setMemCacheSize(bytes: number): void {
  capacity = bytes;
}

/** The worker's store for a dictionary name, created on first use. */
export function storeFor(dictionaryName: string): CacheStore {
  let store = stores.get(dictionaryName);
  if (store === undefined) {
    store = new CacheStore(capacity);
    stores.set(dictionaryName, store);
  }
  return store;
}
