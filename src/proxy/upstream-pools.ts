/**
 * Per-worker undici pools, one per upstream origin and connection options. Pools outlive
 * snapshots: a reload that keeps a target keeps its warm keep-alive connections. A pool that the
 * new snapshot no longer references is closed gracefully (in-flight requests of the old snapshot
 * finish first).
 */
import { Pool } from 'undici';
import type { NodeSettings } from '../settings';

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  readonly tlsVerify: boolean;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #settings: NodeSettings;

  constructor(settings: NodeSettings) {
    this.#settings = settings;
  }

  static key(origin: string, opts: PoolOptions): string {
    return `${origin}|${opts.connectTimeoutMs}|${opts.tlsVerify ? 1 : 0}`;
  }

  get(origin: string, opts: PoolOptions): Pool {
    const key = UpstreamPools.key(origin, opts);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      const s = this.#settings;
      pool = new Pool(origin, {
        connections: s.upstreamConnections > 0 ? s.upstreamConnections : null,
        pipelining: 1,
        allowH2: false,
        keepAliveTimeout: s.upstreamKeepAliveMs,
        keepAliveMaxTimeout: s.upstreamKeepAliveMs,
        // Per-request read timeouts are passed with each dispatch (service.read_timeout).
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
        connect: { timeout: opts.connectTimeoutMs, rejectUnauthorized: opts.tlsVerify },
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Close every pool whose key is not in `keep`, after its in-flight requests finish. */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const [key, pool] of this.#pools) {
      if (keep.has(key)) continue;
      this.#pools.delete(key);
      pool.close().catch(() => pool.destroy());
    }
  }

  async closeAll(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.close()));
  }
}
