/**
 * proxy-cache through the real gateway with a real upstream that counts what reaches it.
 * Hits and the stampede run on a 1-worker gateway (the memory store is per worker, as an
 * lua_shared_dict is not: see the README); the 2-worker gateway checks what holds per worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

let upstream: http.Server;
let upstreamPort = 0;
/** Requests that reached the upstream, by path + query. */
const hits = new Map<string, number>();
let one: Gateway;
let two: Gateway;

function reached(pathAndQuery: string): number {
  return hits.get(pathAndQuery) ?? 0;
}

function startUpstream(): Promise<void> {
  upstream = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
    const q = url.searchParams;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (q.get('cookie') === '1') headers['set-cookie'] = 'sid=secret';
    if (q.has('cc')) headers['cache-control'] = q.get('cc')!;
    const size = Number(q.get('size') ?? 0);
    const body = size > 0 ? JSON.stringify({ pad: 'p'.repeat(size) }) : JSON.stringify({ n: hits.get(req.url!), path: url.pathname });
    setTimeout(() => {
      if (q.get('chunked') === '1') {
        res.writeHead(200, headers);
        res.write(body.slice(0, 3));
        setTimeout(() => res.end(body.slice(3)), 5);
      } else {
        res.writeHead(200, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      }
    }, Number(q.get('delay') ?? 0));
  });
  return new Promise((resolve) => upstream.listen(0, '127.0.0.1', () => {
    upstreamPort = (upstream.address() as AddressInfo).port;
    resolve();
  }));
}

function config(): string {
  return `
_format_version: "3.0"
services:
  - name: up
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: cached
        paths: [/c]
        strip_path: false
        plugins: [{ name: proxy-cache, config: { strategy: memory } }]
      - name: short
        paths: [/short]
        strip_path: false
        plugins: [{ name: proxy-cache, config: { strategy: memory, cache_ttl: 1 } }]
`;
}

before(async () => {
  await startUpstream();
  [one, two] = await Promise.all([
    startGateway({ config: config(), workers: 1, args: ['--mem-cache-size', '64k'] }),
    startGateway({ config: config(), workers: 2 }),
  ]);
});

after(async () => {
  await one?.stop();
  await two?.stop();
  await agent.close();
  await new Promise((r) => upstream.close(r));
});

describe('proxy-cache', () => {
  test('Miss then Hit: the second request never reaches the upstream and gets the same body', async () => {
    const first = await get(one.url('/c/basic'));
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-cache-status'], 'Miss');
    assert.match(String(first.headers['x-cache-key']), /^[0-9a-f]{64}$/);
    const second = await get(one.url('/c/basic'));
    assert.equal(second.headers['x-cache-status'], 'Hit');
    assert.equal(second.headers['x-cache-key'], first.headers['x-cache-key']);
    assert.equal(second.text, first.text);
    assert.equal(second.headers['content-type'], 'application/json');
    assert.ok(second.headers.age !== undefined);
    assert.equal(reached('/c/basic'), 1);
  });

  test('a chunked upstream body is cached whole', async () => {
    const first = await get(one.url('/c/chunked?chunked=1'));
    const second = await get(one.url('/c/chunked?chunked=1'));
    assert.equal(second.headers['x-cache-status'], 'Hit');
    assert.equal(second.text, first.text);
    assert.deepEqual(second.json(), { n: 1, path: '/c/chunked' });
  });

  test('stampede: 100 concurrent misses on one key make one upstream request', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, () => get(one.url('/c/hot?delay=300'))));
    assert.equal(reached('/c/hot?delay=300'), 1);
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.deepEqual(r.json(), { n: 1, path: '/c/hot' });
    }
    const statuses = results.map((r) => r.headers['x-cache-status']);
    assert.equal(statuses.filter((s) => s === 'Miss').length, 1);
    assert.equal(statuses.filter((s) => s === 'Hit').length, 99);
  });

  test('cache_ttl expiry: after the TTL the upstream is asked again', async () => {
    await get(one.url('/short/x'));
    assert.equal((await get(one.url('/short/x'))).headers['x-cache-status'], 'Hit');
    await new Promise((r) => setTimeout(r, 2100));
    const after = await get(one.url('/short/x'));
    assert.equal(after.headers['x-cache-status'], 'Miss');
    assert.equal(reached('/short/x'), 2);
  });

  test('Set-Cookie and Cache-Control: private responses are not cached (Bypass)', async () => {
    for (const q of ['cookie=1', 'cc=private', 'cc=no-store']) {
      const a = await get(one.url(`/c/nc?${q}`));
      assert.equal(a.headers['x-cache-status'], 'Bypass', q);
      const b = await get(one.url(`/c/nc?${q}`));
      assert.equal(b.headers['x-cache-status'], 'Bypass', q);
      assert.equal(reached(`/c/nc?${q}`), 2, q);
    }
  });

  test('a POST is not cacheable by default (Bypass) and always reaches the upstream', async () => {
    const a = await get(one.url('/c/post'), { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(a.headers['x-cache-status'], 'Bypass');
    await get(one.url('/c/post'), { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(reached('/c/post'), 2);
  });

  test('the size bound holds under churn: with 64k, old entries are evicted and recent ones kept', async () => {
    for (let i = 0; i < 60; i++) await get(one.url(`/c/churn${i}?size=4000`));
    // 60 x ~4 KB went through a 64 KB store: the first ones are gone, the last ones are there.
    const oldest = await get(one.url('/c/churn0?size=4000'));
    assert.equal(oldest.headers['x-cache-status'], 'Miss');
    const newest = await get(one.url('/c/churn59?size=4000'));
    assert.equal(newest.headers['x-cache-status'], 'Hit');
    // An entry larger than the whole store streams through and is never kept.
    await get(one.url('/c/big?size=100000'));
    const big = await get(one.url('/c/big?size=100000'));
    assert.equal(big.headers['x-cache-status'], 'Miss');
    assert.equal(big.json().pad.length, 100000);
  });

  test('two workers: each worker fills its own store at most once per key', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await get(two.url('/c/two'));
      assert.equal(r.status, 200);
      assert.ok(['Hit', 'Miss'].includes(String(r.headers['x-cache-status'])));
    }
    assert.ok(reached('/c/two') >= 1 && reached('/c/two') <= 2, `reached ${reached('/c/two')}`);
  });
});
