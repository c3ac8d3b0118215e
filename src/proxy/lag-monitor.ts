/**
 * Event-loop lag as the load shedder sees it (--shed-lag-ms).
 *
 * One coarse interval timer per worker: each tick measures how late it fired. A worker past
 * saturation spends longer and longer on each loop turn (every socket has work), so its timers
 * fire late: the delay is the queueing time every new request will also pay. That is the signal
 * Envoy's overload manager and most Node shedders (e.g. `under-pressure`) use, and it costs one
 * timer callback per tick, nothing per request.
 *
 * Why not `monitorEventLoopDelay`: its histogram is exact, but reading a percentile sorts nothing
 * yet still walks buckets, and it needs a reset per window; the shedder only needs "how late was
 * the loop just now", which one `performance.now()` per tick gives.
 *
 * Smoothing: the lag jumps up at once (a stall must shed the very next requests) and decays
 * geometrically (halving every ~2 ticks), so one slow turn does not flap admission on and off.
 */
export const LAG_TICK_MS = 20;
const DECAY = 0.7;

export class LagMonitor {
  /** Smoothed lag in ms; 0 when the loop is on time. */
  lagMs = 0;
  /** The largest single-tick lag seen since the last `takeMax()` (for /metrics). */
  #maxMs = 0;
  #expected = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #tickMs: number;

  constructor(tickMs = LAG_TICK_MS) {
    this.#tickMs = tickMs;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#expected = performance.now() + this.#tickMs;
    this.#timer = setInterval(this.#tick, this.#tickMs);
    // Never keeps a draining worker alive.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.lagMs = 0;
  }

  /** Largest raw lag since the previous call, in ms. */
  takeMax(): number {
    const m = this.#maxMs;
    this.#maxMs = 0;
    return m;
  }

  /** @internal exported for tests: feed one tick's measured lateness. */
  observe(lateMs: number): void {
    const late = lateMs > 0 ? lateMs : 0;
    if (late > this.#maxMs) this.#maxMs = late;
    this.lagMs = late >= this.lagMs ? late : this.lagMs * DECAY + late * (1 - DECAY);
    if (this.lagMs < 0.5) this.lagMs = 0;
  }

  #tick = (): void => {
    const now = performance.now();
    this.observe(now - this.#expected);
    this.#expected = now + this.#tickMs;
  };
}
