/**
 * The prometheus plugin's per-worker counts, in Kong's metric families (Kong 3.9
 * kong/plugins/prometheus/exporter.lua): names, labels and bucket boundaries as Kong has them,
 * so existing Kong dashboards and alerts work.
 *
 * One cell per (service, route) label pair, shared by every plugin entry and kept across
 * reloads (keyed by the labels, not by a snapshot), created on the route's first request. Recording
 * is field increments: status codes through `StatusCounts` (a table slot, no Map for common
 * codes), histograms as fixed bucket arrays; a Map only for per-consumer labels. The primary
 * sums the workers' families on each scrape (metrics/registry.ts `workerCollectors`), as it does
 * for every per-worker counter.
 */
import { StatusCounts } from '../../metrics/status-counts';
import type { MetricFamily, MetricSample } from '../../metrics/registry';

/** Kong's KONG_LATENCY_BUCKETS (ms), for kong_kong_latency_ms. */
export const KONG_LATENCY_BUCKETS: readonly number[] = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000];
/** Kong's UPSTREAM_LATENCY_BUCKETS (ms), for kong_upstream_latency_ms and kong_request_latency_ms. */
export const UPSTREAM_LATENCY_BUCKETS: readonly number[] = [25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000];
/** A DB-less Kong node has one workspace, "default"; Kong's label is kept for its dashboards. */
export const WORKSPACE = 'default';

/** Prometheus histogram with fixed boundaries: per-bucket (not cumulative) counts, the last for +Inf. */
export class FixedHistogram {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/** Status codes by Kong's `source` label, and bandwidth, for one consumer label value. */
export class ConsumerCounts {
  readonly fromService = new StatusCounts();
  readonly fromKong = new StatusCounts();
  ingress = 0;
  egress = 0;
}

export class KongCell {
  readonly service: string;
  readonly route: string;
  /** consumer="" (per_consumer off, or no consumer with a username). */
  readonly anyone = new ConsumerCounts();
  consumers: Map<string, ConsumerCounts> | null = null;
  readonly kongLatency = new FixedHistogram(KONG_LATENCY_BUCKETS);
  readonly upstreamLatency = new FixedHistogram(UPSTREAM_LATENCY_BUCKETS);
  readonly requestLatency = new FixedHistogram(UPSTREAM_LATENCY_BUCKETS);

  constructor(service: string, route: string) {
    this.service = service;
    this.route = route;
  }

  forConsumer(username: string): ConsumerCounts {
    const map = (this.consumers ??= new Map());
    let counts = map.get(username);
    if (counts === undefined) map.set(username, (counts = new ConsumerCounts()));
    return counts;
  }
}

/** This worker's cells, keyed by `service \0 route` labels. */
const cells = new Map<string, KongCell>();

export function kongCell(service: string, route: string): KongCell {
  const key = service + '\0' + route;
  let cell = cells.get(key);
  if (cell === undefined) cells.set(key, (cell = new KongCell(service, route)));
  return cell;
}

/** Forget every cell (tests). */
export function resetKongCells(): void {
  cells.clear();
}

function statusSamples(out: MetricSample[], cell: KongCell, consumer: string, counts: ConsumerCounts): void {
  for (const [source, codes] of [['service', counts.fromService], ['kong', counts.fromKong]] as const) {
    for (const [code, n] of codes.toPairs()) {
      out.push({ labels: { service: cell.service, route: cell.route, code: String(code), source, workspace: WORKSPACE, consumer }, value: n });
    }
  }
}

function bandwidthSamples(out: MetricSample[], cell: KongCell, consumer: string, counts: ConsumerCounts): void {
  if (counts.ingress > 0) out.push({ labels: { service: cell.service, route: cell.route, direction: 'ingress', workspace: WORKSPACE, consumer }, value: counts.ingress });
  if (counts.egress > 0) out.push({ labels: { service: cell.service, route: cell.route, direction: 'egress', workspace: WORKSPACE, consumer }, value: counts.egress });
}

/** Kong prints `le` as the plain number (1, 2.5) and `+Inf`; buckets are cumulative. */
function histogramSamples(out: MetricSample[], name: string, cell: KongCell, h: FixedHistogram): void {
  if (h.count === 0) return;
  let cumulative = 0;
  for (let i = 0; i <= h.bounds.length; i++) {
    cumulative += h.counts[i];
    const le = i < h.bounds.length ? String(h.bounds[i]) : '+Inf';
    out.push({ name: name + '_bucket', labels: { service: cell.service, route: cell.route, workspace: WORKSPACE, le }, value: cumulative });
  }
  out.push({ name: name + '_count', labels: { service: cell.service, route: cell.route, workspace: WORKSPACE }, value: h.count });
  out.push({ name: name + '_sum', labels: { service: cell.service, route: cell.route, workspace: WORKSPACE }, value: h.sum });
}

/** The worker's Kong families, for `workerCollectors` (scrape time only). */
export function collectKongFamilies(): MetricFamily[] {
  const status: MetricSample[] = [];
  const bandwidth: MetricSample[] = [];
  const kong: MetricSample[] = [];
  const upstream: MetricSample[] = [];
  const request: MetricSample[] = [];
  for (const cell of cells.values()) {
    statusSamples(status, cell, '', cell.anyone);
    bandwidthSamples(bandwidth, cell, '', cell.anyone);
    if (cell.consumers !== null) {
      for (const [username, counts] of cell.consumers) {
        statusSamples(status, cell, username, counts);
        bandwidthSamples(bandwidth, cell, username, counts);
      }
    }
    histogramSamples(kong, 'kong_kong_latency_ms', cell, cell.kongLatency);
    histogramSamples(upstream, 'kong_upstream_latency_ms', cell, cell.upstreamLatency);
    histogramSamples(request, 'kong_request_latency_ms', cell, cell.requestLatency);
  }
  const out: MetricFamily[] = [];
  if (status.length > 0) out.push({ name: 'kong_http_requests_total', help: 'HTTP status codes per consumer/service/route in Kong', type: 'counter', merge: 'sum', samples: status });
  if (kong.length > 0) {
    out.push({ name: 'kong_kong_latency_ms', help: 'Latency added by Kong and enabled plugins for each service/route in Kong', type: 'histogram', merge: 'sum', samples: kong });
  }
  if (upstream.length > 0) {
    out.push({ name: 'kong_upstream_latency_ms', help: 'Latency added by upstream response for each service/route in Kong', type: 'histogram', merge: 'sum', samples: upstream });
  }
  if (request.length > 0) {
    out.push({ name: 'kong_request_latency_ms', help: 'Total latency incurred during requests for each service/route in Kong', type: 'histogram', merge: 'sum', samples: request });
  }
  if (bandwidth.length > 0) {
    out.push({ name: 'kong_bandwidth_bytes', help: 'Total bandwidth (ingress/egress) throughput in bytes', type: 'counter', merge: 'sum', samples: bandwidth });
  }
  return out;
}
