import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict, type PluginInstance } from '../../src/plugins/api';
import { extract, inject, toIdSize, EXTRACT_FORMATS } from '../../src/plugins/zipkin/propagation';
import { formatConfigErrors, loadConfigText } from '../../src/config/load';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';
import { startCollector, type Collector } from '../helpers/collector';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const PARENT = '00f067aa0ba902b7';

let collector: Collector;
before(async () => {
  collector = await startCollector();
});
after(() => collector.close());

let entry = 0;
/** A zipkin plugin from inline YAML (unique entry id, so each test has its own queue). */
function zipkin(config: string): PluginInstance & { queue: { flush(): Promise<void>; pending: number } | null } {
  entry++;
  const yaml = `_format_version: "3.0"\nplugins:\n  - name: zipkin\n    id: 00000000-0000-4000-8000-${String(entry).padStart(12, '0')}\n    config: ${config}\n`;
  return pluginFromYaml(yaml, 'zipkin', { pluginId: `z${entry}` }).instance as never;
}

function configErrors(config: string): string {
  const r = loadConfigText(`_format_version: "3.0"\nplugins:\n  - name: zipkin\n    config: ${config}\n`, 'gateway.yaml');
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return formatConfigErrors(!r.ok ? r.errors : [], 'gateway.yaml');
}

function run(plugin: PluginInstance, headers: Record<string, string>, path = '/orders/42'): FakeContext {
  const ctx = new FakeContext({ method: 'POST', path, headers });
  assert.equal(plugin.onRequest!(ctx), Verdict.Continue);
  return ctx;
}

const up = (ctx: FakeContext, name: string) => ctx.upstreamHeaders.get(name);

test('b3 multi-header in, preserve: same trace, the request span reuses the caller span, the proxy span goes upstream', () => {
  const ctx = run(zipkin('{}'), { 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-parentspanid': PARENT, 'x-b3-sampled': '1' });
  assert.equal(up(ctx, 'x-b3-traceid'), TRACE);
  assert.equal(up(ctx, 'x-b3-parentspanid'), SPAN, 'the proxy span is a child of the (shared) request span');
  assert.match(up(ctx, 'x-b3-spanid')!, /^[0-9a-f]{16}$/);
  assert.notEqual(up(ctx, 'x-b3-spanid'), SPAN);
  assert.equal(up(ctx, 'x-b3-sampled'), '1');
  // The core's own traceparent (--trace-context on) is made to carry the same trace.
  assert.equal(up(ctx, 'traceparent'), `00-${TRACE}-${up(ctx, 'x-b3-spanid')}-01`);
  const quiet = new FakeContext({ headers: { 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN } });
  quiet.trace = null; // --trace-context off: no traceparent at all, as in Kong
  zipkin('{}').onRequest!(quiet);
  assert.equal(up(quiet, 'traceparent'), undefined, 'preserve writes only the format that came in');
});

test('b3 single header in, preserve: b3 single header out, debug flag kept', () => {
  const ctx = run(zipkin('{}'), { b3: `${TRACE}-${SPAN}-d-${PARENT}` });
  const b3 = up(ctx, 'b3')!;
  const [trace, span, sampled, parent] = b3.split('-');
  assert.equal(trace, TRACE);
  assert.match(span, /^[0-9a-f]{16}$/);
  assert.equal(sampled, 'd');
  assert.equal(parent, SPAN);
  assert.equal(up(ctx, 'x-b3-traceid'), undefined);
});

test('a 64-bit b3 trace id keeps its length upstream', () => {
  const ctx = run(zipkin('{}'), { 'x-b3-traceid': '8448eb211c80319c', 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' });
  assert.equal(up(ctx, 'x-b3-traceid'), '8448eb211c80319c');
  assert.equal(up(ctx, 'x-b3-sampled'), '0');
});

test('w3c in, header_type b3: traceparent is preserved and b3 added, same trace in both', () => {
  const ctx = run(zipkin('{ header_type: b3 }'), { traceparent: `00-${TRACE}-${SPAN}-01` });
  const [version, trace, span, flags] = up(ctx, 'traceparent')!.split('-');
  assert.deepEqual([version, trace, flags], ['00', TRACE, '01']);
  assert.equal(up(ctx, 'x-b3-traceid'), TRACE);
  assert.equal(up(ctx, 'x-b3-spanid'), span);
  assert.equal(up(ctx, 'x-b3-sampled'), '1');
  assert.notEqual(span, SPAN);
});

test('header_type ignore: the caller trace is ignored, default_header_type is written', () => {
  const ctx = run(zipkin('{ header_type: ignore, default_header_type: w3c, sample_ratio: 1 }'), { traceparent: `00-${TRACE}-${SPAN}-00` });
  const [, trace, , flags] = up(ctx, 'traceparent')!.split('-');
  assert.notEqual(trace, TRACE);
  assert.equal(flags, '01', 'sample_ratio 1 decides for a new trace');
});

test('no trace headers: a new trace in default_header_type; traceid_byte_count 8 makes 64-bit ids', () => {
  const ctx = run(zipkin('{ traceid_byte_count: 8, default_header_type: ot, sample_ratio: 0 }'), {});
  assert.match(up(ctx, 'ot-tracer-traceid')!, /^[0-9a-f]{16}$/);
  assert.match(up(ctx, 'ot-tracer-spanid')!, /^[0-9a-f]{16}$/);
  // Not sampled and nobody said so: Kong passes no decision on in ot.
  assert.equal(up(ctx, 'ot-tracer-sampled'), undefined);
  // b3 wants 128 bits unless the caller used 64: the 64-bit id is zero-padded, as Kong does.
  const b3 = run(zipkin('{ traceid_byte_count: 8 }'), {});
  assert.match(up(b3, 'x-b3-traceid')!, /^0{16}[0-9a-f]{16}$/);
  assert.equal(up(b3, 'x-b3-sampled'), '0');
});

test('jaeger and ot in: same format out, baggage passed on', () => {
  const j = run(zipkin('{}'), { 'uber-trace-id': `${TRACE}:${SPAN}:0:1`, 'uberctx-user': 'a%20b' });
  const [trace, span, parent, flags] = up(j, 'uber-trace-id')!.split(':');
  assert.deepEqual([trace, parent, flags], [TRACE, SPAN, '01']);
  assert.notEqual(span, SPAN);
  assert.equal(up(j, 'uberctx-user'), 'a%20b');
  const o = run(zipkin('{}'), { 'ot-tracer-traceid': TRACE, 'ot-tracer-spanid': SPAN, 'ot-tracer-sampled': 'true', 'ot-baggage-tenant': 'blue' });
  assert.equal(up(o, 'ot-tracer-traceid'), TRACE);
  assert.equal(up(o, 'ot-tracer-sampled'), '1');
  assert.equal(up(o, 'ot-baggage-tenant'), 'blue');
});

test('aws, datadog and gcp in: the same trace comes out in their own encodings', () => {
  const aws = run(zipkin('{}'), { 'x-amzn-trace-id': `Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=${SPAN};Sampled=1` });
  assert.match(up(aws, 'x-amzn-trace-id')!, new RegExp(`^Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=[0-9a-f]{16};Sampled=1$`));
  const dd = run(zipkin('{}'), { 'x-datadog-trace-id': '12345678901234567890', 'x-datadog-parent-id': '42', 'x-datadog-sampling-priority': '2' });
  assert.equal(up(dd, 'x-datadog-trace-id'), '12345678901234567890');
  assert.match(up(dd, 'x-datadog-parent-id')!, /^\d+$/);
  assert.equal(up(dd, 'x-datadog-sampling-priority'), '1');
  const gcp = run(zipkin('{}'), { 'x-cloud-trace-context': `${TRACE}/12345;o=1` });
  assert.match(up(gcp, 'x-cloud-trace-context')!, new RegExp(`^${TRACE}/\\d+;o=1$`));
});

test('the propagation block wins over header_type: extract, inject and clear as configured', () => {
  const ctx = run(zipkin('{ header_type: b3, propagation: { extract: [w3c], inject: [b3-single, w3c], clear: [X-Legacy-Trace] } }'), {
    'x-b3-traceid': 'ffffffffffffffffffffffffffffffff',
    'x-b3-spanid': SPAN,
    traceparent: `00-${TRACE}-${SPAN}-01`,
  });
  assert.equal(up(ctx, 'x-legacy-trace'), null, 'cleared');
  assert.equal(up(ctx, 'b3')!.split('-')[0], TRACE, 'b3 ignored, w3c extracted');
  assert.equal(up(ctx, 'traceparent')!.split('-')[1], TRACE);
  assert.equal(up(ctx, 'x-b3-traceid'), undefined);
});

test('a tracestate without a b3 entry does not hide the traceparent (Kong would start a new trace)', () => {
  const ctx = run(zipkin('{}'), { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'vendor=x' });
  assert.equal(up(ctx, 'traceparent')!.split('-')[1], TRACE);
});

test('invalid headers start a new trace', () => {
  for (const headers of <Record<string, string>[]>[{ traceparent: `00-${'0'.repeat(32)}-${SPAN}-01` }, { 'x-b3-traceid': 'xyz', 'x-b3-spanid': SPAN }, { 'uber-trace-id': 'nope' }]) {
    const found = extract(new FakeContext({ headers }).request, EXTRACT_FORMATS);
    assert.ok(found === null || found.ctx.traceId === null, JSON.stringify(headers));
  }
});

test('inject: every format from one context', () => {
  const c = { traceId: TRACE, spanId: SPAN, parentId: PARENT, shouldSample: true, flags: null, baggage: null, traceIdOriginalSize: 16 };
  assert.deepEqual(inject('b3', c), ['x-b3-traceid', TRACE, 'x-b3-spanid', SPAN, 'x-b3-parentspanid', PARENT, 'x-b3-sampled', '1']);
  assert.deepEqual(inject('b3-single', c), ['b3', `${TRACE}-${SPAN}-1-${PARENT}`]);
  assert.deepEqual(inject('w3c', c), ['traceparent', `00-${TRACE}-${SPAN}-01`]);
  assert.deepEqual(inject('jaeger', c), ['uber-trace-id', `${TRACE}:${SPAN}:${PARENT}:01`]);
  assert.deepEqual(inject('ot', c), ['ot-tracer-traceid', TRACE.slice(16), 'ot-tracer-spanid', SPAN, 'ot-tracer-sampled', '1'].map((v, i) => (i === 1 ? TRACE : v)));
  assert.deepEqual(inject('datadog', c), ['x-datadog-trace-id', BigInt('0x' + TRACE.slice(16)).toString(), 'x-datadog-parent-id', BigInt('0x' + SPAN).toString(), 'x-datadog-sampling-priority', '1']);
  assert.deepEqual(inject('gcp', c), ['x-cloud-trace-context', `${TRACE}/${BigInt('0x' + SPAN).toString()};o=1`]);
  assert.equal(toIdSize('abcd', 4), '0000abcd');
  assert.equal(toIdSize('0011223344556677', 4), '44556677');
});

test('spans reach a real Zipkin collector: request, proxy and balancer-try spans with Kong names, parents and tags', async () => {
  const plugin = zipkin(`{ http_endpoint: "${collector.url('/api/v2/spans')}", sample_ratio: 0, http_span_name: method_path, local_service_name: edge, default_service_name: callers, static_tags: [ { name: env, value: prod } ], http_response_header_for_traceid: X-Trace-Id, queue: { max_batch_size: 10 } }`);
  const ctx = run(plugin, { 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': '1', 'zipkin-tags': 'team = payments; bad; tier=gold' });
  assert.equal(ctx.responseHeaders.get('x-trace-id'), TRACE);
  ctx.responseStatus = 503;
  const rec = ctx.serializeLog();
  rec.service = { id: 'svc-1', name: 'orders', host: 'orders.internal', port: 8080, protocol: 'http', path: null };
  rec.consumer = { id: 'cons-1', username: 'alice', custom_id: null };
  rec.authenticated_entity = { id: 'cred-1' };
  rec.tries = [{ ip: '10.1.2.3', port: 8080, balancer_start: Math.round(performance.timeOrigin + ctx.upstreamStartedAt), balancer_latency: 0 }];
  ctx.logRecord = rec;
  const before = collector.requests.length;
  plugin.onLog!(ctx);
  await plugin.queue!.flush();
  assert.equal(collector.requests.length, before + 1, 'one POST for the batch');
  const req = collector.requests[before];
  assert.equal(req.method, 'POST');
  assert.equal(req.headers['content-type'], 'application/json');
  const spans = JSON.parse(req.body) as Record<string, any>[];
  assert.equal(spans.length, 3);
  const [tryspan, proxy, server] = spans;
  assert.equal(server.name, 'POST /orders/42');
  assert.equal(server.kind, 'SERVER');
  assert.equal(server.id, SPAN, 'b3 shares the caller span');
  assert.equal(server.traceId, TRACE);
  assert.equal(server.parentId, undefined);
  assert.deepEqual(server.localEndpoint, { serviceName: 'edge' });
  assert.deepEqual(server.remoteEndpoint, { serviceName: 'callers', ipv4: '127.0.0.1' });
  assert.equal(server.tags['lc'], 'kong');
  assert.equal(server.tags['http.method'], 'POST');
  assert.equal(server.tags['http.path'], '/orders/42');
  assert.equal(server.tags['http.status_code'], '503');
  assert.equal(server.tags['env'], 'prod');
  assert.equal(server.tags['team'], 'payments');
  assert.equal(server.tags['tier'], 'gold');
  assert.equal(server.tags['kong.consumer'], 'cons-1');
  assert.equal(server.tags['kong.credential'], 'cred-1');
  assert.match(server.tags['kong.node.id'], /^[0-9a-f-]{36}$/);
  assert.deepEqual(server.annotations.map((a: { value: string }) => a.value), ['krs', 'krf']);
  assert.ok(Number.isInteger(server.timestamp) && Number.isInteger(server.duration));
  assert.ok(Math.abs(server.timestamp / 1000 - (performance.timeOrigin + ctx.startedAt)) < 1);
  assert.equal(proxy.name, 'POST /orders/42 (proxy)');
  assert.equal(proxy.kind, 'CLIENT');
  assert.equal(proxy.parentId, SPAN);
  assert.equal(proxy.tags['kong.service'], 'svc-1');
  assert.equal(proxy.tags['kong.service_name'], 'orders');
  assert.equal(proxy.tags['kong.route'], 'route-1');
  assert.equal(proxy.tags['peer.hostname'], 'orders.internal');
  assert.deepEqual(proxy.remoteEndpoint, { serviceName: 'orders', ipv4: '10.1.2.3', port: 8080 });
  assert.deepEqual(proxy.annotations.map((a: { value: string }) => a.value), ['kas', 'kaf', 'khs', 'khf', 'kbs', 'kbf']);
  assert.equal(tryspan.name, 'POST /orders/42 (balancer try 1)');
  assert.equal(tryspan.parentId, SPAN);
  assert.equal(tryspan.tags['kong.balancer.try'], '1');
  assert.equal(tryspan.tags['error'], undefined, 'the last try is not an error');
});

test('unsampled requests propagate but report nothing; include_credential false and tags flavor', async () => {
  const quiet = zipkin(`{ http_endpoint: "${collector.url('/quiet')}", sample_ratio: 0 }`);
  const c1 = run(quiet, {});
  assert.equal(up(c1, 'x-b3-sampled'), '0');
  quiet.onLog!(c1);
  assert.equal(quiet.queue!.pending, 0);

  const tagged = zipkin(`{ http_endpoint: "${collector.url('/tagged')}", sample_ratio: 1, include_credential: false, phase_duration_flavor: tags, queue: { max_batch_size: 10 } }`);
  const c2 = run(tagged, {});
  const rec = c2.serializeLog();
  rec.authenticated_entity = { id: 'cred-1' };
  c2.logRecord = rec;
  tagged.onLog!(c2);
  await tagged.queue!.flush();
  const spans = JSON.parse(collector.requests.find((r) => r.url === '/tagged')!.body) as Record<string, any>[];
  const server = spans.find((s) => s.kind === 'SERVER')!;
  const proxy = spans.find((s) => s.kind === 'CLIENT')!;
  assert.equal(server.tags['kong.credential'], undefined);
  assert.equal(server.annotations, undefined);
  assert.ok('kong.rewrite.duration_ms' in server.tags);
  assert.ok('kong.access.duration_ms' in proxy.tags);
  assert.equal(server.name, 'POST');
});

test('a collector that fails is retried by the queue', async () => {
  const flaky = await startCollector({ failFirst: 1 });
  try {
    const plugin = zipkin(`{ http_endpoint: "${flaky.url('/spans')}", sample_ratio: 1, queue: { max_batch_size: 10, initial_retry_delay: 0.01 } }`);
    plugin.onLog!(run(plugin, {}));
    await plugin.queue!.flush();
    assert.deepEqual(flaky.requests.map((r) => r.status), [500, 200]);
  } finally {
    await flaky.close();
  }
});

test('a collector that never answers: the POST is cut at read_timeout, retried, then dropped', async () => {
  const stuck = await startCollector({ hang: true });
  try {
    const plugin = zipkin(`{ http_endpoint: "${stuck.url('/spans')}", sample_ratio: 1, connect_timeout: 100, send_timeout: 100, read_timeout: 200, queue: { max_batch_size: 10, max_retry_time: 0.1, initial_retry_delay: 0.01 } }`);
    const ctx = run(plugin, {});
    plugin.onLog!(ctx);
    const started = Date.now();
    const q = plugin.queue as unknown as { flush(): Promise<void>; counters: { failed: number } };
    await q.flush();
    assert.equal(q.counters.failed, 2, 'the request and proxy spans (no upstream try was logged)');
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  } finally {
    await stuck.close();
  }
});

test('config errors name the field', () => {
  assert.match(configErrors('{ static_tags: [ { name: http.method, value: x } ] }'), /static_tags\[0\]\.name.*set by the plugin itself/);
  assert.match(configErrors('{ static_tags: [ { name: a, value: x }, { name: a, value: y } ] }'), /repeated tags are not allowed: a/);
  assert.match(configErrors('{ header_type: zipkin }'), /header_type/);
  assert.match(configErrors('{ traceid_byte_count: 12 }'), /traceid_byte_count/);
  assert.match(configErrors('{ sample_ratio: 2 }'), /sample_ratio/);
  assert.match(configErrors('{ propagation: { inject: [b3, carrier-pigeon] } }'), /propagation\.inject/);
});
