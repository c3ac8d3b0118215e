/**
 * Latency histograms: HDR (hdr-histogram-js) in microseconds, 2 significant digits (a recorded
 * value lands in a bucket at most 1/128 ≈ 0.8% wide), from 1 µs to 60 s; slower values are
 * recorded as 60 s (the Prometheus `+Inf` bucket and `_count` stay exact).
 *
 * Float64 counts: an Int32 bucket would overflow after ~12 h at 50k req/s. The layout is the same
 * in every thread, so a worker ships its non-empty bucket indexes and the primary adds the counts
 * at the same indexes: the merge is exact.
 */
import { Float64Histogram, type JsHistogram } from 'hdr-histogram-js';
import type { SparseHistogram } from './snapshot-types';

export const LOWEST_US = 1;
export const HIGHEST_US = 60_000_000;
export const SIGNIFICANT_DIGITS = 2;

/** Prometheus `le` bounds, in seconds: from a cache hit on loopback to a slow upstream. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** The summary-style quantiles rendered next to each histogram. */
export const QUANTILES: readonly number[] = [0.5, 0.9, 0.99, 0.999];

/**
 * hdr-histogram-js with its bucket index computed in integer arithmetic. The library finds the
 * index of every recorded value with Math.log2 and two Math.pow calls; three recordings per
 * request made that the larger part of the metrics cost (bench/micro/pipeline.ts, "log and
 * metrics decision"). For the whole microseconds recorded here (integers below 2^31) the bit
 * length gives the same index exactly (test/unit/latency-histogram.test.ts compares every
 * bucket boundary with the library's own method); anything else goes to the library.
 */
class LatencyHistogram extends Float64Histogram {
  override countsArrayIndex(value: number): number {
    if ((value | 0) !== value || value < 0) return super.countsArrayIndex(value);
    const unit = this.unitMagnitude;
    const halfMagnitude = this.subBucketHalfCountMagnitude;
    // floor(log2(value)) is 31 - clz32(value); a value of 0 lands in bucket 0, as in the library.
    const bucket = Math.max(31 - Math.clz32(value) - halfMagnitude - unit, 0);
    const subBucket = value >>> (bucket + unit);
    return ((bucket + 1) << halfMagnitude) + subBucket - this.subBucketHalfCount;
  }
}

export function newLatencyHistogram(): JsHistogram {
  return new LatencyHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS);
}

/** Milliseconds (performance.now() differences) to whole microseconds, clamped into range. */
export function toMicros(ms: number): number {
  if (!(ms > 0)) return 0;
  const us = Math.round(ms * 1000);
  return us > HIGHEST_US ? HIGHEST_US : us;
}

const EMPTY: SparseHistogram = { indexes: [], counts: [] };

/** Non-empty buckets only: a few dozen numbers for a typical latency spread. */
export function toSparse(h: JsHistogram | null): SparseHistogram {
  if (h === null || h.totalCount === 0) return EMPTY;
  const indexes: number[] = [];
  const counts: number[] = [];
  const n = h.countsArrayLength;
  for (let i = 0; i < n; i++) {
    const c = h.getCountAtIndex(i);
    if (c !== 0) {
      indexes.push(i);
      counts.push(c);
    }
  }
  return { indexes, counts };
}

/** Adds a worker's buckets into `into` (same layout, so index i means the same range). */
export function addSparse(into: JsHistogram, sparse: SparseHistogram): void {
  for (let i = 0; i < sparse.indexes.length; i++) into.recordValueWithCount(into.valueFromIndex(sparse.indexes[i]), sparse.counts[i]);
}

/**
 * Cumulative counts per `le` bound (seconds). A bucket's values are compared by the lowest value
 * of their HDR bucket, so a value within 0.8% above a bound may be counted under it.
 */
export function cumulativeBuckets(h: JsHistogram, bounds: readonly number[]): number[] {
  const perBound = new Array<number>(bounds.length).fill(0);
  const n = h.countsArrayLength;
  for (let i = 0; i < n; i++) {
    const c = h.getCountAtIndex(i);
    if (c === 0) continue;
    const seconds = h.valueFromIndex(i) / 1e6;
    for (let b = 0; b < bounds.length; b++) {
      if (seconds <= bounds[b]) {
        perBound[b] += c;
        break;
      }
    }
  }
  for (let b = 1; b < perBound.length; b++) perBound[b] += perBound[b - 1];
  return perBound;
}
