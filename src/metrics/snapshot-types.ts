/**
 * What a worker sends the primary when /metrics or /status is scraped: plain, structured-clone-safe
 * data. Counters are cumulative since the worker started; histograms travel as their non-zero
 * HDR buckets (index, count), which the primary adds into histograms of the same layout.
 */
import type { MetricFamily } from './registry';

/** An HDR histogram's non-empty buckets: `indexes[i]` holds `counts[i]` values. */
export interface SparseHistogram {
  readonly indexes: number[];
  readonly counts: number[];
}

/** [status code, count] pairs. */
export type CodeCounts = Array<[number, number]>;

export interface RouteCellSnapshot {
  /** `serviceId \0 routeId`: what a reload must keep for the cell to survive it. */
  readonly key: string;
  readonly service: string;
  readonly route: string;
  readonly codes: CodeCounts;
  /** [consumer label, counts]; `null` unless --metrics-consumer-labels. */
  readonly consumers: Array<[string, CodeCounts]> | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly total: SparseHistogram;
  readonly upstream: SparseHistogram;
  readonly gateway: SparseHistogram;
  /** Exact sums of total, upstream and gateway latency, in µs. */
  readonly sumsUs: [number, number, number];
}

export interface WorkerMetricsSnapshot {
  readonly workerId: number;
  /** Requests between arrival and their end (response sent, local reply or abort). */
  readonly inFlight: number;
  readonly configVersion: number;
  /** Empty with --metrics off. */
  readonly cells: RouteCellSnapshot[];
  /** Event-loop delay since the previous scrape, in seconds; `null` with --metrics off. */
  readonly eventLoop: null | { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** What modules registered with `workerCollectors` (registry.ts) report. */
  readonly families: MetricFamily[];
}
