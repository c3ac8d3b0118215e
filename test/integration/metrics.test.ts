/**
 * GET /metrics against known traffic: exact request counts by service, route and code, exact
 * histogram counts and byte counts, quantiles consistent with the upstream's delay, counts that
 * survive a reload for unchanged routes and a worker crash, consumer labels, and --metrics off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';
import { parsePrometheus, select, valueOf, type Sample } from '../helpers/prometheus';

let up: EchoUpstream;
let up2: EchoUpstream;

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
  up2 = await startEchoUpstream(0, '127.0.0.1', 'up2');
});
after(async () => {
  await up.close();
  await up2.close();
  await agent.close();
});

function config(opts: { bService?: string; withC?: boolean } = {}): string {
  return `_format_version: "3.0"
services:
  - name: svc-a
    url: http://127.0.0.1:${up.port}
    routes:
      - name: route-a
        paths: [/a]
      - name: slow
        paths: [/slow]
  - name: ${opts.bService ?? 'svc-b'}
    url: http://127.0.0.1:${up2.port}
    routes:
      - name: route-b
        paths: [/b]
${opts.withC === true ? `      - name: route-c
        paths: [/c]
` : ''}`;
}

async function scrape(gw: Gateway): Promise<Sample[]> {
  const res = await fetch(gw.adminUrl('/metrics'));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

const requests = (s: Sample[], labels: Record<string, string>) => valueOf(s, 'floodgate_http_requests_total', labels);

describe('metrics', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ config: config(), env: { FLOODGATE_FAULT_INJECTION: '1' } });
  });
  after(async () => {
    await gw?.stop();
  });

  test('counts by service, route and code are exact, and so are histogram counts and bytes', async () => {
    for (let i = 0; i < 25; i++) assert.equal((await get(gw.url('/a/x'))).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await get(gw.url('/a/x'), { headers: { 'x-echo-status': '503' } })).status, 503);
    for (let i = 0; i < 3; i++) assert.equal((await get(gw.url('/a/x'), { headers: { 'x-echo-status': '418' } })).status, 418);
    const body = Buffer.alloc(1000, 'b');
    for (let i = 0; i < 6; i++) {
      const res = await get(gw.url('/b/upload'), { method: 'POST', body, headers: { 'x-echo-body-bytes': '2048' } });
      assert.equal(res.status, 200);
      assert.equal(res.text.length, 2048);
    }
    for (let i = 0; i < 2; i++) assert.equal((await get(gw.url('/nowhere'))).status, 404);

    const s = await scrape(gw);
    assert.equal(requests(s, { service: 'svc-a', route: 'route-a', code: '200' }), 25);
    assert.equal(requests(s, { service: 'svc-a', route: 'route-a', code: '503' }), 4);
    assert.equal(requests(s, { service: 'svc-a', route: 'route-a', code: '418' }), 3); // a rare code
    assert.equal(requests(s, { service: 'svc-b', route: 'route-b', code: '200' }), 6);
    assert.equal(requests(s, { service: '', route: '', code: '404' }), 2);
    assert.equal(select(s, 'floodgate_http_requests_total', { route: 'slow' }).length, 0);

    const count = (name: string, route: string) => valueOf(s, `${name}_count`, { route });
    assert.equal(count('floodgate_request_latency_seconds', 'route-a'), 32);
    assert.equal(count('floodgate_upstream_latency_seconds', 'route-a'), 32);
    assert.equal(count('floodgate_gateway_latency_seconds', 'route-a'), 32);
    assert.equal(valueOf(s, 'floodgate_request_latency_seconds_bucket', { route: 'route-a', le: '+Inf' }), 32);
    // Local replies (no route) have a total and a gateway latency but no upstream one.
    assert.equal(count('floodgate_request_latency_seconds', ''), 2);
    assert.equal(select(s, 'floodgate_upstream_latency_seconds_count', { route: '' }).length, 0);
    // Buckets are cumulative.
    const buckets = select(s, 'floodgate_request_latency_seconds_bucket', { route: 'route-a' }).map((b) => b.value);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i] >= buckets[i - 1], `bucket ${i} below the previous one`);

    assert.equal(valueOf(s, 'floodgate_bytes_received_total', { route: 'route-b' }), 6000);
    assert.equal(valueOf(s, 'floodgate_bytes_sent_total', { route: 'route-b' }), 6 * 2048);
    assert.equal(valueOf(s, 'floodgate_bytes_received_total', { route: 'route-a' }), 0);
  });

  test('latency quantiles reflect the upstream delay; gateway = total - upstream', async () => {
    for (let i = 0; i < 8; i++) assert.equal((await get(gw.url('/slow'), { headers: { 'x-echo-delay-ms': '120' } })).status, 200);
    const s = await scrape(gw);
    for (const q of ['0.5', '0.9', '0.99', '0.999']) {
      const upstream = valueOf(s, 'floodgate_upstream_latency_quantile_seconds', { route: 'slow', quantile: q });
      const total = valueOf(s, 'floodgate_request_latency_quantile_seconds', { route: 'slow', quantile: q });
      // The upstream waited 120 ms before its head; HDR buckets are under 1% wide.
      assert.ok(upstream >= 0.12 * 0.99, `upstream p${q} ${upstream}`);
      assert.ok(total >= upstream * 0.99, `total p${q} ${total} < upstream ${upstream}`);
    }
    // Every request took at least 120 ms: nothing in the buckets at or below 50 ms.
    assert.equal(valueOf(s, 'floodgate_upstream_latency_seconds_bucket', { route: 'slow', le: '0.05' }), 0);
    assert.equal(valueOf(s, 'floodgate_upstream_latency_seconds_bucket', { route: 'slow', le: '+Inf' }), 8);
    const sum = (name: string) => valueOf(s, `${name}_sum`, { route: 'slow' });
    const gatewaySum = sum('floodgate_gateway_latency_seconds');
    assert.ok(gatewaySum >= 0);
    assert.ok(Math.abs(sum('floodgate_request_latency_seconds') - sum('floodgate_upstream_latency_seconds') - gatewaySum) < 1e-3);
    assert.ok(sum('floodgate_upstream_latency_seconds') >= 8 * 0.12);
  });

  test('process-level series: workers, in-flight, event-loop lag, config version', async () => {
    const s = await scrape(gw);
    assert.equal(valueOf(s, 'floodgate_workers_listening'), 2);
    assert.equal(select(s, 'floodgate_requests_in_flight').length, 2);
    assert.equal(select(s, 'floodgate_worker_event_loop_lag_seconds', { quantile: '0.99' }).length, 2);
    assert.equal(valueOf(s, 'floodgate_worker_restarts_total', { worker: '1' }), 0);
    assert.equal(valueOf(s, 'floodgate_config_version'), 1);
    assert.equal(valueOf(s, 'floodgate_metrics_workers_missing'), 0);
    assert.ok(valueOf(s, 'floodgate_downstream_connections') >= 1, 'the test agent keeps connections open');
  });

  test('a reload keeps the counts of unchanged routes and drops removed ones', async () => {
    const before = await scrape(gw);
    const reloadBefore = valueOf(before, 'floodgate_config_last_reload_timestamp_seconds');
    // route-b moves to a renamed service (new id): a new cell. route-a and slow are unchanged.
    await gw.reload(config({ bService: 'svc-b2', withC: true }));
    const s = await scrape(gw);
    assert.equal(valueOf(s, 'floodgate_config_version'), 2);
    assert.ok(valueOf(s, 'floodgate_config_last_reload_timestamp_seconds') > reloadBefore);
    assert.equal(valueOf(s, 'floodgate_config_reloads_total', { result: 'success' }), 1);
    assert.equal(requests(s, { route: 'route-a', code: '200' }), requests(before, { route: 'route-a', code: '200' }));
    assert.equal(valueOf(s, 'floodgate_request_latency_seconds_count', { route: 'slow' }), 8);
    assert.equal(select(s, 'floodgate_http_requests_total', { service: 'svc-b' }).length, 0);
    assert.equal(select(s, 'floodgate_http_requests_total', { service: 'svc-b2' }).length, 0);
    assert.equal((await get(gw.url('/a/again'))).status, 200);
    assert.equal((await get(gw.url('/c'))).status, 200);
    const after = await scrape(gw);
    assert.equal(requests(after, { route: 'route-a', code: '200' }), requests(before, { route: 'route-a', code: '200' }) + 1);
    assert.equal(requests(after, { service: 'svc-b2', route: 'route-c', code: '200' }), 1);
  });

  test('a crashed worker: its scraped counts stay and its restart is counted', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await get(gw.url('/a/x'))).status, 200);
    const before = await scrape(gw);
    const ok = requests(before, { route: 'route-a', code: '200' });
    const from = gw.logs.length;
    assert.equal((await get(gw.url('/a/x'), { headers: { 'x-floodgate-fault': 'crash-worker' } })).status, 200);
    await gw.waitForLog(/worker respawned and listening/, 15_000, from);
    const s = await scrape(gw);
    assert.ok(requests(s, { route: 'route-a', code: '200' }) >= ok, 'a counter went backwards after a worker crash');
    const restarts = select(s, 'floodgate_worker_restarts_total').reduce((n, x) => n + x.value, 0);
    assert.equal(restarts, 1);
  });
});

describe('metrics options', () => {
  test('--metrics-consumer-labels adds a consumer label', async () => {
    const gw = await startGateway({
      args: ['--metrics-consumer-labels'],
      config: `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key-123456
services:
  - name: svc
    url: http://127.0.0.1:${up.port}
    routes:
      - name: open
        paths: [/open]
      - name: keyed
        paths: [/keyed]
        plugins:
          - name: key-auth
`,
    });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await get(gw.url('/keyed'), { headers: { apikey: 'alice-key-123456' } })).status, 200);
      assert.equal((await get(gw.url('/keyed'))).status, 401);
      assert.equal((await get(gw.url('/open'))).status, 200);
      const s = await scrape(gw);
      assert.equal(requests(s, { route: 'keyed', consumer: 'alice', code: '200' }), 3);
      assert.equal(requests(s, { route: 'keyed', consumer: '', code: '401' }), 1);
      assert.equal(requests(s, { route: 'open', consumer: '', code: '200' }), 1);
    } finally {
      await gw.stop();
    }
  });

  test('a worker crashes: the retiring worker is still counted, and its counts outlive it (regression: counters went back to 0)', async () => {
    const gw = await startGateway({ workers: 1, config: config(), env: { FLOODGATE_FAULT_INJECTION: '1' } });
    try {
      for (let i = 0; i < 10; i++) assert.equal((await get(gw.url('/a/x'))).status, 200);
      assert.equal(requests(await scrape(gw), { route: 'route-a', code: '200' }), 10);
      const from = gw.logs.length;
      assert.equal((await get(gw.url('/a/x'), { headers: { 'x-floodgate-fault': 'crash-worker' } })).status, 200);
      await gw.waitForLog(/worker respawned and listening/, 15_000, from);
      // The old worker retires: it finishes its requests, closes its connections and exits,
      // handing its counts to the primary as it goes; its successor starts at 0. The crash request
      // is answered before routing, so it counts as unmatched, and only the old worker had it.
      let s = await scrape(gw);
      assert.equal(requests(s, { route: 'route-a', code: '200' }), 10);
      assert.equal(requests(s, { service: '', route: '', code: '200' }), 1);
      assert.equal(valueOf(s, 'floodgate_worker_restarts_total', { worker: '1' }), 1);
      assert.equal(select(s, 'floodgate_requests_in_flight').length, 1, 'per-worker series come from current workers only');
      assert.equal((await get(gw.url('/a/x'))).status, 200);
      assert.equal(requests(await scrape(gw), { route: 'route-a', code: '200' }), 11);
      // Once the retired worker has exited, its last scraped counts are kept by the primary.
      await gw.waitForLog(/retired worker exited/, 40_000, from);
      s = await scrape(gw);
      assert.equal(requests(s, { route: 'route-a', code: '200' }), 11);
      assert.equal(requests(s, { service: '', route: '', code: '200' }), 1);
      assert.equal(valueOf(s, 'floodgate_request_latency_seconds_count', { route: 'route-a' }), 11);
      assert.equal((await get(gw.url('/a/x'))).status, 200);
      assert.equal(requests(await scrape(gw), { route: 'route-a', code: '200' }), 12);
    } finally {
      await gw.stop();
    }
  });

  test('--metrics off: no per-route series, the rest still served', async () => {
    const gw = await startGateway({ args: ['--metrics', 'off'], config: config() });
    try {
      assert.equal((await get(gw.url('/a'))).status, 200);
      const s = await scrape(gw);
      assert.equal(select(s, 'floodgate_http_requests_total').length, 0);
      assert.equal(select(s, 'floodgate_request_latency_seconds_count').length, 0);
      assert.equal(valueOf(s, 'floodgate_workers_listening'), 2);
      assert.equal(valueOf(s, 'floodgate_config_version'), 1);
    } finally {
      await gw.stop();
    }
  });
});
