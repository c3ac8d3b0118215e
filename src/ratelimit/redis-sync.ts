/**
 * `policy: redis` with `sync_rate: N` (N > 0): Kong's batched counting, with a local share of the
 * budget so that the hot path stays off the network.
 *
 * Each worker keeps, per client (identifier) and window:
 *   - pending: requests it admitted and has not told redis about yet;
 *   - share: how many more it may admit without asking, computed at its last sync as
 *     floor((limit - cluster total) / number of workers sharing this budget).
 * A request inside every window's share is admitted locally (no await). Every N seconds the worker
 * adds its pending counts to redis in one pipelined batch and gets fresh totals and shares back.
 * A request that finds its share used up syncs at once and is admitted only if redis still has
 * room (checked atomically in the same script), so the slow path is exact.
 *
 * What this trades away (README "Rate limiting", measured by test/integration/ratelimit-redis):
 * shares are computed from the number of workers that have synced this budget so far in the window;
 * a worker that joins later gets its own share before the others shrink theirs, so the cluster can
 * admit up to about one share per late joiner above the limit. The first request a worker sees
 * for a client in a window always syncs (exact). Counts reach redis up to N seconds late, so other
 * gateways see this one's traffic late; that is what the shares absorb.
 */
import type { LimitSpec } from './limits';
import { UsageReport } from './limits';
import type { RedisCounterStore } from './redis-store';

export const enum Local {
  Admitted = 0,
  Refused = 1,
  MustSync = 2,
}

class ClientBudget {
  readonly identifier: string;
  readonly windowStart: number[];
  readonly total: number[];
  readonly pending: number[];
  readonly share: number[];
  /** The share granted at the last sync (shares at most double from one sync to the next). */
  readonly grant: number[];
  /** Latest window end over all windows (seconds): the entry is dropped after it. */
  expires = 0;
  /** Synced at least once in the current windows. */
  synced = false;

  constructor(identifier: string, n: number) {
    this.identifier = identifier;
    this.windowStart = new Array<number>(n).fill(-1);
    this.total = new Array<number>(n).fill(0);
    this.pending = new Array<number>(n).fill(0);
    this.share = new Array<number>(n).fill(0);
    this.grant = new Array<number>(n).fill(0);
  }
}

/**
 * Clients tracked per limit per worker. Beyond it, new clients are not tracked: each of their
 * requests asks redis (exact, one round trip), so memory stays bounded under client churn.
 */
export const MAX_TRACKED_CLIENTS = 100_000;

/** The budgets of one plugin's limits in this worker; survives reloads (see syncedBudgetsFor). */
export class SyncedBudgets {
  readonly #store: RedisCounterStore;
  readonly #specs: readonly LimitSpec[];
  readonly #syncMs: number;
  readonly #clients = new Map<string, ClientBudget>();
  readonly #now: () => number;
  readonly #maxClients: number;
  #timer: NodeJS.Timeout | null = null;
  #flushing = false;
  /** Set by the owner: called when a periodic flush fails (for the once-per-interval log). */
  onFlushError: ((err: unknown) => void) | null = null;

  constructor(store: RedisCounterStore, specs: readonly LimitSpec[], syncSeconds: number, now: () => number, maxClients = MAX_TRACKED_CLIENTS) {
    this.#maxClients = maxClients;
    this.#store = store;
    this.#specs = specs;
    this.#syncMs = Math.max(1, Math.round(syncSeconds * 1000));
    this.#now = now;
  }

  get size(): number {
    return this.#clients.size;
  }

  /**
   * Decide locally when possible: Local.Admitted when every window has share left, Local.Refused
   * when a window's cluster total has reached its limit (a fixed window only fills up until it
   * ends, so no need to ask redis again), both with `report` filled; Local.MustSync otherwise.
   */
  tryLocal(identifier: string, nowMs: number, report: UsageReport): Local {
    const budget = this.#budget(identifier, nowMs);
    if (!budget.synced) return Local.MustSync;
    const specs = this.#specs;
    const nowSec = Math.floor(nowMs / 1000);
    let refused = -1;
    let needSync = false;
    for (let i = 0; i < specs.length; i++) {
      if (budget.total[i] >= specs[i].limit) {
        refused = i;
        break;
      }
      if (budget.share[i] < 1) needSync = true;
    }
    if (refused === -1 && needSync) return Local.MustSync;
    report.stopped = refused;
    for (let i = 0; i < specs.length; i++) {
      if (refused === -1) {
        budget.share[i]--;
        budget.pending[i]++;
        budget.total[i]++;
      }
      report.remaining[i] = Math.max(0, specs[i].limit - budget.total[i]);
      report.reset[i] = Math.max(1, specs[i].clock.end - nowSec);
    }
    if (refused === -1) this.#schedule();
    return refused === -1 ? Local.Admitted : Local.Refused;
  }

  /** The slow path: sync this client's budget now, asking redis for this one request. */
  async syncAndCheck(identifier: string, nowMs: number): Promise<UsageReport> {
    await this.#store.ready();
    const budget = this.#budget(identifier, nowMs);
    const report = new UsageReport(this.#specs.length);
    const out = await this.#sync(budget, 1);
    report.stopped = out[0] - 1;
    const nowSec = Math.floor(nowMs / 1000);
    for (let i = 0; i < this.#specs.length; i++) {
      report.remaining[i] = Math.max(0, this.#specs[i].limit - budget.total[i]);
      report.reset[i] = Math.max(1, this.#specs[i].clock.end - nowSec);
    }
    this.#schedule();
    return report;
  }

  /** Redis was unreachable and the request goes through anyway: count it for the next sync. */
  countFailOpen(identifier: string, nowMs: number): void {
    const budget = this.#budget(identifier, nowMs);
    for (let i = 0; i < this.#specs.length; i++) budget.pending[i]++;
    this.#schedule();
  }

  /** Push every pending count to redis now (the timer does this every sync_rate seconds). */
  async flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      const nowSec = Math.floor(this.#now() / 1000);
      const waits: Promise<unknown>[] = [];
      for (const budget of this.#clients.values()) {
        if (budget.expires <= nowSec) {
          this.#clients.delete(budget.identifier);
          continue;
        }
        if (budget.pending.some((p) => p > 0)) waits.push(this.#sync(budget, 0));
      }
      // ioredis pipelines commands issued in the same tick into one write.
      const results = await Promise.allSettled(waits);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) this.onFlushError?.((failed as PromiseRejectedResult).reason);
    } finally {
      this.#flushing = false;
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #budget(identifier: string, nowMs: number): ClientBudget {
    let budget = this.#clients.get(identifier);
    const specs = this.#specs;
    if (budget === undefined) {
      budget = new ClientBudget(identifier, specs.length);
      // Over the cap the budget is used for this request only (never synced: asks redis each time).
      if (this.#clients.size < this.#maxClients) this.#clients.set(identifier, budget);
    }
    const nowSec = Math.floor(nowMs / 1000);
    for (let i = 0; i < specs.length; i++) {
      const clock = specs[i].clock;
      clock.at(nowSec);
      if (budget.windowStart[i] !== clock.start) {
        // A new window: nothing known, nothing owed (the old window's pending is moot now).
        budget.windowStart[i] = clock.start;
        budget.total[i] = 0;
        budget.pending[i] = 0;
        budget.share[i] = 0;
        budget.grant[i] = 0;
        budget.synced = false;
      }
      if (clock.end > budget.expires) budget.expires = clock.end;
    }
    return budget;
  }

  /** One script call for all windows of `budget`: add pending (+ want if all have room). */
  async #sync(budget: ClientBudget, want: number): Promise<number[]> {
    const specs = this.#specs;
    const n = specs.length;
    const keys: string[] = [];
    const args: (string | number)[] = [want, this.#store.member];
    const sent: number[] = [];
    const starts = budget.windowStart.slice();
    const nowSec = Math.floor(this.#now() / 1000);
    for (let i = 0; i < n; i++) {
      const spec = specs[i];
      const key = `ratelimit:${spec.limitKey}:${budget.identifier}:${starts[i]}`;
      keys.push(key, key + ':sharers');
      sent.push(budget.pending[i]);
      args.push(budget.pending[i], spec.limit, Math.max(1, spec.clock.end - nowSec + 1) * 1000);
      budget.pending[i] = 0;
    }
    let out: number[];
    try {
      out = await this.#store.client.rlSync(2 * n, ...keys, ...args);
    } catch (err) {
      // Not counted in redis: owe it again, unless the window has moved on meanwhile.
      for (let i = 0; i < n; i++) if (budget.windowStart[i] === starts[i]) budget.pending[i] += sent[i];
      throw err;
    }
    for (let i = 0; i < n; i++) {
      if (budget.windowStart[i] !== starts[i]) continue;
      const total = out[1 + 2 * i];
      const sharers = Math.max(1, out[2 + 2 * i]);
      // What this worker admitted while the script ran is still pending and not in `total`.
      budget.total[i] = total + budget.pending[i];
      budget.share[i] = budget.grant[i] = shareOf(specs[i].limit - budget.total[i], sharers, budget.grant[i]);
    }
    budget.synced = true;
    return out;
  }

  #schedule(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#clients.size === 0) return this.stop();
      void this.flush();
    }, this.#syncMs);
    this.#timer.unref();
  }
}

/**
 * This worker's share of what is left: half of an even split between the workers sharing the
 * budget (the other half absorbs what they admitted since their own last sync), and at most twice
 * the last share, starting at 1, so a burst that starts on every worker at once (when none knows
 * how many others there are) cannot hand each of them the whole budget. Near the end of the
 * budget the share is 0 and every request asks redis, which is exact.
 */
function shareOf(remaining: number, sharers: number, lastGrant: number): number {
  if (remaining <= 0) return 0;
  return Math.min(Math.max(1, 2 * lastGrant), Math.floor(remaining / (2 * sharers)));
}

const registry = new Map<string, SyncedBudgets>();

/**
 * This worker's budgets for one set of limits on one server, kept across config reloads so
 * pending counts are not lost when a new snapshot builds a new plugin instance.
 */
export function syncedBudgetsFor(store: RedisCounterStore, specs: readonly LimitSpec[], syncSeconds: number, now: () => number): SyncedBudgets {
  const key = `${store.address}|${syncSeconds}|${specs.map((s) => `${s.limitKey}=${s.limit}`).join(',')}`;
  let budgets = registry.get(key);
  if (budgets === undefined) {
    budgets = new SyncedBudgets(store, specs, syncSeconds, now);
    registry.set(key, budgets);
  }
  return budgets;
}

/** Push every pending count of this worker to redis and stop the timers (drain). */
export async function flushSyncedBudgets(): Promise<void> {
  const all = [...registry.values()];
  for (const b of all) b.stop();
  await Promise.allSettled(all.map((b) => b.flush()));
}
