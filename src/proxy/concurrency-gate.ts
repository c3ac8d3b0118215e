/**
 * A concurrency limit with a bounded wait: at most `limit` holders at once; past that, up to
 * `maxQueue` waiters line up (FIFO) for at most `queueTimeoutMs` each, and anyone beyond is
 * refused at once. This is the shape of NGINX's `limit_conn` plus a `burst`-like queue, and what
 * Envoy's overload manager lacks (it only refuses): a short queue absorbs bursts without a 503,
 * a bounded one keeps latency bounded.
 *
 * Used by --max-in-flight (proxy/admission.ts) and the concurrency-limit plugin. Per worker: a
 * worker thread has its own event loop, so its own count; node-wide = the limit times the workers.
 *
 * Hot path: `tryEnter` is two comparisons and an increment; only a request that must wait
 * allocates (its waiter). The queue is an array used as a ring
 * (no shift), and there is one timer per gate for the oldest waiter only (FIFO with one timeout
 * means waiters expire in queue order), armed only while someone waits.
 */

/** Someone that can wait for a slot: told once, either admitted or expired (never both). */
export interface GateWaiter {
  /** A slot is now held for this waiter. */
  admitted(): void;
  /** The wait ran out; the waiter holds nothing. */
  expired(): void;
}

export interface GateStats {
  readonly active: number;
  readonly queued: number;
  readonly admittedAfterWait: number;
  readonly refusedFull: number;
  readonly expired: number;
}

export class ConcurrencyGate {
  limit: number;
  maxQueue: number;
  queueTimeoutMs: number;
  /** Slots held now. */
  active = 0;
  /** Counters for /metrics. */
  admittedAfterWait = 0;
  refusedFull = 0;
  expired = 0;

  #waiters: (GateWaiter | null)[] = [];
  #deadlines: number[] = [];
  #head = 0;
  #queued = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #now: () => number;

  constructor(limit: number, maxQueue: number, queueTimeoutMs: number, now: () => number = performance.now.bind(performance)) {
    this.limit = limit;
    this.maxQueue = maxQueue;
    this.queueTimeoutMs = queueTimeoutMs;
    this.#now = now;
  }

  get queued(): number {
    return this.#queued;
  }

  /** Take a slot now if one is free and nobody waits (a newcomer never overtakes the queue). */
  tryEnter(): boolean {
    if (this.active < this.limit && this.#queued === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  /**
   * After `tryEnter` failed: queue `waiter` (it then hears back exactly once, admitted or
   * expired) and return true, or return false when the queue is full (refuse it).
   */
  wait(waiter: GateWaiter): boolean {
    if (this.#queued >= this.maxQueue || this.queueTimeoutMs <= 0) {
      this.refusedFull++;
      return false;
    }
    // Drop the consumed prefix once it is most of the array (only here: nothing iterates now).
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#deadlines = this.#deadlines.slice(this.#head);
      this.#head = 0;
    }
    this.#waiters.push(waiter);
    this.#deadlines.push(this.#now() + this.queueTimeoutMs);
    this.#queued++;
    if (this.#timer === null) this.#arm();
    return true;
  }

  /** Give a slot back; the oldest waiter (if any) takes it. */
  leave(): void {
    this.active--;
    this.#admitWaiting();
  }

  /** A waiter went away (client abort) before hearing back: forget it. O(queue), rare. */
  cancel(waiter: GateWaiter): boolean {
    const list = this.#waiters;
    for (let i = this.#head; i < list.length; i++) {
      if (list[i] === waiter) {
        list[i] = null;
        this.#queued--;
        this.#compact();
        return true;
      }
    }
    return false;
  }

  /** New limits (a reload): more room admits waiters at once. */
  configure(limit: number, maxQueue: number, queueTimeoutMs: number): void {
    this.limit = limit;
    this.maxQueue = maxQueue;
    this.queueTimeoutMs = queueTimeoutMs;
    this.#admitWaiting();
  }

  stats(): GateStats {
    return { active: this.active, queued: this.#queued, admittedAfterWait: this.admittedAfterWait, refusedFull: this.refusedFull, expired: this.expired };
  }

  #admitWaiting(): void {
    while (this.active < this.limit && this.#queued > 0) {
      const waiter = this.#pop();
      if (waiter === null) break;
      this.active++;
      this.admittedAfterWait++;
      waiter.admitted();
    }
  }

  /** The oldest live waiter, removed; null when none. */
  #pop(): GateWaiter | null {
    while (this.#head < this.#waiters.length) {
      const w = this.#waiters[this.#head];
      this.#waiters[this.#head] = null;
      this.#head++;
      if (w !== null) {
        this.#queued--;
        this.#compact();
        return w;
      }
    }
    return null;
  }

  /** Reset the arrays once nobody waits (the same arrays: a loop over them just ends). */
  #compact(): void {
    if (this.#queued !== 0) return;
    this.#waiters.length = 0;
    this.#deadlines.length = 0;
    this.#head = 0;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #arm(): void {
    // The oldest live waiter has the earliest deadline (FIFO, one timeout).
    let i = this.#head;
    while (i < this.#waiters.length && this.#waiters[i] === null) i++;
    if (i >= this.#waiters.length) return;
    const delay = Math.max(1, this.#deadlines[i] - this.#now());
    this.#timer = setTimeout(this.#expire, delay);
    this.#timer.unref?.();
  }

  #expire = (): void => {
    this.#timer = null;
    const now = this.#now();
    // Re-read the arrays each turn: `expired()` may re-enter (a reply finishing a request).
    while (this.#head < this.#waiters.length) {
      const w = this.#waiters[this.#head];
      if (w !== null && this.#deadlines[this.#head] > now) break;
      this.#waiters[this.#head] = null;
      this.#head++;
      if (w !== null) {
        this.#queued--;
        this.expired++;
        w.expired();
      }
    }
    this.#compact();
    if (this.#queued > 0 && this.#timer === null) this.#arm();
  };
}
