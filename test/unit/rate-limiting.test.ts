/**
 * rate-limiting built from inline Kong YAML through the real loader, run against FakeContexts on a
 * fake clock (injected through PluginEnv.rateLimit; nothing sleeps) and a real shared table.
 */
import { WorkerResources } from '../../src/plugins/resources';
import { RATE_LIMIT_RUNTIME } from '../../src/ratelimit/runtime';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict, type PluginContext, type PluginInstance, type RequestHead } from '../../src/plugins/api';
import { createRateLimitMemory, readRateLimitStats, SharedCounterTable } from '../../src/ratelimit/shared-table';
import type { RateLimitRuntime } from '../../src/ratelimit/runtime';
import { loadConfigText, formatConfigErrors } from '../../src/config/load';
import { redactConfig, REDACTED } from '../../src/config/redact';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';

const T0 = Date.UTC(2026, 0, 15, 10, 30, 15, 500); // 2026-01-15T10:30:15.5Z

class FakeClock {
  now = T0;
}

function runtime(clock: FakeClock, memory = createRateLimitMemory(1024)): RateLimitRuntime {
  return { table: new SharedCounterTable(memory), now: () => clock.now, log: { warn() {}, info() {} } };
}

function yaml(config: string, scope = ''): string {
  return `_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:1
    routes:
      - name: r1
        paths: [/]
consumers:
  - username: alice
  - username: bob
plugins:
  - name: rate-limiting
${scope}    config: ${config}
`;
}

function build(config: string, clock: FakeClock, rt = runtime(clock), scope = ''): PluginInstance {
  return pluginFromYaml(yaml(config, scope), 'rate-limiting', { resources: new WorkerResources().set(RATE_LIMIT_RUNTIME, rt) }).instance;
}

function run(plugin: PluginInstance, req: FakeRequest = {}, setup?: (ctx: FakeContext) => void): { verdict: Verdict; ctx: FakeContext } {
  const ctx = new FakeContext(req);
  setup?.(ctx);
  const verdict = plugin.onRequest!(ctx) as Verdict;
  assert.ok(verdict === Verdict.Continue || verdict === Verdict.Stop, 'local policy answers synchronously');
  return { verdict, ctx };
}

function passes(plugin: PluginInstance, n: number, req: FakeRequest = {}, setup?: (ctx: FakeContext) => void): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (run(plugin, req, setup).verdict === Verdict.Continue) ok++;
  return ok;
}

function flatHeaders(h: readonly string[] | null): Map<string, string> {
  const m = new Map<string, string>();
  if (h !== null) for (let i = 0; i + 1 < h.length; i += 2) m.set(h[i].toLowerCase(), h[i + 1]);
  return m;
}

describe('rate-limiting: windows (fixed)', () => {
  const nextWindow: Record<string, number> = {
    second: T0 + 500,
    minute: Date.UTC(2026, 0, 15, 10, 31, 0),
    hour: Date.UTC(2026, 0, 15, 11, 0, 0),
    day: Date.UTC(2026, 0, 16),
    month: Date.UTC(2026, 1, 1),
    year: Date.UTC(2027, 0, 1),
  };
  for (const [window, next] of Object.entries(nextWindow)) {
    test(`${window}: 3 pass, the 4th is refused, the next ${window} starts afresh`, () => {
      const clock = new FakeClock();
      const plugin = build(`{${window}: 3, limit_by: ip}`, clock);
      assert.equal(passes(plugin, 3), 3);
      const refused = run(plugin);
      assert.equal(refused.verdict, Verdict.Stop);
      assert.equal(refused.ctx.reply!.status, 429);
      // Just before the boundary: still the same window.
      clock.now = next - 1;
      assert.equal(run(plugin).verdict, Verdict.Stop);
      clock.now = next;
      assert.equal(passes(plugin, 4), 3);
    });
  }

  test('Retry-After and RateLimit-Reset count the seconds to the end of the window', () => {
    const clock = new FakeClock();
    const plugin = build('{minute: 1, limit_by: ip}', clock);
    run(plugin);
    const { ctx } = run(plugin);
    const h = flatHeaders(ctx.reply!.headers);
    assert.equal(h.get('retry-after'), '45'); // 10:30:15.5 -> 10:31:00
    assert.equal(h.get('ratelimit-reset'), '45');
  });
});

describe('rate-limiting: headers as Kong sends them', () => {
  test('admitted: per-window limit and remaining, RateLimit-* for the tightest window', () => {
    const clock = new FakeClock();
    const plugin = build('{second: 5, minute: 3, limit_by: ip}', clock);
    const { ctx } = run(plugin);
    const h = ctx.responseHeaders;
    assert.equal(h.get('x-ratelimit-limit-second'), '5');
    assert.equal(h.get('x-ratelimit-remaining-second'), '4');
    assert.equal(h.get('x-ratelimit-limit-minute'), '3');
    assert.equal(h.get('x-ratelimit-remaining-minute'), '2');
    assert.equal(h.get('ratelimit-limit'), '3');
    assert.equal(h.get('ratelimit-remaining'), '2');
    assert.equal(h.get('ratelimit-reset'), '45');
  });

  test('refused: Kong body, Retry-After, and the other windows are not charged', () => {
    const clock = new FakeClock();
    const plugin = build('{second: 100, minute: 2, limit_by: ip}', clock);
    passes(plugin, 2);
    const { verdict, ctx } = run(plugin);
    assert.equal(verdict, Verdict.Stop);
    assert.equal(ctx.reply!.status, 429);
    assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'API rate limit exceeded' });
    const h = flatHeaders(ctx.reply!.headers);
    assert.equal(h.get('x-ratelimit-remaining-minute'), '0');
    assert.equal(h.get('x-ratelimit-remaining-second'), '98', 'the refused request was given back to the second window');
    assert.equal(h.get('ratelimit-remaining'), '0');
    assert.equal(h.get('retry-after'), '45');
  });

  test('hide_client_headers sends none of them (and, as Kong, no Retry-After)', () => {
    const clock = new FakeClock();
    const plugin = build('{minute: 1, limit_by: ip, hide_client_headers: true}', clock);
    const ok = run(plugin);
    assert.equal(ok.ctx.responseHeaders.size, 0);
    const refused = run(plugin);
    assert.equal(refused.ctx.reply!.status, 429);
    assert.equal(refused.ctx.reply!.headers, null);
  });

  test('error_code and error_message', () => {
    const clock = new FakeClock();
    const plugin = build('{minute: 1, limit_by: ip, error_code: 503, error_message: "slow down"}', clock);
    run(plugin);
    const { ctx } = run(plugin);
    assert.equal(ctx.reply!.status, 503);
    assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'slow down' });
  });

  test('rejections are counted node-wide', () => {
    const clock = new FakeClock();
    const rt = runtime(clock);
    const plugin = build('{minute: 1, limit_by: ip}', clock, rt);
    passes(plugin, 4);
    assert.equal(readRateLimitStats(rt.table.memory).rejected, 3);
  });
});

describe('rate-limiting: limit_by', () => {
  const alice = { id: 'alice', username: 'alice', customId: null, tags: [] };
  const bob = { id: 'bob', username: 'bob', customId: null, tags: [] };

  test('ip: each client address has its own budget', () => {
    const plugin = build('{minute: 2, limit_by: ip}', new FakeClock());
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.1' }), 2);
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.2' }), 2);
  });

  test('consumer: per consumer, whatever the address; without one, by ip', () => {
    const plugin = build('{minute: 2, limit_by: consumer}', new FakeClock());
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.1' }, (c) => c.authenticate(alice, 'cred-a', 'cred-a', false)), 2);
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.1' }, (c) => c.authenticate(bob, 'cred-b', 'cred-b', false)), 2);
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.9' }), 2, 'no consumer: the ip decides');
  });

  test('credential: per credential; without one, by ip', () => {
    const plugin = build('{minute: 2, limit_by: credential}', new FakeClock());
    assert.equal(passes(plugin, 3, {}, (c) => c.authenticate(alice, 'cred-1', 'cred-1', false)), 2);
    assert.equal(passes(plugin, 3, {}, (c) => c.authenticate(alice, 'cred-2', 'cred-2', false)), 2, 'same consumer, other credential');
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.7' }), 2);
  });

  test('service: every client of a service shares one budget; no service: by ip', () => {
    const plugin = build('{minute: 2, limit_by: service}', new FakeClock());
    assert.equal(passes(plugin, 2, { remoteAddress: '10.0.0.1' }), 2);
    assert.equal(passes(plugin, 1, { remoteAddress: '10.0.0.2' }), 0, 'another client, same service');
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.3' }, (c) => (c.serviceId = null)), 2);
  });

  test('header: per header value; header missing: by ip', () => {
    const plugin = build('{minute: 2, limit_by: header, header_name: X-Tenant}', new FakeClock());
    assert.equal(passes(plugin, 3, { headers: { 'x-tenant': 'a' } }), 2);
    assert.equal(passes(plugin, 3, { headers: { 'x-tenant': 'b' } }), 2);
    assert.equal(passes(plugin, 3, { remoteAddress: '10.0.0.5' }), 2);
  });

  test('path: the configured path has one budget; other paths are limited by ip', () => {
    const plugin = build('{minute: 2, limit_by: path, path: /login}', new FakeClock());
    assert.equal(passes(plugin, 1, { path: '/login', remoteAddress: '10.0.0.1' }), 1);
    assert.equal(passes(plugin, 2, { path: '/login', remoteAddress: '10.0.0.2' }), 1, 'shared by every client of /login');
    assert.equal(passes(plugin, 3, { path: '/other', remoteAddress: '10.0.0.3' }), 2);
  });
});

describe('rate-limiting: algorithms', () => {
  test('sliding window: the previous window counts in proportion to its overlap', () => {
    const clock = new FakeClock();
    clock.now = Date.UTC(2026, 0, 15, 10, 30, 0);
    const plugin = build('{minute: 10, limit_by: ip, algorithm: sliding}', clock);
    assert.equal(passes(plugin, 10), 10);
    // 15 s into the next minute: 75% of the previous 10 still count -> 7, room for 3.
    clock.now = Date.UTC(2026, 0, 15, 10, 31, 15);
    assert.equal(passes(plugin, 5), 3);
    // 45 s in: 25% of 10 = 2 (floored) + 3 = 5, room for 5.
    clock.now = Date.UTC(2026, 0, 15, 10, 31, 45);
    assert.equal(passes(plugin, 8), 5);
    // 10:33:30: the previous window (10:32) saw nothing, so the whole limit is back.
    clock.now = Date.UTC(2026, 0, 15, 10, 33, 30);
    assert.equal(passes(plugin, 12), 10);
  });

  test('token bucket with burst: a burst, then the refill rate', () => {
    const clock = new FakeClock();
    const plugin = build('{second: 2, limit_by: ip, algorithm: token_bucket, burst: 5}', clock);
    assert.equal(passes(plugin, 8), 5, 'the burst');
    clock.now += 500; // 2 per second -> 1 token
    assert.equal(passes(plugin, 3), 1);
    clock.now += 10_000; // refills to the burst, not beyond
    assert.equal(passes(plugin, 8), 5);
  });

  test('token bucket without burst: capacity is the limit; Retry-After is when a token is back', () => {
    const clock = new FakeClock();
    const plugin = build('{minute: 6, limit_by: ip, algorithm: token_bucket}', clock);
    assert.equal(passes(plugin, 6), 6);
    const { ctx } = run(plugin);
    assert.equal(flatHeaders(ctx.reply!.headers).get('retry-after'), '10'); // 6/min = one per 10 s
  });
});

describe('rate-limiting: counters survive reload, keyed on what defines the limit', () => {
  test('a new instance of the same limit (a reload) continues the count', () => {
    const clock = new FakeClock();
    const rt = runtime(clock);
    assert.equal(passes(build('{minute: 5, limit_by: ip}', clock, rt), 3), 3);
    // Same limit, other fields changed (as a reload would build it).
    assert.equal(passes(build('{minute: 5, limit_by: ip, error_message: changed}', clock, rt), 5), 2);
  });

  test('another scope or another limit_by has its own counters', () => {
    const clock = new FakeClock();
    const rt = runtime(clock);
    assert.equal(passes(build('{minute: 2, limit_by: ip}', clock, rt), 2), 2);
    assert.equal(passes(build('{minute: 2, limit_by: ip}', clock, rt, '    route: r1\n'), 3), 2, 'route-scoped');
    assert.equal(passes(build('{minute: 2, limit_by: header, header_name: x-a}', clock, rt), 3), 2, 'header (missing) falls back to ip but is its own limit');
  });
});

describe('rate-limiting: config errors name the field and line', () => {
  const errors = (config: string) => {
    const r = loadConfigText(yaml(config), 'rl.yaml');
    assert.equal(r.ok, false, 'config must be refused');
    return formatConfigErrors(r.ok ? [] : r.errors, 'rl.yaml');
  };
  test('no window', () => assert.match(errors('{limit_by: ip}'), /rl\.yaml:13:\d+: .*config.*at least one of second, minute/));
  test('policy: cluster', () => assert.match(errors('{minute: 1, policy: cluster}'), /config\.policy.*"cluster" needs Kong's database/));
  test('redis without host', () => assert.match(errors('{minute: 1, policy: redis}'), /config\.redis/));
  test('header without header_name', () => assert.match(errors('{minute: 1, limit_by: header}'), /config\.header_name.*is required/));
  test('path without path', () => assert.match(errors('{minute: 1, limit_by: path}'), /config\.path.*is required/));
  test('sync_rate 0', () => assert.match(errors('{minute: 1, policy: redis, redis: {host: h}, sync_rate: 0}'), /config\.sync_rate": must be -1/));
  test('sync_rate with sliding', () => assert.match(errors('{minute: 1, policy: redis, redis: {host: h}, sync_rate: 1, algorithm: sliding}'), /config\.algorithm": must be "fixed"/));
  test('negative limit', () => assert.match(errors('{minute: -1}'), /config\.minute/));
  test('unknown field', () => assert.match(errors('{minute: 1, limit: 3}'), /unknown field "limit"/));
});

describe('rate-limiting: churn through the plugin', () => {
  test('1 million distinct client addresses: bounded table, flat memory, limits still enforced', () => {
    const clock = new FakeClock();
    const memory = createRateLimitMemory(65_536);
    const rt = runtime(clock, memory);
    const plugin = build('{minute: 2, limit_by: ip}', clock, rt);
    // One reusable context: only the address changes (FakeContext would keep every header set).
    let address = '';
    let refused = 0;
    const head = { method: 'GET', rawPath: '/', path: '/', query: '', host: 'h', headerNames: [], headerValues: [], header: () => undefined } as unknown as RequestHead;
    Object.defineProperty(head, 'remoteAddress', { get: () => address });
    const ctx = {
      request: head, routeId: 'r1', routeName: 'r1', serviceId: 'svc', pathCaptures: null, responseStatus: 0,
      consumer: null, credentialId: null, anonymous: false,
      respond() { refused++; }, setUpstreamHeader() {}, removeUpstreamHeader() {}, setUpstreamQuery() {}, setResponseHeader() {}, authenticate() {},
    } as unknown as PluginContext;
    const bytes = memory.byteLength;
    global.gc?.();
    const before = process.memoryUsage();
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 100_000 === 0) clock.now += 60_000; // a new minute every 100k clients
      address = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
      plugin.onRequest!(ctx);
      // Every 10,000th client comes back twice more: the third request must be refused.
      if (i % 10_000 === 0) {
        plugin.onRequest!(ctx);
        plugin.onRequest!(ctx);
      }
    }
    const after = process.memoryUsage();
    assert.equal(memory.byteLength, bytes);
    assert.equal(refused, 100, 'each returning client refused exactly once');
    assert.ok(after.heapUsed - before.heapUsed < 32 * 1024 * 1024, `heap grew by ${after.heapUsed - before.heapUsed}`);
    assert.ok(after.rss - before.rss < 64 * 1024 * 1024, `rss grew by ${after.rss - before.rss}`);
    assert.ok(readRateLimitStats(memory).evicted > 0, 'churn above capacity evicts (and counts it)');
  });
});

test('rate-limiting: the redis password is redacted from a config shown to anyone', () => {
  const r = loadConfigText(yaml('{minute: 1, policy: redis, redis: {host: r.internal, password: hunter2-redis}}'), 'rl.yaml');
  assert.ok(r.ok);
  const shown = JSON.stringify(redactConfig(r.config));
  assert.ok(!shown.includes('hunter2-redis'));
  assert.ok(shown.includes(`"password":"${REDACTED}"`));
  assert.ok(shown.includes('r.internal'));
  const bad = loadConfigText(yaml('{minute: 1, policy: redis, redis: {host: r.internal, password: 12345}}'), 'rl.yaml');
  assert.equal(bad.ok, false);
  assert.ok(!formatConfigErrors(bad.ok ? [] : bad.errors, 'rl.yaml').includes('12345'), 'a bad password is not echoed');
});
