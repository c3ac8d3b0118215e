/**
 * `policy: redis` with `sync_rate: -1` (Kong's default): every request is counted in redis by one
 * atomic script that checks every window and counts in all of them only if all have room, so the
 * limit holds exactly across every worker of every gateway sharing the server. The price is one
 * redis round trip per request (the request waits for it; the event loop does not).
 *
 * Keys follow Kong's shape: ratelimit:<limit key>:<identifier>:<window start>. A key expires with
 * its window (sliding: one window later, since the next window reads it).
 */
import type { Algorithm, LimitSpec } from './limits';
import { UsageReport } from './limits';
import type { RedisCounterStore } from './redis-store';

export class RedisPolicy {
  readonly #store: RedisCounterStore;
  readonly #specs: readonly LimitSpec[];
  readonly #algorithm: Algorithm;

  constructor(store: RedisCounterStore, specs: readonly LimitSpec[], algorithm: Algorithm) {
    this.#store = store;
    this.#specs = specs;
    this.#algorithm = algorithm;
  }

  /** Count one request; resolves with the usage report, rejects when redis cannot be reached. */
  async check(identifier: string, nowMs: number): Promise<UsageReport> {
    await this.#store.ready();
    const specs = this.#specs;
    const n = specs.length;
    const nowSec = Math.floor(nowMs / 1000);
    const report = new UsageReport(n);
    const keys: string[] = [];
    const args: (string | number)[] = [];
    if (this.#algorithm === 'token_bucket') {
      args.push(1, nowMs);
      for (const spec of specs) {
        spec.clock.at(nowSec);
        const perMs = spec.limit / (spec.clock.length * 1000);
        keys.push(`ratelimit:${spec.limitKey}:${identifier}`);
        args.push(spec.capacity, perMs, Math.ceil(spec.capacity / perMs) + 1000);
      }
      const out = await this.#store.client.rlTokens(n, ...keys, ...args);
      report.stopped = out[0] - 1;
      for (let i = 0; i < n; i++) {
        const spec = specs[i];
        const perMs = spec.limit / (spec.clock.length * 1000);
        const tokens = out[i + 1] / 1000;
        report.remaining[i] = Math.max(0, Math.floor(tokens));
        const missing = report.stopped === -1 ? spec.capacity - tokens : 1 - tokens;
        report.reset[i] = Math.max(1, Math.ceil(missing / perMs / 1000));
      }
      return report;
    }
    const sliding = this.#algorithm === 'sliding';
    args.push(1);
    for (const spec of specs) {
      const clock = spec.clock;
      clock.at(nowSec);
      const prefix = `ratelimit:${spec.limitKey}:${identifier}:`;
      keys.push(prefix + clock.start, prefix + clock.prevStart);
      const weight = sliding ? Math.max(0, 1 - (nowMs / 1000 - clock.start) / clock.length) : 0;
      const ttlMs = ((sliding ? clock.nextEnd : clock.end) - nowSec + 1) * 1000;
      args.push(spec.limit, ttlMs, weight);
    }
    const out = await this.#store.client.rlHit(2 * n, ...keys, ...args);
    report.stopped = out[0] - 1;
    for (let i = 0; i < n; i++) {
      const spec = specs[i];
      report.remaining[i] = Math.max(0, spec.limit - out[i + 1]);
      report.reset[i] = Math.max(1, spec.clock.end - nowSec);
    }
    return report;
  }
}
