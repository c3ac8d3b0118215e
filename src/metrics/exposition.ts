/**
 * Prometheus text exposition (format 0.0.4) of the merged state: one HELP/TYPE header per family,
 * then its samples. Cold code: runs once per scrape on the primary.
 */
import type { JsHistogram } from 'hdr-histogram-js';
import type { MergedCell, RouteAggregate } from './aggregate';
import { cumulativeBuckets, LATENCY_BUCKETS_SECONDS, QUANTILES } from './latency-histogram';
import type { MetricFamily, MetricType } from './registry';
import type { WorkerMetricsSnapshot } from './snapshot-types';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface WorkerState {
  readonly id: number;
  readonly listening: boolean;
  readonly restarts: number;
}

export interface ExpositionInput {
  readonly metricsEnabled: boolean;
  readonly consumerLabels: boolean;
  readonly routes: RouteAggregate;
  readonly workers: readonly WorkerMetricsSnapshot[];
  readonly workerStates: readonly WorkerState[];
  /** Workers asked that did not answer in time. */
  readonly workersMissing: number;
  readonly configVersion: number;
  readonly lastReloadAtMs: number;
  readonly reloads: { readonly success: number; readonly failure: number };
  readonly downstreamConnections: number | null;
  readonly startedAtMs: number;
  readonly draining: boolean;
  /** Families from the primary's and the workers' collectors, merged already. */
  readonly extra: readonly MetricFamily[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Writer {
  readonly lines: string[] = [];

  family(name: string, type: MetricType, help: string): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Readonly<Record<string, string>> | null, value: number): void {
    let text = name;
    if (labels !== null) {
      const parts: string[] = [];
      for (const k in labels) parts.push(`${k}="${escapeLabel(labels[k])}"`);
      if (parts.length > 0) text += `{${parts.join(',')}}`;
    }
    this.lines.push(`${text} ${formatValue(value)}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

function routeLabels(c: MergedCell): Record<string, string> {
  return { service: c.service, route: c.route };
}

function latencyFamily(w: Writer, name: string, help: string, cells: readonly MergedCell[], pick: (c: MergedCell) => JsHistogram, sumIndex: number): void {
  w.family(name, 'histogram', help);
  for (const c of cells) {
    const h = pick(c);
    // An idle route (or a local-reply-only one for upstream latency) has no series yet.
    if (h.totalCount === 0) continue;
    const labels = routeLabels(c);
    const counts = cumulativeBuckets(h, LATENCY_BUCKETS_SECONDS);
    for (let b = 0; b < LATENCY_BUCKETS_SECONDS.length; b++) w.sample(`${name}_bucket`, { ...labels, le: String(LATENCY_BUCKETS_SECONDS[b]) }, counts[b]);
    w.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.totalCount);
    w.sample(`${name}_sum`, labels, c.sumsUs[sumIndex] / 1e6);
    w.sample(`${name}_count`, labels, h.totalCount);
  }
  const qName = name.replace(/_seconds$/, '_quantile_seconds');
  w.family(qName, 'gauge', `${help} Quantiles since start (HDR, 2 significant digits).`);
  for (const c of cells) {
    const h = pick(c);
    if (h.totalCount === 0) continue;
    for (const q of QUANTILES) w.sample(qName, { ...routeLabels(c), quantile: String(q) }, h.getValueAtPercentile(q * 100) / 1e6);
  }
}

export function renderMetrics(input: ExpositionInput): string {
  const w = new Writer();
  const cells = [...input.routes.cells.values()].sort((a, b) => (a.service + '\0' + a.route).localeCompare(b.service + '\0' + b.route));

  if (input.metricsEnabled) {
    w.family('floodgate_http_requests_total', 'counter', 'Requests by service, route and status code (499: the client went away). service="" route="" counts requests that matched no route.');
    for (const c of cells) {
      if (input.consumerLabels && c.consumers !== null) {
        for (const [consumer, codes] of [...c.consumers].sort((a, b) => a[0].localeCompare(b[0]))) {
          for (const [code, n] of [...codes].sort((a, b) => a[0] - b[0])) w.sample('floodgate_http_requests_total', { ...routeLabels(c), consumer, code: String(code) }, n);
        }
      } else {
        for (const [code, n] of [...c.codes].sort((a, b) => a[0] - b[0])) w.sample('floodgate_http_requests_total', { ...routeLabels(c), code: String(code) }, n);
      }
    }
    latencyFamily(w, 'floodgate_request_latency_seconds', 'Total request latency: from the request head to the end of the response.', cells, (c) => c.total, 0);
    latencyFamily(w, 'floodgate_upstream_latency_seconds', 'Upstream latency: from sending the upstream request to its response headers (or to the failure).', cells, (c) => c.upstream, 1);
    latencyFamily(w, 'floodgate_gateway_latency_seconds', 'Latency the gateway adds: total minus upstream latency (the whole total for a local reply).', cells, (c) => c.gateway, 2);
    w.family('floodgate_bytes_received_total', 'counter', 'Request body bytes received from clients.');
    for (const c of cells) w.sample('floodgate_bytes_received_total', routeLabels(c), c.bytesIn);
    w.family('floodgate_bytes_sent_total', 'counter', 'Response body bytes sent to clients.');
    for (const c of cells) w.sample('floodgate_bytes_sent_total', routeLabels(c), c.bytesOut);
  }

  w.family('floodgate_requests_in_flight', 'gauge', 'Requests between arrival and end, per worker.');
  for (const s of input.workers) w.sample('floodgate_requests_in_flight', { worker: String(s.workerId) }, s.inFlight);
  if (input.downstreamConnections !== null) {
    w.family('floodgate_downstream_connections', 'gauge', 'Established TCP connections on the proxy port (from /proc/net/tcp and tcp6 at scrape time).');
    w.sample('floodgate_downstream_connections', null, input.downstreamConnections);
  }
  const withLoop = input.workers.filter((s) => s.eventLoop !== null);
  if (withLoop.length > 0) {
    w.family('floodgate_worker_event_loop_lag_seconds', 'gauge', 'Event-loop delay of each worker since the previous scrape (quantile="1" is the maximum).');
    for (const s of withLoop) {
      const loop = s.eventLoop!;
      w.sample('floodgate_worker_event_loop_lag_seconds', { worker: String(s.workerId), quantile: '0.5' }, loop.p50);
      w.sample('floodgate_worker_event_loop_lag_seconds', { worker: String(s.workerId), quantile: '0.99' }, loop.p99);
      w.sample('floodgate_worker_event_loop_lag_seconds', { worker: String(s.workerId), quantile: '1' }, loop.max);
    }
  }
  w.family('floodgate_worker_restarts_total', 'counter', 'Times each worker slot was respawned after its worker died.');
  for (const s of input.workerStates) w.sample('floodgate_worker_restarts_total', { worker: String(s.id) }, s.restarts);
  w.family('floodgate_workers_listening', 'gauge', 'Workers currently accepting connections.');
  w.sample('floodgate_workers_listening', null, input.workerStates.filter((s) => s.listening).length);
  w.family('floodgate_metrics_workers_missing', 'gauge', 'Workers that did not answer this scrape in time (their counts are missing from it).');
  w.sample('floodgate_metrics_workers_missing', null, input.workersMissing);
  w.family('floodgate_draining', 'gauge', '1 while the node drains after SIGTERM.');
  w.sample('floodgate_draining', null, input.draining ? 1 : 0);
  w.family('floodgate_config_version', 'gauge', 'Version of the running config (1 at start, +1 per applied reload).');
  w.sample('floodgate_config_version', null, input.configVersion);
  w.family('floodgate_config_last_reload_timestamp_seconds', 'gauge', 'Unix time the running config was applied (start time until the first reload).');
  w.sample('floodgate_config_last_reload_timestamp_seconds', null, input.lastReloadAtMs / 1000);
  w.family('floodgate_config_reloads_total', 'counter', 'Config reloads (SIGHUP or POST /config) by result.');
  w.sample('floodgate_config_reloads_total', { result: 'success' }, input.reloads.success);
  w.sample('floodgate_config_reloads_total', { result: 'failure' }, input.reloads.failure);
  w.family('process_start_time_seconds', 'gauge', 'Unix time the process started.');
  w.sample('process_start_time_seconds', null, input.startedAtMs / 1000);
  w.family('process_resident_memory_bytes', 'gauge', 'Resident memory of the whole process (all workers).');
  w.sample('process_resident_memory_bytes', null, process.memoryUsage.rss());

  for (const f of input.extra) {
    w.family(f.name, f.type, f.help);
    for (const s of f.samples) w.sample(s.name ?? f.name, s.labels, s.value);
  }
  return w.text();
}

/**
 * Combines the workers' families of the same name: samples with the same labels are summed,
 * maxed, or kept apart under a `worker` label, as each family's `merge` says.
 */
export function mergeFamilies(workers: readonly WorkerMetricsSnapshot[], primary: readonly MetricFamily[]): MetricFamily[] {
  const byName = new Map<string, { family: MetricFamily; samples: Map<string, { name?: string; labels: Record<string, string>; value: number }> }>();
  const add = (f: MetricFamily, workerId: number | null) => {
    let entry = byName.get(f.name);
    if (entry === undefined) byName.set(f.name, (entry = { family: f, samples: new Map() }));
    const rule = workerId === null ? 'sum' : (f.merge ?? 'sum');
    for (const s of f.samples) {
      const labels: Record<string, string> = rule === 'per-worker' && workerId !== null ? { ...s.labels, worker: String(workerId) } : { ...s.labels };
      const key = (s.name ?? '') + JSON.stringify(Object.entries(labels).sort());
      const current = entry.samples.get(key);
      if (current === undefined) entry.samples.set(key, s.name === undefined ? { labels, value: s.value } : { name: s.name, labels, value: s.value });
      else current.value = rule === 'max' ? Math.max(current.value, s.value) : current.value + s.value;
    }
  };
  for (const f of primary) add(f, null);
  for (const w of workers) for (const f of w.families) add(f, w.workerId);
  return [...byName.values()].map(({ family, samples }) => ({ name: family.name, help: family.help, type: family.type, samples: [...samples.values()] }));
}
