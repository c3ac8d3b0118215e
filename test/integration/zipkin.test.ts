/**
 * The zipkin plugin through a real 2-worker gateway, a real upstream that echoes the headers it
 * got, and a Zipkin collector (node http server) on loopback: B3 and W3C headers continue the
 * caller's trace, the upstream sees the proxy span, and the collector receives Kong-shaped Zipkin
 * v2 spans from both workers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startCollector, type Collector } from '../helpers/collector';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

let up: EchoUpstream;
let zipkin: Collector;
let gw: Gateway;

interface ZSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: string;
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  remoteEndpoint: Record<string, unknown> | null;
  tags?: Record<string, string>;
  annotations?: { value: string; timestamp: number }[];
}

const spans = (): ZSpan[] => zipkin.requests.flatMap((r) => JSON.parse(r.body) as ZSpan[]);
const spansOf = (traceId: string) => spans().filter((s) => s.traceId === traceId);

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'zipkin-up');
  zipkin = await startCollector();
  gw = await startGateway({
    workers: 2,
    config: `_format_version: "3.0"
consumers:
  - id: 0b5c6a3e-2222-4a1a-9a1a-000000000001
    username: alice
    keyauth_credentials:
      - id: 0b5c6a3e-2222-4a1a-9a1a-0000000000c1
        key: alice-key
services:
  - id: 0b5c6a3e-2222-4a1a-9a1a-0000000000a1
    name: orders
    url: http://127.0.0.1:${up.port}
    routes:
      - name: traced
        paths: [/traced]
        plugins:
          - name: zipkin
            config:
              http_endpoint: http://127.0.0.1:${zipkin.port}/api/v2/spans
              sample_ratio: 1
              local_service_name: edge
              static_tags: [ { name: env, value: test } ]
              http_response_header_for_traceid: X-Trace-Id
              queue: { max_batch_size: 50, max_coalescing_delay: 0.1 }
      - name: both-formats
        paths: [/both]
        plugins:
          - name: zipkin
            config:
              http_endpoint: http://127.0.0.1:${zipkin.port}/api/v2/spans
              header_type: b3
              sample_ratio: 1
              queue: { max_batch_size: 50, max_coalescing_delay: 0.1 }
      - name: authed
        paths: [/authed]
        plugins:
          - name: key-auth
          - name: zipkin
            config:
              http_endpoint: http://127.0.0.1:${zipkin.port}/api/v2/spans
              sample_ratio: 1
              queue: { max_batch_size: 50, max_coalescing_delay: 0.1 }
      - name: unsampled
        paths: [/unsampled]
        plugins:
          - name: zipkin
            config:
              http_endpoint: http://127.0.0.1:${zipkin.port}/api/v2/spans
              sample_ratio: 0
              default_header_type: w3c
`,
  });
});

after(async () => {
  await gw.stop();
  await zipkin.close();
  await up.close();
});

test('B3 in: the trace continues, the upstream sees the proxy span, three spans reach the collector', async () => {
  const traceId = '463ac35c9f6413ad48485a3953bb6124';
  const callerSpan = 'a2fb4a1d1a96d312';
  const res = await get(gw.url('/traced/orders/7'), {
    headers: { 'x-b3-traceid': traceId, 'x-b3-spanid': callerSpan, 'x-b3-sampled': '1', 'zipkin-tags': 'team=payments' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-trace-id'], traceId);
  const seen = res.json<{ headers: Record<string, string> }>().headers;
  assert.equal(seen['x-b3-traceid'], traceId);
  assert.equal(seen['x-b3-parentspanid'], callerSpan);
  assert.equal(seen['x-b3-sampled'], '1');
  const proxySpanId = seen['x-b3-spanid'];
  assert.equal(seen.traceparent, `00-${traceId}-${proxySpanId}-01`, "the core's traceparent carries the same trace");

  await zipkin.waitFor(() => spansOf(traceId).length === 3);
  const all = spansOf(traceId);
  const server = all.find((s) => s.kind === 'SERVER')!;
  const proxy = all.find((s) => s.name.endsWith('(proxy)'))!;
  const attempt = all.find((s) => s.name.includes('balancer try'))!;
  assert.equal(server.id, callerSpan, 'B3 shares the span between caller and gateway');
  assert.equal(server.name, 'GET');
  assert.deepEqual(server.localEndpoint, { serviceName: 'edge' });
  assert.equal(server.tags!['http.path'], '/traced/orders/7');
  assert.equal(server.tags!['http.status_code'], '200');
  assert.equal(server.tags!['env'], 'test');
  assert.equal(server.tags!['team'], 'payments');
  assert.equal(server.tags!['lc'], 'kong');
  assert.equal(proxy.id, proxySpanId, 'the span the upstream saw is the proxy span');
  assert.equal(proxy.parentId, callerSpan);
  assert.equal(proxy.kind, 'CLIENT');
  assert.equal(proxy.tags!['kong.service'], '0b5c6a3e-2222-4a1a-9a1a-0000000000a1');
  assert.equal(proxy.tags!['kong.service_name'], 'orders');
  assert.equal(proxy.tags!['kong.route_name'], 'traced');
  assert.deepEqual(proxy.remoteEndpoint, { serviceName: 'orders', ipv4: '127.0.0.1', port: up.port });
  assert.deepEqual(proxy.annotations!.map((a) => a.value), ['kas', 'kaf', 'khs', 'khf', 'kbs', 'kbf']);
  assert.equal(attempt.name, 'GET (balancer try 1)');
  assert.equal(attempt.parentId, callerSpan);
  // Times in microseconds: the proxy span inside the request span, both now.
  assert.ok(server.timestamp <= proxy.timestamp && proxy.timestamp + proxy.duration <= server.timestamp + server.duration + 1);
  assert.ok(Math.abs(server.timestamp / 1000 - Date.now()) < 120_000);
});

test('W3C in with header_type b3: traceparent kept and B3 added, for the same trace', async () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const res = await get(gw.url('/both/x'), { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
  const seen = res.json<{ headers: Record<string, string> }>().headers;
  const [, tpTrace, tpSpan, flags] = seen.traceparent.split('-');
  assert.equal(tpTrace, traceId);
  assert.equal(flags, '01');
  assert.equal(seen['x-b3-traceid'], traceId);
  assert.equal(seen['x-b3-spanid'], tpSpan);
  await zipkin.waitFor(() => spansOf(traceId).length === 3);
  const server = spansOf(traceId).find((s) => s.kind === 'SERVER')!;
  assert.equal(server.parentId, 'b7ad6b7169203331', 'W3C: the caller span is the parent');
});

test('an authenticated consumer and its credential are tagged', async () => {
  const traceId = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1';
  const res = await get(gw.url('/authed'), { headers: { apikey: 'alice-key', 'x-b3-traceid': traceId, 'x-b3-spanid': '1111111111111111', 'x-b3-sampled': '1' } });
  assert.equal(res.status, 200);
  await zipkin.waitFor(() => spansOf(traceId).length === 3);
  const server = spansOf(traceId).find((s) => s.kind === 'SERVER')!;
  assert.equal(server.tags!['kong.consumer'], '0b5c6a3e-2222-4a1a-9a1a-000000000001');
  assert.equal(server.tags!['kong.credential'], '0b5c6a3e-2222-4a1a-9a1a-0000000000c1');
});

test('every request of a burst over both workers is reported, each trace whole', async () => {
  const ids = Array.from({ length: 30 }, (_, i) => 'c0ffee' + String(i).padStart(26, '0'));
  await Promise.all(ids.map((id) => get(gw.url('/traced/burst'), { headers: { 'x-b3-traceid': id, 'x-b3-spanid': '2222222222222222', 'x-b3-sampled': '1' } })));
  await zipkin.waitFor(() => ids.every((id) => spansOf(id).length === 3));
});

test('sample_ratio 0: headers still go upstream (not sampled), no span is reported', async () => {
  const res = await get(gw.url('/unsampled'));
  const seen = res.json<{ headers: Record<string, string> }>().headers;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(seen.traceparent);
  assert.ok(m, seen.traceparent);
  // A sampled request after it: once its spans arrived, the unsampled one's would have too.
  const marker = 'dddddddddddddddddddddddddddddd01';
  await get(gw.url('/traced/after'), { headers: { 'x-b3-traceid': marker, 'x-b3-spanid': '3333333333333333', 'x-b3-sampled': '1' } });
  await zipkin.waitFor(() => spansOf(marker).length === 3);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(spansOf(m[1]).length, 0);
});
