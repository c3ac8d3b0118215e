/**
 * The redis policy against a real redis-server started on a free port (test/helpers/redis.ts):
 * counting in redis, sync_rate budgets, and redis going away and coming back.
 */
import { WorkerResources } from '../../src/plugins/resources';
import { RATE_LIMIT_RUNTIME } from '../../src/ratelimit/runtime';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { Verdict, type PluginInstance } from '../../src/plugins/api';
import { createRateLimitMemory, readRateLimitStats, SharedCounterTable } from '../../src/ratelimit/shared-table';
import { closeRedisStores, redisStoreFor } from '../../src/ratelimit/redis-store';
import { Local, SyncedBudgets } from '../../src/ratelimit/redis-sync';
import { LimitSpec, UsageReport } from '../../src/ratelimit/limits';
import type { RateLimitRuntime } from '../../src/ratelimit/runtime';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';
import { startRedis, type RedisServer } from '../helpers/redis';

const T0 = Date.UTC(2026, 0, 15, 10, 30, 15, 500);
let redis: RedisServer;
let admin: Redis;
const clock = { now: T0 };
const warnings: string[] = [];

function runtime(): RateLimitRuntime {
  return {
    table: new SharedCounterTable(createRateLimitMemory(1024)),
    now: () => clock.now,
    log: { warn: (_o, msg) => warnings.push(msg), info() {} },
  };
}

let scopeCounter = 0;
/** A plugin on its own route, so every test counts under its own keys. */
function build(config: string, rt = runtime(), route = `r${++scopeCounter}`): PluginInstance {
  const yaml = `_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:1
    routes:
      - name: ${route}
        paths: [/]
plugins:
  - name: rate-limiting
    route: ${route}
    config: {policy: redis, redis: {host: 127.0.0.1, port: ${redis.port}, timeout: 1000}, ${config}}
`;
  return pluginFromYaml(yaml, 'rate-limiting', { resources: new WorkerResources().set(RATE_LIMIT_RUNTIME, rt) }).instance;
}

async function run(plugin: PluginInstance, req: FakeRequest = {}): Promise<{ verdict: Verdict; ctx: FakeContext; sync: boolean }> {
  const ctx = new FakeContext(req);
  const out = plugin.onRequest!(ctx);
  const sync = typeof out === 'number';
  return { verdict: await out, ctx, sync };
}

async function passes(plugin: PluginInstance, n: number, req: FakeRequest = {}): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await run(plugin, req)).verdict === Verdict.Continue) ok++;
  return ok;
}

before(async () => {
  redis = await startRedis();
  admin = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  await admin.connect();
});

after(async () => {
  closeRedisStores();
  admin.disconnect();
  await redis.stop();
});

describe('redis policy, sync_rate -1 (every request counted in redis)', () => {
  test('fixed window: the limit holds across two nodes sharing redis', async () => {
    // Two instances with separate local tables = two gateway nodes; only redis is shared.
    const a = build('minute: 3, limit_by: ip', runtime(), 'shared');
    const b = build('minute: 3, limit_by: ip', runtime(), 'shared');
    assert.equal(await passes(a, 2), 2);
    assert.equal(await passes(b, 3), 1);
    assert.equal(await passes(a, 1), 0);
    const keys = await admin.keys('ratelimit:shared|*');
    assert.equal(keys.length, 1);
    assert.equal(await admin.get(keys[0]), '3');
    assert.ok((await admin.pttl(keys[0])) > 0, 'the key expires with its window');
  });

  test('headers and the 429 come out as with the local policy', async () => {
    const plugin = build('second: 10, minute: 2, limit_by: ip');
    const first = await run(plugin);
    assert.equal(first.ctx.responseHeaders.get('x-ratelimit-remaining-minute'), '1');
    assert.equal(first.ctx.responseHeaders.get('x-ratelimit-remaining-second'), '9');
    assert.equal(first.ctx.responseHeaders.get('ratelimit-remaining'), '1');
    assert.equal(first.ctx.responseHeaders.get('ratelimit-reset'), '45');
    await run(plugin);
    const refused = await run(plugin);
    assert.equal(refused.verdict, Verdict.Stop);
    assert.equal(refused.ctx.reply!.status, 429);
    const h = refused.ctx.reply!.headers!;
    assert.equal(h[h.indexOf('Retry-After') + 1], '45');
    assert.equal(h[h.indexOf('X-RateLimit-Remaining-Second') + 1], '8', 'a refused request is counted in no window');
  });

  test('every window and limit_by works through redis', async () => {
    for (const w of ['second', 'minute', 'hour', 'day', 'month', 'year']) {
      const plugin = build(`${w}: 2, limit_by: header, header_name: x-user`);
      assert.equal(await passes(plugin, 3, { headers: { 'x-user': 'u1' } }), 2, w);
      assert.equal(await passes(plugin, 3, { headers: { 'x-user': 'u2' } }), 2, w);
    }
  });

  test('sliding window in redis', async () => {
    clock.now = Date.UTC(2026, 0, 15, 10, 40, 0);
    const plugin = build('minute: 10, limit_by: ip, algorithm: sliding');
    assert.equal(await passes(plugin, 12), 10);
    clock.now = Date.UTC(2026, 0, 15, 10, 41, 30); // half of the previous 10 still counts
    assert.equal(await passes(plugin, 10), 5);
    clock.now = T0;
  });

  test('token bucket in redis, with burst', async () => {
    clock.now = Date.UTC(2026, 0, 15, 10, 50, 0);
    const plugin = build('second: 2, limit_by: ip, algorithm: token_bucket, burst: 4');
    assert.equal(await passes(plugin, 6), 4);
    clock.now += 1000;
    assert.equal(await passes(plugin, 4), 2);
    clock.now = T0;
  });
});

describe('redis policy, sync_rate > 0 (local share, batched sync)', () => {
  test('one worker: exact, and most requests are decided without waiting for redis', async () => {
    const rt = runtime();
    const plugin = build('minute: 200, limit_by: ip, sync_rate: 1', rt, 'synced');
    let synchronous = 0;
    let admitted = 0;
    for (let i = 0; i < 250; i++) {
      const r = await run(plugin);
      if (r.sync) synchronous++;
      if (r.verdict === Verdict.Continue) admitted++;
    }
    assert.equal(admitted, 200);
    // Shares grow 1, 2, 4... and shrink near the end, where every request asks redis (exact).
    assert.ok(synchronous >= 225, `${synchronous} of 250 decided without a redis round trip`);
    // The batch reaches redis within sync_rate (real time: the flush timer).
    const key = (await admin.keys('ratelimit:synced|*')).find((k) => !k.endsWith(':sharers'))!;
    for (let i = 0; i < 50 && (await admin.get(key)) !== '200'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await admin.get(key), '200');
  });

  test('another node\'s traffic, seen in redis, shrinks this node\'s budget at the next sync', async () => {
    const plugin = build('minute: 10, limit_by: ip, sync_rate: 1', runtime(), 'synced2');
    assert.equal(await passes(plugin, 2), 2);
    const key = (await admin.keys('ratelimit:synced2|*')).find((k) => !k.endsWith(':sharers'))!;
    await admin.incrby(key, 8); // another gateway used the rest
    // This worker's share was 8 at its last sync; it learns the truth when the share runs out.
    const more = await passes(plugin, 12);
    assert.ok(more <= 8, `admitted ${more}`);
    for (let i = 0; i < 50 && Number(await admin.get(key)) < 10 + more - 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(Number(await admin.get(key)), 10 + more);
  });
});

describe('redis policy, sync_rate > 0: bounded under client churn', () => {
  test('beyond the tracked-client cap, new clients are exact through redis and not remembered', async () => {
    const store = redisStoreFor({ host: '127.0.0.1', port: redis.port, username: null, password: null, database: 0, timeout: 1000, ssl: false, ssl_verify: false, server_name: null }, { warn() {}, info() {} });
    const specs = [new LimitSpec('minute', 2, null, 'churn|minute|ip|fixed')];
    const budgets = new SyncedBudgets(store, specs, 60, () => clock.now, 3);
    const report = new UsageReport(1);
    for (let i = 0; i < 10; i++) {
      assert.equal(budgets.tryLocal(`client-${i}`, clock.now, report), Local.MustSync);
      assert.equal((await budgets.syncAndCheck(`client-${i}`, clock.now)).stopped, -1);
    }
    assert.equal(budgets.size, 3, 'only 3 clients are tracked');
    // An untracked client is still limited exactly, by redis.
    const third = [];
    for (let i = 0; i < 3; i++) third.push((await budgets.syncAndCheck('client-9', clock.now)).stopped);
    assert.deepEqual(third, [-1, 0, 0]);
    budgets.stop();
  });
});

describe('redis down mid-traffic', () => {
  test('fault_tolerant true: fails open, logs once per interval, counts; recovers without a restart', async () => {
    const rt = runtime();
    const plugin = build('minute: 100, limit_by: ip, fault_tolerant: true', rt);
    assert.equal(await passes(plugin, 3), 3);
    warnings.length = 0;
    await redis.kill();
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await run(plugin));
    assert.ok(results.every((r) => r.verdict === Verdict.Continue && r.ctx.reply === null), 'every request proxied');
    assert.equal(readRateLimitStats(rt.table.memory).failOpen, 10);
    assert.equal(warnings.filter((w) => w.includes('redis unreachable')).length, 1, 'logged once, not per request');
    await redis.restart();
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      const r = await run(plugin);
      back = r.ctx.responseHeaders.has('x-ratelimit-remaining-minute');
      if (!back) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(back, 'counting again after redis came back');
  });

  test('fault_tolerant false: 500 with a clear message, then normal again after reconnect', async () => {
    const rt = runtime();
    const plugin = build('minute: 100, limit_by: ip, fault_tolerant: false', rt);
    assert.equal((await run(plugin)).verdict, Verdict.Continue);
    await redis.kill();
    const down = await run(plugin);
    assert.equal(down.verdict, Verdict.Stop);
    assert.equal(down.ctx.reply!.status, 500);
    assert.match(JSON.parse(down.ctx.reply!.body).message, /rate limiting is unavailable.*redis/i);
    assert.equal(readRateLimitStats(rt.table.memory).storeErrors, 1);
    await redis.restart();
    let status = 500;
    for (let i = 0; i < 100 && status !== 0; i++) {
      const r = await run(plugin);
      status = r.ctx.reply === null ? 0 : r.ctx.reply.status;
      if (status !== 0) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(status, 0, 'proxied again');
  });
});
