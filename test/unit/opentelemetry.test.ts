import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { encodeTraces, msToUnixNano, SpanKind, type FinishedSpan } from '../../src/plugins/opentelemetry/otlp-json';
import { TraceContext } from '../../src/tracing/trace-context';
import { formatConfigErrors, loadConfigText } from '../../src/config/load';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const yaml = (config: string) => `_format_version: "3.0"\nplugins:\n  - name: opentelemetry\n    config: ${config}\n`;

function configErrors(text: string): string {
  const r = loadConfigText(text, 'gateway.yaml');
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return formatConfigErrors(!r.ok ? r.errors : [], 'gateway.yaml');
}

test('nanosecond timestamps are exact beyond 2^53', () => {
  assert.equal(msToUnixNano(1_700_000_000_123.25), '1700000000123250000');
  assert.equal(msToUnixNano(1_700_000_000_123.001), '1700000000123001000');
  assert.equal(msToUnixNano(1_700_000_000_000), '1700000000000000000');
});

test('OTLP JSON: resource, scope, hex ids, kinds, typed attributes, status', () => {
  const span: FinishedSpan = {
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    parentSpanId: '',
    name: 'GET r',
    kind: SpanKind.Server,
    startMs: 1000.5,
    endMs: 1002,
    attributes: { s: 'x', i: 200, d: 1.5, b: true },
    error: true,
  };
  const body = JSON.parse(encodeTraces({ 'service.name': 'gw' }, '1.2.3', [span]));
  const rs = body.resourceSpans[0];
  assert.deepEqual(rs.resource.attributes, [{ key: 'service.name', value: { stringValue: 'gw' } }]);
  assert.deepEqual(rs.scopeSpans[0].scope, { name: 'floodgate', version: '1.2.3' });
  const s = rs.scopeSpans[0].spans[0];
  assert.equal(s.kind, 2);
  assert.equal(s.startTimeUnixNano, '1000500000');
  assert.deepEqual(s.attributes, [
    { key: 's', value: { stringValue: 'x' } },
    { key: 'i', value: { intValue: '200' } },
    { key: 'd', value: { doubleValue: 1.5 } },
    { key: 'b', value: { boolValue: true } },
  ]);
  assert.deepEqual(s.status, { code: 2 });
});

test('onLog enqueues a server span and an upstream client span that nest', () => {
  const { instance } = pluginFromYaml(yaml('{ traces_endpoint: "http://127.0.0.1:1/v1/traces", http_response_header_for_traceid: x-trace }'), 'opentelemetry');
  const ctx = new FakeContext({ path: '/orders' });
  ctx.trace = TraceContext.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', undefined);
  ctx.responseStatus = 200;
  assert.equal(instance.onRequest!(ctx), Verdict.Continue);
  assert.equal(ctx.responseHeaders.get('x-trace'), '0af7651916cd43dd8448eb211c80319c');
  const record = ctx.serializeLog();
  record.tries = [{ ip: '10.0.0.1', port: 8080, balancer_start: 0, balancer_latency: 0 }];
  ctx.logRecord = record;
  const queue = (instance as unknown as { queue: { pending: number; close(): void } }).queue;
  const before = queue.pending;
  instance.onLog!(ctx);
  assert.equal(queue.pending - before, 2);
});

test('an unsampled trace, or sampling_rate 0, exports nothing', () => {
  const { instance } = pluginFromYaml(yaml('{ endpoint: "http://127.0.0.1:2/v1/traces", sampling_rate: 0 }'), 'opentelemetry');
  const queue = (instance as unknown as { queue: { pending: number } }).queue;
  instance.onLog!(new FakeContext());
  assert.equal(queue.pending, 0);
  const { instance: all } = pluginFromYaml(yaml('{ endpoint: "http://127.0.0.1:3/v1/traces" }'), 'opentelemetry');
  const ctx = new FakeContext();
  ctx.trace = TraceContext.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00', undefined);
  all.onLog!(ctx);
  assert.equal((all as unknown as { queue: { pending: number } }).queue.pending, 0);
});

test('config errors name the field: no endpoint, an unsupported header_type', () => {
  assert.match(configErrors(yaml('{}')), /traces_endpoint is required/);
  assert.match(configErrors(yaml('{ traces_endpoint: "http://c/v1/traces", header_type: b3 }')), /config\.header_type.*not supported by Floodgate.*"preserve" or "w3c"/);
  assert.match(configErrors(yaml('{ traces_endpoint: "ftp://c" }')), /traces_endpoint/);
});

test('http-log and file-log config errors name the field', () => {
  assert.match(configErrors('_format_version: "3.0"\nplugins:\n  - name: http-log\n    config: { http_endpoint: "nope" }\n'), /http_endpoint/);
  assert.match(configErrors('_format_version: "3.0"\nplugins:\n  - name: http-log\n    config: { http_endpoint: "http://c/", queue: { max_entries: 0 } }\n'), /max_entries/);
  assert.match(configErrors('_format_version: "3.0"\nplugins:\n  - name: file-log\n    config: {}\n'), /path/);
});
