/**
 * Hooks for modules that want their own counters and gauges on /metrics without touching the
 * metrics code: register a collector, a function that returns metric families when scraped.
 *
 * - `workerCollectors`: runs on each worker at scrape time (the snapshot message carries the
 *   result). The primary merges a family's samples with the same labels across workers as the
 *   family's `merge` says: 'sum' (per-worker counters: rejections, errors), 'max', or
 *   'per-worker' (a `worker` label is added; per-worker gauges such as a worker's view of a
 *   target's health).
 * - `primaryCollectors`: runs on the primary (state that lives there).
 *
 * Collectors are called only on a scrape, never per request, so they may allocate. A collector
 * that throws is logged and skipped; the rest of /metrics is still served.
 *
 * Example (a rate limiter keeping per-worker counts):
 *
 *   workerCollectors.register('rate-limiting', () => [{
 *     name: 'floodgate_rate_limit_rejections_total', help: 'Requests rejected with 429 by rate limiting.',
 *     type: 'counter', merge: 'sum',
 *     samples: limiter.stats().map((s) => ({ labels: { route: s.route }, value: s.rejected })),
 *   }]);
 */

/** 'histogram': samples name their series (`_bucket` with an `le` label, `_sum`, `_count`). */
export type MetricType = 'counter' | 'gauge' | 'histogram';
export type MergeRule = 'sum' | 'max' | 'per-worker';

export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** The series name when it is not the family's (a histogram's `<name>_bucket`, `_sum`, `_count`). */
  readonly name?: string;
}

export interface MetricFamily {
  /** Prometheus name: [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in `_total`. */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  /** How the primary combines workers' samples; ignored for primary collectors. */
  readonly merge?: MergeRule;
  readonly samples: readonly MetricSample[];
}

export type Collector = () => readonly MetricFamily[];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class CollectorRegistry {
  readonly #collectors = new Map<string, Collector>();

  /** Replaces a collector registered under the same id (a module re-created on reload). */
  register(id: string, collector: Collector): void {
    this.#collectors.set(id, collector);
  }

  unregister(id: string): void {
    this.#collectors.delete(id);
  }

  /** Every registered family; a failing or malformed collector is reported through `onError`. */
  collect(onError: (id: string, err: unknown) => void): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const [id, collector] of this.#collectors) {
      try {
        for (const f of collector()) {
          if (!NAME.test(f.name)) throw new Error(`invalid metric name "${f.name}"`);
          // Plain data only: it crosses a thread boundary.
          out.push({ name: f.name, help: f.help, type: f.type, merge: f.merge ?? 'sum', samples: f.samples.map((s) => (s.name === undefined ? { labels: { ...s.labels }, value: s.value } : { name: s.name, labels: { ...s.labels }, value: s.value })) });
        }
      } catch (err) {
        onError(id, err);
      }
    }
    return out;
  }
}

/** Collectors run on every worker thread (each thread has its own module instance). */
export const workerCollectors = new CollectorRegistry();
/** Collectors run on the primary. */
export const primaryCollectors = new CollectorRegistry();
