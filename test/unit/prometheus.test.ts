/**
 * The prometheus plugin from inline YAML through its real schema: Kong's defaults, what each
 * switch records, labels and bucket boundaries, the merge of two workers' families into one
 * exposition, and the node-level families.
 */
import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';
import { parsePrometheus, select, valueOf } from '../helpers/prometheus';
import { collectKongFamilies, resetKongCells } from '../../src/plugins/prometheus/store';
import { kongNodeFamilies, withKongFamilies } from '../../src/plugins/prometheus/node-metrics';
import { mergeFamilies, renderMetrics } from '../../src/metrics/exposition';
import { RouteAggregate } from '../../src/metrics/aggregate';
import type { MetricFamily } from '../../src/metrics/registry';
import type { ConsumerConfig } from '../../src/config/types';

function plugin(config = '{}') {
  return pluginFromYaml(
    `_format_version: "3.0"
services:
  - name: orders
    url: http://127.0.0.1:1
    routes:
      - name: orders-route
        paths: [/orders]
  - host: unnamed.internal
    port: 80
    routes:
      - id: 6f1f0c4e-0000-4000-8000-000000000001
        paths: [/x]
plugins:
  - name: prometheus
    config: ${config}
`,
    'prometheus',
  );
}

const alice: ConsumerConfig = { id: 'c1', username: 'alice', customId: null, tags: [] };

/** A finished request: 2 ms in the gateway before the upstream, 30 ms to its head, 3 ms of body. */
function finished(over: Partial<FakeContext> = {}): FakeContext {
  const ctx = new FakeContext();
  ctx.routeId = 'orders-route-id';
  ctx.routeName = 'orders-route';
  ctx.responseStatus = 200;
  ctx.startedAt = 1000;
  ctx.upstreamStartedAt = 1002;
  ctx.upstreamHeadersAt = 1032;
  ctx.finishedAt = 1035;
  ctx.requestSize = 120;
  ctx.responseSize = 512;
  Object.assign(ctx, over);
  return ctx;
}

function exposition(families: readonly MetricFamily[][]) {
  const workers = families.map((f, i) => ({ workerId: i + 1, inFlight: 0, configVersion: 1, cells: [], eventLoop: null, families: f }));
  const text = renderMetrics({
    metricsEnabled: true,
    consumerLabels: false,
    routes: new RouteAggregate(),
    workers,
    workerStates: [],
    workersMissing: 0,
    configVersion: 1,
    lastReloadAtMs: 0,
    reloads: { success: 0, failure: 0 },
    downstreamConnections: null,
    startedAtMs: 0,
    draining: false,
    extra: mergeFamilies(workers, []),
  });
  return { text, samples: parsePrometheus(text) };
}

beforeEach(() => resetKongCells());

describe('prometheus plugin', () => {
  test("Kong 3.9's defaults: every switch off, so nothing is recorded", () => {
    const { config, instance } = plugin();
    assert.deepEqual(config.config, {
      per_consumer: false,
      status_code_metrics: false,
      ai_metrics: false,
      latency_metrics: false,
      bandwidth_metrics: false,
      upstream_health_metrics: false,
    });
    instance.onLog!(finished());
    assert.deepEqual(collectKongFamilies(), []);
  });

  test('status_code_metrics: code and source labels; service label is the name, route the name', () => {
    const { instance, normalized } = plugin('{ status_code_metrics: true }');
    const route = normalized.routes[0];
    instance.onLog!(finished({ routeId: route.id, routeName: route.name }));
    instance.onLog!(finished({ routeId: route.id, routeName: route.name }));
    instance.onLog!(finished({ routeId: route.id, routeName: route.name, responseStatus: 401, responseSource: 'exit', upstreamHeadersAt: 0 }));
    instance.onLog!(finished({ routeId: route.id, routeName: route.name, responseStatus: 502, responseSource: 'error' }));
    const { samples, text } = exposition([collectKongFamilies()]);
    assert.match(text, /# TYPE kong_http_requests_total counter/);
    const base = { service: 'orders', route: 'orders-route', workspace: 'default', consumer: '' };
    assert.equal(valueOf(samples, 'kong_http_requests_total', { ...base, code: '200', source: 'service' }), 2);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { ...base, code: '401', source: 'kong' }), 1);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { ...base, code: '502', source: 'kong' }), 1);
    assert.equal(select(samples, 'kong_bandwidth_bytes').length, 0, 'bandwidth off');
  });

  test('a service without a name is labelled by its host, a route without one by its id', () => {
    const { instance, normalized } = plugin('{ status_code_metrics: true }');
    const route = normalized.routes[1];
    instance.onLog!(finished({ routeId: route.id, routeName: null }));
    const { samples } = exposition([collectKongFamilies()]);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { service: 'unnamed.internal', route: route.id, code: '200' }), 1);
  });

  test('per_consumer fills the consumer label with the username (requests and bandwidth only)', () => {
    const { instance } = plugin('{ status_code_metrics: true, bandwidth_metrics: true, per_consumer: true, latency_metrics: true }');
    instance.onLog!(finished({ consumer: alice }));
    instance.onLog!(finished());
    const { samples } = exposition([collectKongFamilies()]);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { consumer: 'alice', code: '200' }), 1);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { consumer: '', code: '200' }), 1);
    assert.equal(valueOf(samples, 'kong_bandwidth_bytes', { consumer: 'alice', direction: 'ingress' }), 120);
    assert.equal(valueOf(samples, 'kong_bandwidth_bytes', { consumer: 'alice', direction: 'egress' }), 512);
    assert.ok(select(samples, 'kong_request_latency_count').every((s) => !('consumer' in s.labels)), 'latency has no consumer label');
  });

  test("latency_metrics: Kong's buckets, le printed as plain numbers, cumulative counts", () => {
    const { instance } = plugin('{ latency_metrics: true }');
    instance.onLog!(finished());
    // A local reply: no upstream latency; the whole request is the gateway's.
    instance.onLog!(finished({ upstreamStartedAt: 0, upstreamHeadersAt: 0, finishedAt: 1004, responseStatus: 401 }));
    const { samples, text } = exposition([collectKongFamilies()]);
    assert.match(text, /# TYPE kong_kong_latency_ms histogram/);
    const kongLe = select(samples, 'kong_kong_latency_ms_bucket').map((s) => s.labels.le);
    assert.deepEqual(kongLe, ['1', '2', '5', '7', '10', '15', '20', '30', '50', '75', '100', '200', '500', '750', '1000', '3000', '6000', '+Inf']);
    const upLe = select(samples, 'kong_upstream_latency_ms_bucket').map((s) => s.labels.le);
    assert.deepEqual(upLe, ['25', '50', '80', '100', '250', '400', '700', '1000', '2000', '5000', '10000', '30000', '60000', '+Inf']);
    // kong latency: 2 + 3 = 5 ms for the proxied one, 4 ms for the local reply.
    assert.equal(valueOf(samples, 'kong_kong_latency_ms_bucket', { le: '2' }), 0);
    assert.equal(valueOf(samples, 'kong_kong_latency_ms_bucket', { le: '5' }), 2);
    assert.equal(valueOf(samples, 'kong_kong_latency_ms_sum'), 9);
    assert.equal(valueOf(samples, 'kong_upstream_latency_ms_count'), 1, 'only the proxied request has an upstream latency');
    assert.equal(valueOf(samples, 'kong_upstream_latency_ms_bucket', { le: '25' }), 0);
    assert.equal(valueOf(samples, 'kong_upstream_latency_ms_bucket', { le: '50' }), 1);
    assert.equal(valueOf(samples, 'kong_request_latency_ms_count'), 2);
    assert.equal(valueOf(samples, 'kong_request_latency_ms_sum'), 39);
    assert.deepEqual(Object.keys(select(samples, 'kong_request_latency_ms_count')[0].labels), ['service', 'route', 'workspace']);
  });

  test('two workers: counters and histogram buckets are summed per label set', () => {
    const conf = '{ status_code_metrics: true, latency_metrics: true }';
    plugin(conf).instance.onLog!(finished());
    const first = collectKongFamilies();
    // The second worker: its own cells and its own instance.
    resetKongCells();
    const { instance } = plugin(conf);
    instance.onLog!(finished());
    instance.onLog!(finished({ responseStatus: 404 }));
    const second = collectKongFamilies();
    const { samples } = exposition([first, second]);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { code: '200' }), 2);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { code: '404' }), 1);
    assert.equal(valueOf(samples, 'kong_request_latency_ms_count'), 3);
    assert.equal(valueOf(samples, 'kong_request_latency_ms_bucket', { le: '+Inf' }), 3);
  });

  test('an unrouted request is not counted', () => {
    const { instance } = plugin('{ status_code_metrics: true }');
    instance.onLog!(finished({ routeId: '' }));
    assert.deepEqual(collectKongFamilies(), []);
  });
});

describe('prometheus node-level families', () => {
  const { normalized } = plugin('{ upstream_health_metrics: true }');
  test('nginx requests and connections, datastore, node info; target health by Kong state', () => {
    const families = kongNodeFamilies({
      config: normalized,
      requestsTotal: 42,
      activeConnections: 3,
      targets: [
        { upstream: 'u', target: 'a:80', address: '10.0.0.1:80', state: 'unhealthy', healthy: false },
        { upstream: 'u', target: 'b:80', address: '', state: 'dns_error', healthy: false },
      ],
    });
    const byName = new Map(families.map((f) => [f.name, f]));
    assert.deepEqual(byName.get('kong_nginx_requests_total')!.samples.map((s) => s.value), [42]);
    const conns = byName.get('kong_nginx_connections_total')!.samples;
    assert.deepEqual(conns.map((s) => [s.labels.state, s.value]), [['active', 3], ['total', 42]]);
    assert.equal(byName.get('kong_datastore_reachable')!.samples[0].value, 1);
    const health = byName.get('kong_upstream_target_health')!.samples;
    assert.deepEqual(health.filter((s) => s.value === 1).map((s) => [s.labels.target, s.labels.state]), [['a:80', 'unhealthy'], ['b:80', 'dns_error']]);
    assert.equal(health.length, 8, 'four states per target');
  });

  test('nothing without a prometheus entry; no target health unless a switch asks for it', () => {
    assert.deepEqual(kongNodeFamilies({ config: { ...normalized, plugins: [] }, requestsTotal: 1, activeConnections: 1, targets: [] }), []);
    const { normalized: plain } = plugin('{}');
    const names = kongNodeFamilies({ config: plain, requestsTotal: 1, activeConnections: null, targets: [] }).map((f) => f.name);
    assert.deepEqual(names, ['kong_nginx_connections_total', 'kong_nginx_requests_total', 'kong_datastore_reachable', 'kong_node_info']);
  });

  test("after a reload without prometheus, the workers' kong_* families are no longer served", () => {
    const merged: MetricFamily[] = [
      { name: 'kong_http_requests_total', help: '', type: 'counter', samples: [{ labels: {}, value: 1 }] },
      { name: 'floodgate_log_queue_pending', help: '', type: 'gauge', samples: [] },
    ];
    const input = { requestsTotal: 1, activeConnections: null, targets: [] };
    assert.deepEqual(withKongFamilies(merged, { ...input, config: { ...normalized, plugins: [] } }).map((f) => f.name), ['floodgate_log_queue_pending']);
    assert.ok(withKongFamilies(merged, { ...input, config: normalized }).some((f) => f.name === 'kong_http_requests_total'));
  });
});
