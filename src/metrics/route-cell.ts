/**
 * One route's metrics in one worker: the cell a CompiledRoute points to, so recording a request
 * is plain field increments on an object the request already holds (no label lookup).
 *
 * Cells live in the worker's MetricsStore keyed by service id + route id, so a reload that keeps
 * a route (and its service) hands the new CompiledRoute the same cell and the counts go on.
 */
import type { JsHistogram } from 'hdr-histogram-js';
import { newLatencyHistogram, toSparse } from './latency-histogram';
import { StatusCounts } from './status-counts';
import type { RouteCellSnapshot } from './snapshot-types';

/** Consumers counted separately per route; the rest share the label OVERFLOW_CONSUMER. */
export const MAX_CONSUMERS_PER_ROUTE = 1000;
export const OVERFLOW_CONSUMER = '__other__';
/** The label of requests no consumer was authenticated for. */
export const NO_CONSUMER = '';

export class RouteCell {
  readonly key: string;
  /** Label values: the entity's name, or its id when it has none ('' for no route/service). */
  service: string;
  route: string;
  readonly codes = new StatusCounts();
  /** Per consumer label; `null` unless --metrics-consumer-labels. */
  readonly consumers: Map<string, StatusCounts> | null;
  bytesIn = 0;
  bytesOut = 0;
  // Histograms are created on first use: an idle route costs no bucket arrays.
  total: JsHistogram | null = null;
  upstream: JsHistogram | null = null;
  gateway: JsHistogram | null = null;
  /** Exact sums (µs) for the histograms' `_sum`; HDR keeps none. */
  totalSumUs = 0;
  upstreamSumUs = 0;
  gatewaySumUs = 0;

  constructor(key: string, service: string, route: string, consumerLabels: boolean) {
    this.key = key;
    this.service = service;
    this.route = route;
    this.consumers = consumerLabels ? new Map() : null;
  }

  recordTotal(us: number): void {
    (this.total ??= newLatencyHistogram()).recordValue(us);
    this.totalSumUs += us;
  }

  recordUpstream(us: number): void {
    (this.upstream ??= newLatencyHistogram()).recordValue(us);
    this.upstreamSumUs += us;
  }

  recordGateway(us: number): void {
    (this.gateway ??= newLatencyHistogram()).recordValue(us);
    this.gatewaySumUs += us;
  }

  /** Only with consumer labels: one Map lookup, bounded by MAX_CONSUMERS_PER_ROUTE. */
  countConsumer(consumer: string, code: number): void {
    const map = this.consumers!;
    let counts = map.get(consumer);
    if (counts === undefined) {
      const label = map.size < MAX_CONSUMERS_PER_ROUTE ? consumer : OVERFLOW_CONSUMER;
      counts = map.get(label);
      if (counts === undefined) {
        counts = new StatusCounts();
        map.set(label, counts);
      }
    }
    counts.add(code);
  }

  snapshot(): RouteCellSnapshot {
    return {
      key: this.key,
      service: this.service,
      route: this.route,
      codes: this.codes.toPairs(),
      consumers: this.consumers === null ? null : [...this.consumers].map(([c, counts]) => [c, counts.toPairs()]),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      total: toSparse(this.total),
      upstream: toSparse(this.upstream),
      gateway: toSparse(this.gateway),
      sumsUs: [this.totalSumUs, this.upstreamSumUs, this.gatewaySumUs],
    };
  }
}
