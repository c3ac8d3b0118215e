import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const conf = (config: string) => `_format_version: "3.0"
plugins:
  - name: request-termination
    config:
${config
  .split('\n')
  .map((l) => '      ' + l)
  .join('\n')}
`;

test('defaults: 503 with Kong\'s default message', () => {
  const { config, instance } = pluginFromYaml('_format_version: "3.0"\nplugins:\n  - name: request-termination\n', 'request-termination');
  assert.equal(config.config.status_code, 503);
  const ctx = new FakeContext();
  assert.equal(instance.onRequest!(ctx), Verdict.Stop);
  assert.equal(ctx.reply?.status, 503);
  assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'The upstream server is currently unavailable' });
});

test('status_code and message', () => {
  const { instance } = pluginFromYaml(conf('status_code: 403\nmessage: go away'), 'request-termination');
  const ctx = new FakeContext();
  assert.equal(instance.onRequest!(ctx), Verdict.Stop);
  assert.equal(ctx.reply?.status, 403);
  assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'go away' });
});

test('body and content_type are sent as given', () => {
  const { instance } = pluginFromYaml(conf('status_code: 200\nbody: "<h1>hi</h1>"\ncontent_type: text/html'), 'request-termination');
  const ctx = new FakeContext();
  instance.onRequest!(ctx);
  assert.equal(ctx.reply?.body, '<h1>hi</h1>');
  assert.equal(ctx.reply?.contentType, 'text/html');
});

test('trigger: only requests carrying the header or query argument are terminated', () => {
  const { instance } = pluginFromYaml(conf('trigger: X-Stop'), 'request-termination');
  const plain = new FakeContext();
  assert.equal(instance.onRequest!(plain), Verdict.Continue);
  assert.equal(plain.reply, null);
  const byHeader = new FakeContext({ headers: { 'x-stop': '1' } });
  assert.equal(instance.onRequest!(byHeader), Verdict.Stop);
  const byQuery = new FakeContext({ query: 'a=1&X-Stop' });
  assert.equal(instance.onRequest!(byQuery), Verdict.Stop);
  const otherCase = new FakeContext({ query: 'a=1&x-stop=yes' });
  assert.equal(instance.onRequest!(otherCase), Verdict.Continue, 'query argument names are case-sensitive');
});

test('echo describes the request', () => {
  const { instance } = pluginFromYaml(conf('echo: true\nstatus_code: 404'), 'request-termination');
  const ctx = new FakeContext({ method: 'PUT', path: '/a/b', query: 'x=1', headers: { 'x-h': 'v' } });
  instance.onRequest!(ctx);
  const body = JSON.parse(ctx.reply!.body);
  assert.equal(body.request.method, 'PUT');
  assert.equal(body.request.path, '/a/b');
  assert.equal(body.request.raw_query, 'x=1');
  assert.equal(body.request.headers['x-h'], 'v');
  assert.equal(body.matched_route.id, 'route-1');
});

test('a status_code out of range is rejected by the plugin schema with its line', () => {
  assert.throws(() => pluginFromYaml(conf('status_code: 700'), 'request-termination'), /inline\.yaml:5:.*status_code/);
});
