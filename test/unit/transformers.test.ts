import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';

const yaml = (name: string, config: string) => `_format_version: "3.0"
plugins:
  - name: ${name}
    config:
${config
  .trim()
  .split('\n')
  .map((l) => '      ' + l)
  .join('\n')}
`;

const reqT = (config: string) => pluginFromYaml(yaml('request-transformer', config), 'request-transformer').instance;
const resT = (config: string) => pluginFromYaml(yaml('response-transformer', config), 'response-transformer').instance;

async function run(config: string, req: FakeRequest & { body?: string }): Promise<FakeContext> {
  const ctx = new FakeContext(req);
  if (req.body !== undefined) ctx.requestBody = Buffer.from(req.body);
  assert.equal(await reqT(config).onRequest!(ctx), Verdict.Continue);
  return ctx;
}

test('request-transformer defaults: every list empty, no method', () => {
  const { config } = pluginFromYaml(yaml('request-transformer', 'http_method: null'), 'request-transformer');
  assert.deepEqual(config.config, {
    http_method: null,
    remove: { body: [], headers: [], querystring: [] },
    rename: { body: [], headers: [], querystring: [] },
    replace: { body: [], headers: [], querystring: [], uri: null },
    add: { body: [], headers: [], querystring: [] },
    append: { body: [], headers: [], querystring: [] },
  });
});

test('request headers in Kong\'s order: remove, rename, replace, add, append', async () => {
  const ctx = await run(
    `
remove: { headers: [x-drop] }
rename: { headers: ["x-old:x-new"] }
replace: { headers: ["x-rep:replaced", "x-absent:nope"] }
add: { headers: ["x-new:not-added", "x-added:yes", "x-drop:back"] }
append: { headers: ["x-list:two", "x-fresh:one"] }`,
    { headers: { 'x-drop': '1', 'x-old': 'moved', 'x-rep': 'orig', 'x-list': 'one' } },
  );
  const h = ctx.upstreamHeaders;
  assert.equal(h.get('x-old'), null);
  assert.equal(h.get('x-new'), 'moved', 'add does not override a renamed header');
  assert.equal(h.get('x-rep'), 'replaced');
  assert.equal(h.has('x-absent'), false, 'replace only touches present headers');
  assert.equal(h.get('x-added'), 'yes');
  assert.equal(h.get('x-drop'), 'back', 'removed first, then added');
  assert.equal(h.get('x-list'), 'one, two');
  assert.equal(h.get('x-fresh'), 'one');
});

test('templates render headers, query params and uri captures; replace.uri and http_method', async () => {
  const ctx = new FakeContext({ path: '/users/42', query: 'q=find', headers: { 'x-user': 'ann' } });
  ctx.pathCaptures = { id: '42' };
  const plugin = reqT(`
http_method: POST
replace: { uri: "/v2/people/$(uri_captures.id)" }
add: { headers: ["x-who:$(headers.x_user)", "x-q:$(query_params[\\"q\\"])"] }`);
  assert.equal(plugin.onRequest!(ctx), Verdict.Continue);
  assert.equal(ctx.upstreamPath, '/v2/people/42');
  assert.equal(ctx.upstreamMethod, 'POST');
  assert.equal(ctx.upstreamHeaders.get('x-who'), 'ann');
  assert.equal(ctx.upstreamHeaders.get('x-q'), 'find');
});

test('a Lua template is a load error that names the field', () => {
  assert.throws(() => reqT('add: { headers: ["x-a:$(string.upper(headers.a))"] }'), /add\.headers\.0|add.*headers.*Lua/s);
  assert.throws(() => reqT('add: { querystring: ["novalue"] }'), /key 'novalue' has no value/);
  assert.throws(() => reqT('remove: { headers: ["bad header"] }'), /'bad header' is not a valid header/);
});

test('query string: remove, rename, replace, add, append; names sorted as Kong encodes them', async () => {
  const ctx = await run(
    `
remove: { querystring: [drop] }
rename: { querystring: ["old:new"] }
replace: { querystring: ["rep:R", "absent:X"] }
add: { querystring: ["rep:not", "added:A B"] }
append: { querystring: ["list:2"] }`,
    { query: 'drop=1&old=o&rep=r&list=1&z=last' },
  );
  assert.equal(ctx.upstreamQuery, 'added=A%20B&list=1&list=2&new=o&rep=R&z=last');
});

test('JSON body: the five operations, and no read when the body is not JSON or form', async () => {
  const config = `
remove: { body: [secret] }
rename: { body: ["old:new"] }
replace: { body: ["rep:R", "absent:X"] }
add: { body: ["added:A", "rep:no"] }
append: { body: ["list:2", "name:second"] }`;
  const ctx = await run(config, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"secret":1,"old":"o","rep":"r","list":["1"],"name":"first"}' });
  assert.deepEqual(JSON.parse(ctx.upstreamBody!.toString()), { new: 'o', rep: 'R', list: ['1', '2'], name: ['first', 'second'], added: 'A' });
  const plain = new FakeContext({ method: 'POST', headers: { 'content-type': 'text/plain' } });
  plain.requestBody = Buffer.from('{"secret":1}');
  assert.equal(reqT(config).onRequest!(plain), Verdict.Continue, 'synchronous: the body is not read');
  assert.equal(plain.upstreamBody, null);
  const broken = await run(config, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
  assert.equal(broken.upstreamBody, null, 'an unparsable body goes unchanged');
});

test('form body transforms; http_method GET moves form fields into the query string', async () => {
  const ctx = await run('remove: { body: [b] }\nadd: { body: ["c:3"] }', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=2' });
  assert.equal(ctx.upstreamBody!.toString(), 'a=1&c=3');
  const get = await run('http_method: GET', { method: 'POST', query: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&x=2' });
  assert.equal(get.upstreamMethod, 'GET');
  assert.equal(get.upstreamQuery, 'a=1&x=1&x=2');
});

test('a body over the transform limit gets 413', async () => {
  const ctx = new FakeContext({ method: 'POST', headers: { 'content-type': 'application/json' } });
  ctx.requestBody = Buffer.alloc(16 * 1024 * 1024 + 1, 0x20);
  assert.equal(await reqT('add: { body: ["a:1"] }').onRequest!(ctx), Verdict.Stop);
  assert.equal(ctx.reply?.status, 413);
});

test('response headers in Kong\'s order, conditions on the upstream\'s headers', () => {
  const plugin = resT(`
remove: { headers: [x-internal] }
rename: { headers: ["x-old:x-new"] }
replace: { headers: ["x-rep:R", "x-absent:X"] }
add: { headers: ["x-add:A", "x-rep:no"] }
append: { headers: ["x-multi:2"] }`);
  const ctx = new FakeContext();
  ctx.responseStatus = 200;
  ctx.upstreamResponse = ['x-internal', '1', 'x-old', 'o', 'x-rep', 'r', 'x-multi', '1', 'content-type', 'text/plain'];
  plugin.onResponse!(ctx);
  assert.ok(ctx.removedResponseHeaders.has('x-internal'));
  assert.ok(ctx.removedResponseHeaders.has('x-old'));
  assert.equal(ctx.responseHeaders.get('x-new'), 'o');
  assert.equal(ctx.responseHeaders.get('x-rep'), 'R');
  assert.equal(ctx.responseHeaders.has('x-absent'), false);
  assert.equal(ctx.responseHeaders.get('x-add'), 'A');
  assert.deepEqual(ctx.addedResponseHeaders, [['x-multi', '2']]);
  assert.equal(ctx.bodyFilters.length, 0, 'no JSON operations: the body streams untouched');
});

test('response JSON body: operations with json_types, rewritten whole; non-JSON passes through', () => {
  const plugin = resT(`
remove: { json: [token] }
rename: { json: ["old:new"] }
replace: { json: ["count:7"], json_types: [number] }
add: { json: ["flag:true", "url:http:\\\\/\\\\/x"], json_types: [boolean, string] }
append: { json: ["tags:b"] }`);
  const ctx = new FakeContext();
  ctx.responseStatus = 200;
  ctx.upstreamResponse = ['content-type', 'application/json; charset=utf-8'];
  plugin.onResponse!(ctx);
  assert.equal(ctx.bodyFilters.length, 1);
  assert.equal(ctx.bodyFilters[0].rewrites, true);
  const out = ctx.runBodyFilters([Buffer.from('{"token":"t","old":1,"cou'), Buffer.from('nt":1,"tags":["a"]}')]);
  assert.deepEqual(JSON.parse(out.toString()), { new: 1, count: 7, tags: ['a', 'b'], flag: true, url: 'http://x' });
  const text = new FakeContext();
  text.upstreamResponse = ['content-type', 'text/html'];
  plugin.onResponse!(text);
  assert.equal(text.bodyFilters.length, 0);
  const bad = new FakeContext();
  bad.upstreamResponse = ['content-type', 'application/json'];
  plugin.onResponse!(bad);
  assert.equal(bad.runBodyFilters([Buffer.from('not json')]).toString(), 'not json');
});
