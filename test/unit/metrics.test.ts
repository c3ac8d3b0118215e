/**
 * The metrics pieces without a gateway: status counters, route cells and their survival across
 * recompiles, the once-per-request recorder's latency definitions, the worker-to-primary merge of
 * HDR histograms (quantiles within HDR precision, exact counts and sums), the exposition format,
 * and the collector registry that other modules use.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { RouteAggregate } from '../../src/metrics/aggregate';
import { mergeFamilies, renderMetrics, type ExpositionInput } from '../../src/metrics/exposition';
import { LATENCY_BUCKETS_SECONDS, SIGNIFICANT_DIGITS } from '../../src/metrics/latency-histogram';
import { CollectorRegistry } from '../../src/metrics/registry';
import { MAX_CONSUMERS_PER_ROUTE, OVERFLOW_CONSUMER, RouteCell } from '../../src/metrics/route-cell';
import type { WorkerMetricsSnapshot } from '../../src/metrics/snapshot-types';
import { StatusCounts } from '../../src/metrics/status-counts';
import { WorkerMetrics } from '../../src/metrics/worker-metrics';
import { compileSnapshot } from '../../src/proxy/snapshot';
import { UpstreamEngine } from '../../src/upstream/engine';
import { defaultSettings } from '../../src/settings';
import { load, yaml } from '../helpers/config-text';
import { parsePrometheus, select, valueOf } from '../helpers/prometheus';

const silent = pino({ level: 'silent' });

function input(routes: RouteAggregate, workers: WorkerMetricsSnapshot[] = [], extra: ExpositionInput['extra'] = []): ExpositionInput {
  return {
    metricsEnabled: true, consumerLabels: false, routes, workers, workerStates: [{ id: 1, listening: true, restarts: 2 }], workersMissing: 0,
    configVersion: 3, lastReloadAtMs: 1_700_000_000_000, reloads: { success: 2, failure: 1 }, downstreamConnections: 5,
    startedAtMs: 1_600_000_000_000, draining: false, extra,
  };
}

/** The exact q-quantile of sorted values, HDR style (the value at rank ceil(q * n)). */
function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

describe('StatusCounts', () => {
  test('counts common and rare codes, and reports them as pairs', () => {
    const c = new StatusCounts();
    for (let i = 0; i < 5; i++) c.add(200);
    c.add(404);
    c.add(418);
    c.add(418);
    c.add(999);
    assert.equal(c.total(), 9);
    assert.deepEqual(new Map(c.toPairs()), new Map([[200, 5], [404, 1], [418, 2], [999, 1]]));
  });
});

describe('RouteCell', () => {
  test('consumer labels are bounded; the rest share one overflow label', () => {
    const cell = new RouteCell('k', 's', 'r', true);
    for (let i = 0; i < MAX_CONSUMERS_PER_ROUTE + 5; i++) cell.countConsumer(`c${i}`, 200);
    cell.countConsumer('c0', 200);
    assert.equal(cell.consumers!.size, MAX_CONSUMERS_PER_ROUTE + 1);
    assert.equal(cell.consumers!.get(OVERFLOW_CONSUMER)!.total(), 5);
    assert.equal(cell.consumers!.get('c0')!.total(), 2);
  });
});

describe('WorkerMetrics', () => {
  const config = (serviceName: string) =>
    load(yaml(`
      _format_version: "3.0"
      services:
        - name: a
          url: http://127.0.0.1:1
          routes:
            - name: ra
              paths: [/a]
        - name: ${serviceName}
          url: http://127.0.0.1:2
          routes:
            - name: rb
              paths: [/b]
    `));

  test('a recompile keeps the cell of an unchanged route, and gives a moved route a new one', async () => {
    const pools = new UpstreamEngine(defaultSettings);
    try {
      const metrics = new WorkerMetrics(false, silent);
      const first = compileSnapshot(config('b'), 1, pools);
      metrics.attach(first);
      const [ra1, rb1] = first.routesByOrder;
      ra1.metrics!.codes.add(200);
      const second = compileSnapshot(config('b2'), 2, pools);
      metrics.attach(second);
      const [ra2, rb2] = second.routesByOrder;
      assert.equal(ra2.metrics, ra1.metrics, 'same route and service id: same cell');
      assert.notEqual(rb2.metrics, rb1.metrics, 'route moved to another service: new cell');
      assert.equal(rb2.metrics!.service, 'b2');
      const snap = metrics.snapshot(1, 0, 2);
      assert.deepEqual(snap.cells.map((c) => c.route).sort(), ['', 'ra', 'rb']);
      assert.deepEqual(snap.cells.find((c) => c.route === 'ra')!.codes, [[200, 1]]);
    } finally {
      await pools.closeAll();
    }
  });

  test('record: upstream = headers - upstream start, gateway = total - upstream, aborted = 499', async () => {
    const pools = new UpstreamEngine(defaultSettings);
    try {
      const metrics = new WorkerMetrics(false, silent);
      const snap = compileSnapshot(config('b'), 1, pools);
      metrics.attach(snap);
      const route = snap.routesByOrder[0];
      const start = performance.now() - 50;
      const ctx = { route, aborted: false, responseStatus: 201, consumer: null, bodyBytes: 7, responseBytes: 11, startedAt: start, upstreamStartedAt: start + 5, upstreamHeadersAt: start + 35 };
      metrics.record(ctx as never);
      metrics.record({ ...ctx, aborted: true, upstreamStartedAt: 0, upstreamHeadersAt: 0 } as never);
      const cell = metrics.snapshot(1, 0, 1).cells.find((c) => c.route === 'ra')!;
      assert.deepEqual(new Map(cell.codes), new Map([[201, 1], [499, 1]]));
      assert.equal(cell.bytesIn, 14);
      assert.equal(cell.bytesOut, 22);
      const [total, upstream, gateway] = cell.sumsUs;
      assert.equal(upstream, 30_000, 'one upstream sample of exactly 30 ms; none for the local reply');
      assert.ok(total >= 2 * 50_000);
      assert.equal(gateway, total - upstream);
      assert.equal(cell.total.counts.reduce((a, b) => a + b, 0), 2);
      assert.equal(cell.upstream.counts.reduce((a, b) => a + b, 0), 1);
    } finally {
      await pools.closeAll();
    }
  });
});

describe('merge and exposition', () => {
  test('two workers\' histograms merge exactly: counts and sums exact, quantiles within HDR precision', () => {
    // Deterministic spread from 50 µs to ~2 s, split unevenly over two workers.
    const values: number[] = [];
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      values.push(50 + Math.floor((x / 2 ** 31) ** 3 * 2_000_000));
    }
    const w1 = new RouteCell('s\0r', 'svc', 'route', false);
    const w2 = new RouteCell('s\0r', 'svc', 'route', false);
    values.forEach((v, i) => {
      const cell = i % 3 === 0 ? w1 : w2;
      cell.recordTotal(v);
      cell.codes.add(200);
    });
    const agg = new RouteAggregate();
    agg.addSnapshot(w1.snapshot());
    agg.addSnapshot(w2.snapshot());
    const s = parsePrometheus(renderMetrics(input(agg)));

    assert.equal(valueOf(s, 'floodgate_http_requests_total', { route: 'route', code: '200' }), 5000);
    assert.equal(valueOf(s, 'floodgate_request_latency_seconds_count', { route: 'route' }), 5000);
    const exactSum = values.reduce((a, b) => a + b, 0) / 1e6;
    assert.ok(Math.abs(valueOf(s, 'floodgate_request_latency_seconds_sum', { route: 'route' }) - exactSum) < 1e-6);

    const sorted = [...values].sort((a, b) => a - b);
    const precision = 1 / 2 ** Math.floor(Math.log2(2 * 10 ** SIGNIFICANT_DIGITS)); // 1/128 for 2 digits
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const got = valueOf(s, 'floodgate_request_latency_quantile_seconds', { route: 'route', quantile: String(q) }) * 1e6;
      const want = exactQuantile(sorted, q);
      assert.ok(Math.abs(got - want) <= want * precision + 1, `p${q * 100}: got ${got} µs, exact ${want} µs`);
    }
    // Buckets: exact except for values within HDR precision of a bound.
    for (const le of LATENCY_BUCKETS_SECONDS) {
      const got = valueOf(s, 'floodgate_request_latency_seconds_bucket', { route: 'route', le: String(le) });
      const boundUs = le * 1e6;
      const low = values.filter((v) => v <= boundUs * (1 - precision)).length;
      const high = values.filter((v) => v <= boundUs * (1 + precision)).length;
      assert.ok(got >= low && got <= high, `le=${le}: ${got} not in [${low}, ${high}]`);
    }
    assert.equal(valueOf(s, 'floodgate_request_latency_seconds_bucket', { route: 'route', le: '+Inf' }), 5000);
  });

  test('addKnownFrom adds retired counts only for routes that still exist', () => {
    const live = new RouteAggregate();
    const retired = new RouteAggregate();
    const cell = (key: string) => {
      const c = new RouteCell(key, 's', key, false);
      c.codes.add(200);
      c.recordTotal(1000);
      return c.snapshot();
    };
    live.addSnapshot(cell('kept'));
    retired.addSnapshot(cell('kept'));
    retired.addSnapshot(cell('removed'));
    live.addKnownFrom(retired);
    assert.deepEqual([...live.cells.keys()], ['kept']);
    assert.equal(live.cells.get('kept')!.codes.get(200), 2);
    assert.equal(live.cells.get('kept')!.total.totalCount, 2);
  });

  test('the exposition has HELP/TYPE headers, escapes labels, and renders process series', () => {
    const agg = new RouteAggregate();
    const c = new RouteCell('k', 'we"ird\\svc', 'line\nroute', false);
    c.codes.add(200);
    agg.addSnapshot(c.snapshot());
    const text = renderMetrics(input(agg));
    assert.match(text, /^# TYPE floodgate_http_requests_total counter$/m);
    assert.match(text, /^# TYPE floodgate_request_latency_seconds histogram$/m);
    assert.ok(text.includes('floodgate_http_requests_total{service="we\\"ird\\\\svc",route="line\\nroute",code="200"} 1'));
    const s = parsePrometheus(text);
    assert.equal(valueOf(s, 'floodgate_http_requests_total', { service: 'we"ird\\svc', route: 'line\nroute' }), 1);
    assert.equal(valueOf(s, 'floodgate_config_version'), 3);
    assert.equal(valueOf(s, 'floodgate_config_last_reload_timestamp_seconds'), 1_700_000_000);
    assert.equal(valueOf(s, 'floodgate_config_reloads_total', { result: 'failure' }), 1);
    assert.equal(valueOf(s, 'floodgate_worker_restarts_total', { worker: '1' }), 2);
    assert.equal(valueOf(s, 'floodgate_downstream_connections'), 5);
    // Every family is declared once.
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    assert.equal(new Set(types).size, types.length);
  });
});

describe('collector registry', () => {
  test('collects registered families, reports a failing or misnamed collector, keeps the rest', () => {
    const reg = new CollectorRegistry();
    const errors: string[] = [];
    reg.register('good', () => [{ name: 'floodgate_things_total', help: 'Things.', type: 'counter', samples: [{ labels: { route: 'r' }, value: 3 }] }]);
    reg.register('throws', () => {
      throw new Error('boom');
    });
    reg.register('misnamed', () => [{ name: 'bad name', help: '', type: 'gauge', samples: [] }]);
    const families = reg.collect((id) => errors.push(id));
    assert.deepEqual(families.map((f) => f.name), ['floodgate_things_total']);
    assert.equal(families[0].merge, 'sum');
    assert.deepEqual(errors.sort(), ['misnamed', 'throws']);
    reg.unregister('good');
    assert.equal(reg.collect(() => {}).length, 0);
  });

  test('workers\' families merge by rule: sum, max, per-worker; they render on /metrics', () => {
    const family = (merge: 'sum' | 'max' | 'per-worker', value: number) => ({ name: `floodgate_x_${merge.replace('-', '_')}`, help: 'x', type: 'gauge' as const, merge, samples: [{ labels: { target: 't1' }, value }] });
    const worker = (id: number, v: number): WorkerMetricsSnapshot => ({
      workerId: id, inFlight: 0, configVersion: 1, cells: [], eventLoop: null,
      families: [family('sum', v), family('max', v), family('per-worker', v)],
    });
    const merged = mergeFamilies([worker(1, 2), worker(2, 5)], [{ name: 'floodgate_primary_total', help: 'p', type: 'counter', samples: [{ labels: {}, value: 9 }] }]);
    const s = parsePrometheus(renderMetrics(input(new RouteAggregate(), [], merged)));
    assert.equal(valueOf(s, 'floodgate_x_sum', { target: 't1' }), 7);
    assert.equal(valueOf(s, 'floodgate_x_max', { target: 't1' }), 5);
    assert.equal(valueOf(s, 'floodgate_x_per_worker', { target: 't1', worker: '1' }), 2);
    assert.equal(valueOf(s, 'floodgate_x_per_worker', { target: 't1', worker: '2' }), 5);
    assert.equal(select(s, 'floodgate_x_per_worker').length, 2);
    assert.equal(valueOf(s, 'floodgate_primary_total'), 9);
  });
});
