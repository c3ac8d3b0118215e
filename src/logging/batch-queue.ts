/**
 * A bounded, batching, retrying queue for log entries (Kong's kong.tools.queue, per worker):
 * http-log, file-log and opentelemetry push entries in the log phase and never wait.
 *
 * - Bounded: at most `maxEntries` entries wait; a push beyond that drops the entry and counts it.
 *   A log sink that cannot keep up costs log lines, never requests or memory.
 * - Batching: a batch goes out when `maxBatchSize` entries are waiting, or `maxCoalescingDelayMs`
 *   after the first entry of a batch arrived (one timer per batch, not per entry).
 * - One batch in flight at a time (Kong's concurrency_limit 1), so entries keep their order.
 * - Retries: a failed batch is retried with exponential backoff (`initialRetryDelayMs`, doubling,
 *   capped at `maxRetryDelayMs`) until `maxRetryTimeMs` after its first attempt; then it is
 *   dropped and counted as failed.
 */

export interface BatchQueueOptions {
  readonly maxBatchSize: number;
  readonly maxCoalescingDelayMs: number;
  readonly maxEntries: number;
  readonly maxRetryTimeMs: number;
  readonly initialRetryDelayMs: number;
  readonly maxRetryDelayMs: number;
}

/** Kong's queue defaults (seconds there, ms here). */
export const KONG_QUEUE_DEFAULTS: BatchQueueOptions = {
  maxBatchSize: 1,
  maxCoalescingDelayMs: 1_000,
  maxEntries: 10_000,
  maxRetryTimeMs: 60_000,
  initialRetryDelayMs: 10,
  maxRetryDelayMs: 60_000,
};

/** Monotonic counters, per queue and per worker. */
export interface QueueCounters {
  /** Entries accepted into the queue. */
  queued: number;
  /** Entries delivered. */
  sent: number;
  /** Entries refused because the queue was full. */
  dropped: number;
  /** Batch attempts that failed and were retried. */
  retried: number;
  /** Entries given up after max_retry_time. */
  failed: number;
}

const FULL_REPORT_EVERY_MS = 10_000;

export type SendBatch<T> = (batch: T[]) => Promise<void>;

export class BatchQueue<T> {
  readonly name: string;
  readonly options: BatchQueueOptions;
  readonly counters: QueueCounters = { queued: 0, sent: 0, dropped: 0, retried: 0, failed: 0 };
  readonly #send: SendBatch<T>;
  readonly #onError: (err: unknown, attempt: number, givingUp: boolean) => void;
  #onFull: ((counters: QueueCounters) => void) | null = null;
  #lastFullReport = -Infinity;
  #entries: T[] = [];
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #closed = false;

  constructor(name: string, options: BatchQueueOptions, send: SendBatch<T>, onError: (err: unknown, attempt: number, givingUp: boolean) => void) {
    this.name = name;
    this.options = options;
    this.#send = send;
    this.#onError = onError;
  }

  /** Entries waiting (not counting a batch being sent). */
  get pending(): number {
    return this.#entries.length;
  }

  /** Called (at most every 10 s) while entries are being dropped, so operators see it in the log. */
  onFull(report: (counters: QueueCounters) => void): this {
    this.#onFull = report;
    return this;
  }

  /** Never blocks, never throws: false when the entry was dropped. */
  push(entry: T): boolean {
    if (this.#closed || this.#entries.length >= this.options.maxEntries) {
      this.counters.dropped++;
      if (this.#onFull !== null) {
        const now = Date.now();
        if (now - this.#lastFullReport >= FULL_REPORT_EVERY_MS) {
          this.#lastFullReport = now;
          this.#onFull(this.counters);
        }
      }
      return false;
    }
    this.#entries.push(entry);
    this.counters.queued++;
    if (this.#inFlight !== null) return true; // the sender picks it up when the current batch is done
    if (this.#entries.length >= this.options.maxBatchSize) this.#startSending();
    else if (this.#timer === null) {
      this.#timer = setTimeout(this.#onTimer, this.options.maxCoalescingDelayMs);
      this.#timer.unref();
    }
    return true;
  }

  /** Send everything waiting now (drain, tests); resolves when the queue is empty or gave up. */
  async flush(): Promise<void> {
    while (this.#entries.length > 0 || this.#inFlight !== null) {
      if (this.#inFlight === null) this.#startSending(true);
      await this.#inFlight;
    }
  }

  /** Stop accepting entries; what is queued can still be flushed. */
  close(): void {
    this.#closed = true;
  }

  #onTimer = (): void => {
    this.#timer = null;
    if (this.#inFlight === null && this.#entries.length > 0) this.#startSending(true);
  };

  #startSending(force = false): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (!force && this.#entries.length < this.options.maxBatchSize) return;
    this.#inFlight = this.#run().finally(() => {
      this.#inFlight = null;
      // Whatever arrived meanwhile: a full batch goes at once, a partial one waits its delay.
      if (this.#entries.length >= this.options.maxBatchSize) this.#startSending();
      else if (this.#entries.length > 0 && this.#timer === null) {
        this.#timer = setTimeout(this.#onTimer, this.options.maxCoalescingDelayMs);
        this.#timer.unref();
      }
    });
  }

  async #run(): Promise<void> {
    const batch = this.#entries.splice(0, this.options.maxBatchSize);
    if (batch.length === 0) return;
    const firstAttempt = Date.now();
    let delay = this.options.initialRetryDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#send(batch);
        this.counters.sent += batch.length;
        return;
      } catch (err) {
        const givingUp = Date.now() - firstAttempt + delay > this.options.maxRetryTimeMs;
        this.#onError(err, attempt, givingUp);
        if (givingUp) {
          this.counters.failed += batch.length;
          return;
        }
        this.counters.retried++;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, this.options.maxRetryDelayMs);
      }
    }
  }
}

/** Every live queue of this worker, by key (name + config), for the metrics reader. */
const registry = new Map<string, { queue: BatchQueue<unknown>; dispose: () => void }>();
/** Counters of queues retired after a reload changed their entry's config, so totals stay monotonic. */
const retired = new Map<string, QueueCounters>();

/** Requests still running on the old snapshot get this long to log before its queue retires. */
const RETIRE_AFTER_MS = 60_000;
const RETIRING = '\u0000retiring';

/**
 * The queue for `key` (plugin name + entry id + config), created once and shared by the
 * snapshots that keep the same plugin config, so a reload does not lose queued entries. When a
 * reload changes an entry's config, the old queue (same name, other key) is retired after
 * RETIRE_AFTER_MS: flushed, disposed (its sockets and sink released), and its counters kept.
 */
export function sharedQueue<T>(key: string, make: () => BatchQueue<T>, dispose: () => void = () => {}): BatchQueue<T> {
  const found = registry.get(key);
  if (found !== undefined) return found.queue as BatchQueue<T>;
  const queue = make();
  const replaced = [...registry].filter(([k, e]) => e.queue.name === queue.name && !k.endsWith(RETIRING));
  for (const [otherKey, other] of replaced) {
    // Still counted (and flushed on drain) until it retires.
    registry.delete(otherKey);
    const retiringKey = otherKey + RETIRING;
    registry.set(retiringKey, other);
    const timer = setTimeout(() => {
      other.queue.close();
      void other.queue.flush().finally(() => {
        registry.delete(retiringKey);
        const c = other.queue.counters;
        const prev = retired.get(other.queue.name) ?? { queued: 0, sent: 0, dropped: 0, retried: 0, failed: 0 };
        retired.set(other.queue.name, {
          queued: prev.queued + c.queued,
          sent: prev.sent + c.sent,
          dropped: prev.dropped + c.dropped,
          retried: prev.retried + c.retried,
          failed: prev.failed + c.failed,
        });
        other.dispose();
      });
    }, RETIRE_AFTER_MS);
    timer.unref();
  }
  registry.set(key, { queue: queue as BatchQueue<unknown>, dispose });
  return queue;
}

export interface LogQueueStats extends QueueCounters {
  /** e.g. `http-log` */
  readonly plugin: string;
  /** The plugin entry's id (several entries of one plugin have their own queues). */
  readonly id: string;
  readonly pending: number;
}

/**
 * This worker's log-queue counters, for /metrics (e.g. floodgate_log_queue_dropped_total{plugin,id}).
 * Monotonic since the worker started; sum them across workers.
 */
export function logQueueStats(): LogQueueStats[] {
  const byName = new Map<string, LogQueueStats>();
  const add = (name: string, pending: number, c: QueueCounters) => {
    const prev = byName.get(name);
    const colon = name.indexOf(':');
    byName.set(name, {
      plugin: name.slice(0, colon),
      id: name.slice(colon + 1),
      pending: (prev?.pending ?? 0) + pending,
      queued: (prev?.queued ?? 0) + c.queued,
      sent: (prev?.sent ?? 0) + c.sent,
      dropped: (prev?.dropped ?? 0) + c.dropped,
      retried: (prev?.retried ?? 0) + c.retried,
      failed: (prev?.failed ?? 0) + c.failed,
    });
  };
  for (const { queue } of registry.values()) add(queue.name, queue.pending, queue.counters);
  for (const [name, c] of retired) add(name, 0, c);
  return [...byName.values()];
}
