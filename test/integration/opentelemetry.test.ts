/**
 * W3C trace context and the opentelemetry plugin through a real gateway, a real upstream and a
 * local OTLP/HTTP collector stub that decodes what it receives: trace ids continue the caller's
 * traceparent, the upstream's parent is the gateway's upstream-call span, spans nest
 * (caller -> gateway server span -> upstream client span), attributes follow the HTTP semantic
 * conventions, and the access log carries the trace id. One worker, so batches keep request order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startCollector, type Collector } from '../helpers/collector';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

let up: EchoUpstream;
let otlp: Collector;
let gw: Gateway;

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number };
}

/** Decode every OTLP/HTTP JSON export received so far into spans plus their resource attributes. */
function decoded(): { resource: Record<string, unknown>; span: Span }[] {
  const out: { resource: Record<string, unknown>; span: Span }[] = [];
  for (const r of otlp.requests) {
    assert.equal(r.url, '/v1/traces');
    assert.equal(r.headers['content-type'], 'application/json');
    const body = JSON.parse(r.body);
    for (const rs of body.resourceSpans) {
      const resource = Object.fromEntries(rs.resource.attributes.map((a: any) => [a.key, Object.values(a.value)[0]]));
      for (const ss of rs.scopeSpans) for (const span of ss.spans) out.push({ resource, span });
    }
  }
  return out;
}

const attr = (s: Span, key: string) => {
  const a = s.attributes.find((x) => x.key === key);
  return a === undefined ? undefined : Object.values(a.value)[0];
};

const spansOf = (traceId: string) => decoded().filter((d) => d.span.traceId === traceId).map((d) => d.span);

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'traced-up');
  otlp = await startCollector();
  gw = await startGateway({
    workers: 1,
    args: ['--access-log', 'stdout'],
    config: `_format_version: "3.0"
services:
  - name: traced-svc
    url: http://127.0.0.1:${up.port}
    routes:
      - name: traced
        paths: [/traced]
plugins:
  - name: opentelemetry
    config:
      traces_endpoint: http://127.0.0.1:${otlp.port}/v1/traces
      headers: { x-otlp-key: abc }
      resource_attributes: { service.name: edge-gateway, deployment.environment: test }
      batch_flush_delay: 0.1
      http_response_header_for_traceid: x-trace-id
`,
  });
});

after(async () => {
  await gw.stop();
  await otlp.close();
  await up.close();
});

test('continues the caller trace: upstream parent, nested spans, attributes, access log trace id', async () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const callerSpan = 'b7ad6b7169203331';
  const res = await get(gw.url('/traced/orders?id=7'), {
    headers: { traceparent: `00-${traceId}-${callerSpan}-01`, tracestate: 'vendor=abc,other=1', 'user-agent': 'otel-test' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-trace-id'], traceId);
  const seen = res.json<{ headers: Record<string, string> }>().headers;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceparent);
  assert.ok(m, `upstream traceparent: ${seen.traceparent}`);
  assert.equal(m[1], traceId);
  assert.notEqual(m[2], callerSpan, 'the upstream sees the gateway span as its parent');
  assert.equal(seen.tracestate, 'vendor=abc,other=1');

  await otlp.waitFor(() => spansOf(traceId).length === 2);
  const spans = spansOf(traceId);
  const server = spans.find((s) => s.kind === 2)!;
  const client = spans.find((s) => s.kind === 3)!;
  assert.equal(server.parentSpanId, callerSpan);
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.spanId, m[2], "the upstream call span is the upstream's parent");
  assert.equal(server.name, 'GET traced');
  assert.equal(attr(server, 'http.request.method'), 'GET');
  assert.equal(attr(server, 'url.path'), '/traced/orders');
  assert.equal(attr(server, 'http.response.status_code'), '200');
  assert.equal(attr(server, 'server.address'), '127.0.0.1');
  assert.equal(attr(server, 'network.peer.address'), '127.0.0.1');
  assert.equal(attr(server, 'user_agent.original'), 'otel-test');
  assert.equal(attr(server, 'floodgate.route.name'), 'traced');
  assert.equal(attr(server, 'floodgate.service.name'), 'traced-svc');
  assert.equal(attr(server, 'floodgate.request_id'), res.headers['x-floodgate-request-id']);
  assert.equal(attr(client, 'server.port'), String(up.port));
  assert.equal(attr(client, 'http.response.status_code'), '200');
  assert.equal(attr(client, 'url.full'), `http://127.0.0.1:${up.port}/orders?id=7`);
  assert.equal(server.status.code, 0);
  // Times: nanosecond strings, the upstream call inside the server span.
  assert.ok(BigInt(server.startTimeUnixNano) <= BigInt(client.startTimeUnixNano));
  assert.ok(BigInt(client.endTimeUnixNano) <= BigInt(server.endTimeUnixNano));
  assert.ok(BigInt(server.endTimeUnixNano) > BigInt(server.startTimeUnixNano));
  const ms = Number(BigInt(server.startTimeUnixNano) / 1_000_000n);
  assert.ok(Math.abs(Date.now() - ms) < 120_000, 'start time is now, in Unix nanoseconds');

  const exported = decoded().find((d) => d.span.traceId === traceId)!;
  assert.equal(exported.resource['service.name'], 'edge-gateway');
  assert.equal(exported.resource['deployment.environment'], 'test');
  assert.ok(otlp.requests.every((r) => r.headers['x-otlp-key'] === 'abc'));

  const accessLine = () => gw.out.map((l) => JSON.parse(l)).find((l) => l.request_id === res.headers['x-floodgate-request-id']);
  const deadline = Date.now() + 15_000;
  while (accessLine() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(accessLine()?.trace_id, traceId);
});

test('no traceparent, or an invalid one: a new trace is started and its tracestate dropped', async () => {
  for (const headers of [{} as Record<string, string>, { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01', tracestate: 'stale=1' }, { traceparent: 'garbage' }]) {
    const res = await get(gw.url('/traced/new'), { headers });
    const seen = res.json<{ headers: Record<string, string> }>().headers;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceparent);
    assert.ok(m, `upstream traceparent: ${seen.traceparent}`);
    assert.notEqual(m[1], '00000000000000000000000000000000');
    assert.equal(res.headers['x-trace-id'], m[1]);
    assert.equal(seen.tracestate, undefined);
    await otlp.waitFor(() => spansOf(m[1]).length === 2);
    const server = spansOf(m[1]).find((s) => s.kind === 2)!;
    assert.equal(server.parentSpanId, '', 'the gateway span is the root');
  }
});

test('a caller that did not sample the trace gets propagation but no exported spans', async () => {
  const unsampled = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
  const res = await get(gw.url('/traced/quiet'), { headers: { traceparent: `00-${unsampled}-1111111111111111-00` } });
  assert.match(res.json<{ headers: Record<string, string> }>().headers.traceparent, new RegExp(`^00-${unsampled}-[0-9a-f]{16}-00$`));
  // A sampled request after it: once its spans arrive, the unsampled one would have too.
  const sampled = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2';
  await get(gw.url('/traced/loud'), { headers: { traceparent: `00-${sampled}-2222222222222222-01` } });
  await otlp.waitFor(() => spansOf(sampled).length === 2);
  assert.equal(spansOf(unsampled).length, 0);
});

test('an upstream error marks both spans as errors', async () => {
  const traceId = 'cccccccccccccccccccccccccccccc03';
  const res = await get(gw.url('/traced/boom'), { headers: { traceparent: `00-${traceId}-3333333333333333-01`, 'x-echo-status': '503' } });
  assert.equal(res.status, 503);
  await otlp.waitFor(() => spansOf(traceId).length === 2);
  for (const s of spansOf(traceId)) {
    assert.equal(s.status.code, 2);
    assert.equal(attr(s, 'http.response.status_code'), '503');
  }
});
