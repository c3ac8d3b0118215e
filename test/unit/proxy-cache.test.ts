import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Verdict } from '../../src/plugins/api';
import { ProxyCache } from '../../src/plugins/proxy-cache';
import { CacheStore, entrySize, FILL_WAIT_MS } from '../../src/plugins/proxy-cache/store';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';

let dictionaries = 0;

/** A proxy-cache built from YAML through the real schema, on its own dictionary and a fake clock. */
function cache(config = '', clock = { now: 1_000_000 }): { plugin: ProxyCache; clock: { now: number }; conf: Record<string, unknown> } {
  const dict = `unit_${++dictionaries}`;
  const yaml = `_format_version: "3.0"
plugins:
  - name: proxy-cache
    config:
      strategy: memory
      memory: { dictionary_name: ${dict} }
${config
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => '      ' + l)
  .join('\n')}
`;
  const { config: entry } = pluginFromYaml(yaml, 'proxy-cache');
  return { plugin: new ProxyCache(entry.config as never, { now: () => clock.now }), clock, conf: entry.config };
}

/** One request through the plugin: onRequest, then (unless answered) an upstream response. */
async function exchange(
  plugin: ProxyCache,
  req: FakeRequest,
  upstream: { status?: number; headers?: string[]; body?: string } = {},
): Promise<FakeContext> {
  const ctx = new FakeContext(req);
  const verdict = await plugin.onRequest(ctx);
  if (verdict === Verdict.Continue) {
    ctx.responseStatus = upstream.status ?? 200;
    ctx.upstreamResponse = upstream.headers ?? ['content-type', 'application/json'];
    plugin.onResponse(ctx);
    ctx.runBodyFilters([Buffer.from(upstream.body ?? '{"n":1}')]);
  }
  plugin.onLog(ctx);
  return ctx;
}

test('defaults are Kong\'s', () => {
  const { conf } = cache();
  assert.deepEqual(conf.response_code, [200, 301, 404]);
  assert.deepEqual(conf.request_method, ['GET', 'HEAD']);
  assert.deepEqual(conf.content_type, ['text/plain', 'application/json']);
  assert.equal(conf.cache_ttl, 300);
  assert.equal(conf.cache_control, false);
  assert.deepEqual(conf.memory, { dictionary_name: (conf.memory as { dictionary_name: string }).dictionary_name });
  assert.deepEqual(conf.response_headers, { age: true, 'X-Cache-Status': true, 'X-Cache-Key': true });
});

test('strategy is required and only memory is known', () => {
  assert.throws(() => pluginFromYaml('_format_version: "3.0"\nplugins:\n  - name: proxy-cache\n    config: {}\n', 'proxy-cache'), /strategy/);
  assert.throws(() => pluginFromYaml('_format_version: "3.0"\nplugins:\n  - name: proxy-cache\n    config: { strategy: redis }\n', 'proxy-cache'), /strategy/);
});

test('the cache key is Kong\'s: sha256 of prefix|method|request line|sorted query|vary headers', async () => {
  const { plugin } = cache('vary_headers: [X-Lang]');
  const ctx = new FakeContext({ path: '/a', query: 'b=2&a=1&a=0&flag', headers: { 'x-lang': 'fr', 'x-other': '1' } });
  plugin.onRequest(ctx);
  const expected = createHash('sha256').update('route-1|GET|GET /a|a=0,1:b=2:flag|X-Lang=fr').digest('hex');
  assert.equal(ctx.responseHeaders.get('x-cache-key'), expected);
  plugin.onLog(ctx);
  // Without a query Kong's request line keeps its protocol.
  const bare = new FakeContext({ path: '/a' });
  plugin.onRequest(bare);
  assert.equal(bare.responseHeaders.get('x-cache-key'), createHash('sha256').update('route-1|GET|GET /a HTTP/1.1||').digest('hex'));
  plugin.onLog(bare);
});

test('vary_query_params keeps only the named parameters in the key', async () => {
  const { plugin } = cache('vary_query_params: [page]');
  const a = await exchange(plugin, { path: '/list', query: 'page=1&utm=x' });
  const b = await exchange(plugin, { path: '/list', query: 'utm=y&page=1' });
  assert.equal(a.responseHeaders.get('x-cache-key'), b.responseHeaders.get('x-cache-key'));
  assert.equal(b.reply?.status, 200);
  assert.ok(b.reply?.headers?.includes('Hit'));
});

test('Miss, then Hit with the stored status, headers, body and Age', async () => {
  const { plugin, clock } = cache();
  const first = await exchange(plugin, { path: '/x' }, { headers: ['content-type', 'application/json', 'x-up', 'yes', 'connection', 'close'], body: '{"a":1}' });
  assert.equal(first.responseHeaders.get('x-cache-status'), 'Miss');
  assert.equal(first.reply, null);
  clock.now += 7;
  const second = await exchange(plugin, { path: '/x' });
  assert.equal(second.reply?.status, 200);
  assert.equal(second.reply?.body, '{"a":1}');
  assert.equal(second.reply?.contentType, 'application/json');
  const h = second.reply!.headers!;
  const get = (n: string) => h[h.indexOf(n) + 1];
  assert.equal(get('x-up'), 'yes');
  assert.equal(h.indexOf('connection'), -1, 'hop-by-hop headers are not replayed');
  assert.equal(get('Age'), '7');
  assert.equal(get('X-Cache-Status'), 'Hit');
});

test('cache_ttl without storage_ttl: the entry is gone after it (Miss)', async () => {
  const { plugin, clock } = cache('cache_ttl: 10');
  await exchange(plugin, { path: '/t' }, { body: '"v1"' });
  clock.now += 9;
  assert.equal((await exchange(plugin, { path: '/t' })).reply?.body, '"v1"');
  clock.now += 1;
  const again = await exchange(plugin, { path: '/t' }, { body: '"v2"' });
  assert.equal(again.responseHeaders.get('x-cache-status'), 'Miss');
});

test('cache_ttl with a longer storage_ttl: an entry older than cache_ttl is refreshed (Refresh)', async () => {
  const { plugin, clock } = cache('cache_ttl: 10\nstorage_ttl: 100');
  await exchange(plugin, { path: '/t' }, { body: '"v1"' });
  clock.now += 10;
  assert.equal((await exchange(plugin, { path: '/t' })).reply?.body, '"v1"');
  clock.now += 1;
  const refreshed = await exchange(plugin, { path: '/t' }, { body: '"v2"' });
  assert.equal(refreshed.reply, null);
  assert.equal(refreshed.responseHeaders.get('x-cache-status'), 'Refresh');
  assert.equal((await exchange(plugin, { path: '/t' })).reply?.body, '"v2"');
});

test('request_method, response_code and content_type decide what is cached (Bypass otherwise)', async () => {
  const { plugin } = cache('content_type: ["application/json; charset=utf-8", "text/*"]');
  const post = await exchange(plugin, { method: 'POST', path: '/m' });
  assert.equal(post.responseHeaders.get('x-cache-status'), 'Bypass');
  const status500 = await exchange(plugin, { path: '/s' }, { status: 500 });
  assert.equal(status500.responseHeaders.get('x-cache-status'), 'Bypass');
  assert.equal(status500.bodyFilters.length, 0);
  const plainJson = await exchange(plugin, { path: '/j' }, { headers: ['content-type', 'application/json'] });
  assert.equal(plainJson.responseHeaders.get('x-cache-status'), 'Bypass', 'parameters must match exactly');
  const utf8Json = await exchange(plugin, { path: '/u' }, { headers: ['content-type', 'application/json; charset=utf-8'] });
  assert.equal(utf8Json.responseHeaders.get('x-cache-status'), 'Miss');
  const html = await exchange(plugin, { path: '/h' }, { headers: ['content-type', 'text/html'] });
  assert.equal(html.responseHeaders.get('x-cache-status'), 'Miss');
  assert.ok((await exchange(plugin, { path: '/h' })).reply?.headers?.includes('Hit'));
});

test('Set-Cookie and Cache-Control private/no-store responses are never stored', async () => {
  const { plugin } = cache();
  for (const [path, headers] of [
    ['/cookie', ['content-type', 'application/json', 'set-cookie', 'sid=1']],
    ['/private', ['content-type', 'application/json', 'cache-control', 'private, max-age=60']],
    ['/nostore', ['content-type', 'application/json', 'cache-control', 'no-store']],
  ] as const) {
    const first = await exchange(plugin, { path }, { headers: [...headers] });
    assert.equal(first.responseHeaders.get('x-cache-status'), 'Bypass', path);
    const again = await exchange(plugin, { path }, { headers: [...headers] });
    assert.equal(again.reply, null, `${path} went upstream again`);
  }
});

test('cache_control: the response max-age is the TTL, and a client no-cache bypasses', async () => {
  const { plugin, clock } = cache('cache_control: true');
  await exchange(plugin, { path: '/cc' }, { headers: ['content-type', 'application/json', 'cache-control', 'max-age=5'] });
  const hit = await exchange(plugin, { path: '/cc' });
  assert.equal(hit.reply?.status, 200);
  const bypass = await exchange(plugin, { path: '/cc', headers: { 'cache-control': 'no-cache' } });
  assert.equal(bypass.responseHeaders.get('x-cache-status'), 'Bypass');
  clock.now += 6;
  const expired = await exchange(plugin, { path: '/cc' });
  assert.equal(expired.reply, null, 'the storage TTL (= max-age) is over');
  const noTtl = await exchange(plugin, { path: '/zero' }, { headers: ['content-type', 'application/json', 'cache-control', 'max-age=0'] });
  assert.equal(noTtl.responseHeaders.get('x-cache-status'), 'Bypass');
});

test('concurrent misses on one key: one goes upstream, the others wait and are served from it', async () => {
  const { plugin } = cache();
  const leader = new FakeContext({ path: '/hot' });
  assert.equal(plugin.onRequest(leader), Verdict.Continue);
  const followers = Array.from({ length: 5 }, () => new FakeContext({ path: '/hot' }));
  const pending = followers.map((f) => plugin.onRequest(f));
  for (const p of pending) assert.ok(p instanceof Promise, 'a follower waits');
  leader.responseStatus = 200;
  leader.upstreamResponse = ['content-type', 'application/json'];
  plugin.onResponse(leader);
  leader.runBodyFilters([Buffer.from('{"hot":'), Buffer.from('true}')]);
  plugin.onLog(leader);
  const verdicts = await Promise.all(pending);
  assert.deepEqual(verdicts, followers.map(() => Verdict.Stop));
  for (const f of followers) assert.equal(f.reply?.body, '{"hot":true}');
});

test('a fill that dies (client gone) releases its waiters, who then go upstream themselves', async () => {
  const { plugin } = cache();
  const leader = new FakeContext({ path: '/dies' });
  plugin.onRequest(leader);
  const follower = new FakeContext({ path: '/dies' });
  const pending = plugin.onRequest(follower);
  plugin.onLog(leader); // aborted before any response
  assert.equal(await pending, Verdict.Continue);
  assert.equal(follower.responseHeaders.get('x-cache-status'), 'Miss');
});

test('response_headers switches hide the diagnostic headers; Kong-Debug shows them', async () => {
  const { plugin } = cache('response_headers: { X-Cache-Status: false, X-Cache-Key: false, age: false }');
  const miss = await exchange(plugin, { path: '/q' });
  assert.equal(miss.responseHeaders.size, 0);
  const hit = await exchange(plugin, { path: '/q' });
  assert.deepEqual(hit.reply?.headers, []);
  const debug = await exchange(plugin, { path: '/q', headers: { 'kong-debug': '1' } });
  assert.ok(debug.reply?.headers?.includes('X-Cache-Status'));
});

test('the store stays within its byte bound under churn, evicting least recently used first', () => {
  const store = new CacheStore(20_000);
  const body = Buffer.alloc(1000, 'b');
  store.set('keep', { status: 200, headers: [], contentType: 'text/plain', body, timestamp: 0, ttl: 10, expiresAt: 1e12, size: entrySize('keep', [], body.length) });
  for (let i = 0; i < 500; i++) {
    const key = `k${i}`;
    store.set(key, { status: 200, headers: ['x', String(i)], contentType: 'text/plain', body, timestamp: 0, ttl: 10, expiresAt: 1e12, size: entrySize(key, ['x', String(i)], body.length) });
    if (i % 5 === 0) assert.ok(store.get('keep', 1) !== undefined, 'recently used entries survive');
    assert.ok(store.bytes <= 20_000, `bytes ${store.bytes}`);
  }
  assert.equal(store.get('k0', 1), undefined);
  assert.ok(store.get('k499', 1) !== undefined);
  const huge = Buffer.alloc(30_000);
  store.set('huge', { status: 200, headers: [], contentType: 'text/plain', body: huge, timestamp: 0, ttl: 10, expiresAt: 1e12, size: entrySize('huge', [], huge.length) });
  assert.equal(store.get('huge', 1), undefined, 'an entry larger than the store is not kept');
});

test('a hung fill holds its waiters at most FILL_WAIT_MS; they and later requests then go upstream unlocked', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { plugin } = cache();
    const leader = new FakeContext({ path: '/hung' });
    plugin.onRequest(leader);
    const follower = new FakeContext({ path: '/hung' });
    let settled = false;
    const pending = Promise.resolve(plugin.onRequest(follower)).then((v) => ((settled = true), v));
    mock.timers.tick(FILL_WAIT_MS - 1);
    await Promise.resolve();
    assert.equal(settled, false);
    mock.timers.tick(1);
    assert.equal(await pending, Verdict.Continue);
    assert.equal(follower.responseHeaders.get('x-cache-status'), 'Miss');
    const late = new FakeContext({ path: '/hung' });
    assert.equal(plugin.onRequest(late), Verdict.Continue, 'no waiting on an expired fill');
    // The late request fills without the lock; the leader's lock is still its own to release.
    late.responseStatus = 200;
    late.upstreamResponse = ['content-type', 'application/json'];
    plugin.onResponse(late);
    late.runBodyFilters([Buffer.from('{"late":1}')]);
    plugin.onLog(late);
    plugin.onLog(leader);
    assert.equal((await exchange(plugin, { path: '/hung' })).reply?.body, '{"late":1}');
  } finally {
    mock.timers.reset();
  }
});
