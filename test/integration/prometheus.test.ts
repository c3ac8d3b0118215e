/**
 * The prometheus plugin through a real 2-worker gateway, a real upstream and key-auth consumers:
 * requests spread over both workers, then the admin /metrics is scraped and must carry Kong's
 * families (summed across workers) beside Floodgate's own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';
import { parsePrometheus, select, valueOf, type Sample } from '../helpers/prometheus';

let up: EchoUpstream;
let gw: Gateway;

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
  gw = await startGateway({
    workers: 2,
    // The access log says which worker served each request.
    args: ['--access-log', 'stdout'],
    config: `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
services:
  - name: orders
    url: http://127.0.0.1:${up.port}
    routes:
      - name: orders-route
        paths: [/orders]
        plugins: [{ name: key-auth }]
  - name: plain
    host: shop
    routes:
      - name: plain-route
        paths: [/plain]
upstreams:
  - name: shop
    targets: [{ target: "127.0.0.1:${up.port}" }]
plugins:
  - name: prometheus
    config:
      per_consumer: true
      status_code_metrics: true
      latency_metrics: true
      bandwidth_metrics: true
      upstream_health_metrics: true
`,
  });
});

after(async () => {
  await gw?.stop();
  await up?.close();
  await agent.close();
});

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(gw.adminUrl('/metrics'));
  assert.equal(res.status, 200);
  const text = await res.text();
  return { text, samples: parsePrometheus(text) };
}

/** Worker ids in the access log for `path`, once `count` 200 lines for it have been flushed. */
async function servedBy(path: string, count: number): Promise<Set<number>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = gw.out.map((l) => JSON.parse(l) as { worker: number; path: string; status: number });
    const ours = lines.filter((l) => l.path === path && l.status === 200);
    if (ours.length >= count || Date.now() > deadline) return new Set(ours.map((l) => l.worker!));
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('prometheus plugin: Kong families on the admin /metrics', () => {
  test('requests on both workers are counted once each, with Kong labels', async () => {
    // New connections spread across the two workers (SO_REUSEPORT); each request uses its own.
    const N = 20;
    for (let i = 0; i < N; i++) {
      const res = await fetch(gw.url('/orders/x'), { headers: { apikey: 'alice-key', connection: 'close' } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    for (let i = 0; i < 3; i++) assert.equal((await get(gw.url('/orders/x'))).status, 401);
    assert.equal((await get(gw.url('/plain/y'))).status, 200);

    // Both workers served some of them (new connections are spread by SO_REUSEPORT), so the
    // counts below are sums over the two workers.
    const workers = await servedBy('/orders/x', N);
    assert.deepEqual([...workers].sort(), [1, 2], 'both workers served requests');

    const { text, samples } = await scrape();
    const base = { service: 'orders', route: 'orders-route', workspace: 'default' };
    assert.equal(valueOf(samples, 'kong_http_requests_total', { ...base, code: '200', source: 'service', consumer: 'alice' }), N);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { ...base, code: '401', source: 'kong', consumer: '' }), 3);
    assert.equal(valueOf(samples, 'kong_http_requests_total', { service: 'plain', route: 'plain-route', code: '200' }), 1);
    assert.equal(valueOf(samples, 'kong_request_latency_ms_count', base), N + 3);
    assert.equal(valueOf(samples, 'kong_request_latency_ms_bucket', { ...base, le: '+Inf' }), N + 3);
    assert.equal(valueOf(samples, 'kong_upstream_latency_ms_count', base), N, 'local 401s have no upstream latency');
    assert.equal(valueOf(samples, 'kong_kong_latency_ms_count', base), N + 3);
    assert.ok(valueOf(samples, 'kong_bandwidth_bytes', { ...base, direction: 'egress', consumer: 'alice' }) > 0);
    assert.ok(valueOf(samples, 'kong_bandwidth_bytes', { ...base, direction: 'ingress', consumer: 'alice' }) > 0);
    // Kong's HELP/TYPE lines, so dashboards and recording rules see the same families.
    assert.match(text, /# TYPE kong_http_requests_total counter/);
    assert.match(text, /# TYPE kong_kong_latency_ms histogram/);
    // Node-level families, from the primary.
    assert.ok(valueOf(samples, 'kong_nginx_requests_total', { subsystem: 'http' }) >= N + 4);
    assert.equal(valueOf(samples, 'kong_datastore_reachable'), 1);
    assert.equal(select(samples, 'kong_node_info').length, 1);
    const health = select(samples, 'kong_upstream_target_health', { upstream: 'shop', target: `127.0.0.1:${up.port}` });
    assert.deepEqual(health.filter((s) => s.value === 1).map((s) => s.labels.state), ['healthchecks_off']);
    // Floodgate's own families are still there.
    assert.ok(valueOf(samples, 'floodgate_http_requests_total', { service: 'orders', route: 'orders-route', code: '200' }) >= N);
  });

  test('every request went through one of the two workers and none is counted twice', async () => {
    const before = valueOf((await scrape()).samples, 'kong_http_requests_total', { route: 'plain-route', code: '200' });
    await Promise.all(Array.from({ length: 10 }, () => get(gw.url('/plain/z'))));
    const after = valueOf((await scrape()).samples, 'kong_http_requests_total', { route: 'plain-route', code: '200' });
    assert.equal(after - before, 10);
  });
});
