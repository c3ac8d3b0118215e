import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const plugin = (config = '{}') => pluginFromYaml(`_format_version: "3.0"\nplugins:\n  - name: correlation-id\n    config: ${config}\n`, 'correlation-id');

test("Kong's defaults: Kong-Request-ID, uuid#counter, no echo", () => {
  const { config, instance } = plugin();
  assert.deepEqual(config.config, { header_name: 'Kong-Request-ID', generator: 'uuid#counter', echo_downstream: false });
  const a = new FakeContext();
  const b = new FakeContext();
  assert.equal(instance.onRequest!(a), Verdict.Continue);
  instance.onRequest!(b);
  const idA = a.upstreamHeaders.get('kong-request-id')!;
  const idB = b.upstreamHeaders.get('kong-request-id')!;
  const m = /^([0-9a-f-]{36})#(\d+)$/.exec(idA);
  assert.ok(m, idA);
  assert.equal(idB, `${m[1]}#${Number(m[2]) + 1}`, 'same worker uuid, next counter');
  assert.equal(a.responseHeaders.size, 0);
});

test('a request that carries the header keeps its value', () => {
  const { instance } = plugin('{ echo_downstream: true }');
  const ctx = new FakeContext({ headers: { 'kong-request-id': 'from-client' } });
  instance.onRequest!(ctx);
  assert.equal(ctx.upstreamHeaders.has('kong-request-id'), false, 'forwarded as the client sent it');
  assert.equal(ctx.responseHeaders.get('kong-request-id'), 'from-client');
});

test('uuid generator, custom header, echoed downstream', () => {
  const { instance } = plugin('{ header_name: X-Correlation-Id, generator: uuid, echo_downstream: true }');
  const ctx = new FakeContext();
  instance.onRequest!(ctx);
  const id = ctx.upstreamHeaders.get('x-correlation-id')!;
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(ctx.responseHeaders.get('x-correlation-id'), id);
});

test('tracker generator names the host, client, pid and a counter', () => {
  const { instance } = plugin('{ generator: tracker }');
  const ctx = new FakeContext({ host: 'api.example', remoteAddress: '10.0.0.9' });
  instance.onRequest!(ctx);
  assert.match(ctx.upstreamHeaders.get('kong-request-id')!, new RegExp(`^api\\.example-10\\.0\\.0\\.9-${process.pid}-\\d+-\\d+\\.\\d{3}$`));
});

test('an unknown generator is a config error naming the field', () => {
  assert.throws(() => plugin('{ generator: sequence }'), /generator/);
});
