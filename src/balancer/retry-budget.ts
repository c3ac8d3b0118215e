/**
 * The retry budget, node-wide per upstream: over the last `window` seconds, retries may be at
 * most `budget_percent` of the requests plus `min_retries`. So when every target fails, the
 * upstream sees about (1 + budget) times the client traffic instead of (1 + retries) times.
 *
 * The window is a ring of one-second buckets [second, requests, retries] in the upstream's slot
 * of the SharedArrayBuffer, so every worker counts into the same budget. A bucket from an older
 * second is reset by whichever worker first writes to it in the new second (compare-and-swap).
 */
import { type SharedBalancerState, U } from './shared-state';

export interface RetryBudgetConfig {
  readonly budgetPercent: number;
  readonly minRetries: number;
  readonly window: number;
}

const REQUESTS = 1;
const RETRIES = 2;

export class RetryBudget {
  readonly #mem: Int32Array;
  readonly #base: number;
  readonly #ratio: number;
  readonly #min: number;
  readonly #window: number;

  constructor(shared: SharedBalancerState, slot: number, cfg: RetryBudgetConfig) {
    this.#mem = shared.upstreams;
    this.#base = slot * U.Stride + U.BudgetBase;
    this.#ratio = cfg.budgetPercent / 100;
    this.#min = cfg.minRetries;
    this.#window = Math.min(cfg.window, U.BudgetBuckets - 1);
  }

  /** Count one client request at unix second `now`. */
  recordRequest(now: number): void {
    Atomics.add(this.#mem, this.#bucket(now) + REQUESTS, 1);
  }

  /** Take one retry from the budget if it has room. */
  tryRetry(now: number): boolean {
    const mem = this.#mem;
    let requests = 0;
    let retries = 0;
    for (let k = 0; k < this.#window; k++) {
      const second = now - k;
      const b = this.#base + (second % U.BudgetBuckets) * 3;
      if (Atomics.load(mem, b) !== second) continue;
      requests += Atomics.load(mem, b + REQUESTS);
      retries += Atomics.load(mem, b + RETRIES);
    }
    if (retries >= this.#min + this.#ratio * requests) return false;
    Atomics.add(mem, this.#bucket(now) + RETRIES, 1);
    return true;
  }

  #bucket(now: number): number {
    const mem = this.#mem;
    const b = this.#base + (now % U.BudgetBuckets) * 3;
    const second = Atomics.load(mem, b);
    if (second !== now && Atomics.compareExchange(mem, b, second, now) === second) {
      Atomics.store(mem, b + REQUESTS, 0);
      Atomics.store(mem, b + RETRIES, 0);
    }
    return b;
  }
}
