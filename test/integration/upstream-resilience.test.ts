/**
 * Upstream resilience against real upstream servers that the tests start, kill, slow down and
 * restart: failover with retries, passive ejection, recovery by active checks, the retry budget,
 * consistent-hash key movement across a reload, the canary weight split, least-connections,
 * circuit breaking, Kong's no-peer 503, and DNS re-resolution through a test DNS server.
 *
 * No timing assertions: waits poll the admin API with generous deadlines.
 */
import { after, describe, test } from 'node:test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { request } from 'undici';
import { agent, get } from '../helpers/http';
import { startDnsServer } from '../helpers/dns-server';
import { freePort } from '../helpers/ports';

interface TargetReport {
  target: string;
  address: string;
  weight: number;
  state: string;
  healthy: boolean;
  reason: string;
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await agent.close();
});

async function upstreams(names: string[]): Promise<EchoUpstream[]> {
  const list = await Promise.all(names.map((n) => startEchoUpstream(0, '127.0.0.1', n)));
  for (const u of list) cleanups.push(() => u.close());
  return list;
}

async function gateway(config: string, workers = 2, args: string[] = []): Promise<Gateway> {
  const gw = await startGateway({ config, workers, args });
  cleanups.push(() => gw.stop());
  return gw;
}

async function health(gw: Gateway, upstream: string): Promise<TargetReport[]> {
  const res = await get(gw.adminUrl(`/upstreams/${upstream}/health`));
  assert.equal(res.status, 200, res.text);
  return res.json().data as TargetReport[];
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function targetState(gw: Gateway, upstream: string, port: number, state: string): Promise<TargetReport> {
  return waitFor(`target :${port} to be ${state}`, async () => {
    const t = (await health(gw, upstream)).find((x) => x.address.endsWith(`:${port}`));
    return t !== undefined && t.state === state ? t : null;
  });
}

function config(upstream: string, service = ''): string {
  return `
_format_version: "3.0"
services:
  - name: svc
    host: pool
    ${service}
    routes:
      - name: r
        paths: [/]
upstreams:
${upstream}
`;
}

function targetsYaml(ups: readonly EchoUpstream[], weights?: readonly number[]): string {
  return ups.map((u, i) => `      - target: 127.0.0.1:${u.port}\n        weight: ${weights?.[i] ?? 100}`).join('\n');
}

/** `total` GETs from `concurrency` parallel loops; statuses and answering upstream names. */
async function load(gw: Gateway, total: number, concurrency: number, headers: Record<string, string> = {}, onProgress?: (done: number) => void) {
  const statuses: number[] = [];
  const names: string[] = [];
  const errors: string[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        try {
          const res = await get(gw.url('/'), { headers });
          statuses.push(res.status);
          names.push(res.status === 200 ? res.json().name : `status ${res.status}: ${res.text}`);
        } catch (err) {
          errors.push(String(err));
        }
        onProgress?.(statuses.length + errors.length);
      }
    }),
  );
  return { statuses, names, errors };
}

function tally(names: readonly string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of names) c[n] = (c[n] ?? 0) + 1;
  return c;
}

describe('failover and passive health checks', () => {
  test('killing one of three targets under load: zero client-visible errors for GETs', async () => {
    const ups = await upstreams(['a', 'b', 'c']);
    const gw = await gateway(
      config(`
  - name: pool
    healthchecks:
      passive:
        unhealthy: { tcp_failures: 2, timeouts: 2 }
    targets:
${targetsYaml(ups)}
`),
    );
    let killed: Promise<void> | null = null;
    const result = await load(gw, 1200, 16, {}, (done) => {
      if (done >= 300 && killed === null) killed = ups[1].close();
    });
    await killed;
    assert.deepEqual(result.errors, []);
    const bad = result.statuses.filter((s) => s !== 200);
    assert.equal(bad.length, 0, `client-visible failures: ${JSON.stringify(tally(result.names.filter((n) => n.startsWith('status'))))}`);
    const counts = tally(result.names);
    assert.ok(counts.b > 0 && counts.b < 600, `b answered before it died: ${JSON.stringify(counts)}`);
    const b = await targetState(gw, 'pool', ups[1].port, 'unhealthy');
    assert.match(b.reason, /^passive: \d+ consecutive (tcp failures|timeouts)$/);
  });

  test('a target answering 500s is ejected by passive checks (inline mode, --workers 0)', async () => {
    const ups = await upstreams(['good1', 'bad', 'good2']);
    ups[1].forceStatus = 500;
    const gw = await gateway(
      config(`
  - name: pool
    healthchecks:
      passive:
        unhealthy: { http_failures: 3, http_statuses: [500] }
    outlier_detection: { ejection_time: 300 }
    targets:
${targetsYaml(ups)}
`),
      0,
    );
    const first = await load(gw, 30, 1);
    assert.equal(first.statuses.filter((s) => s === 500).length, 3, 'three 500s, then the target is out');
    const after = await load(gw, 60, 4);
    assert.ok(after.statuses.every((s) => s === 200), JSON.stringify(tally(after.names)));
    assert.equal(tally(after.names).bad, undefined);
    const bad = await targetState(gw, 'pool', ups[1].port, 'unhealthy');
    assert.equal(bad.reason, 'passive: 3 consecutive http 500');
    assert.equal(bad.healthy, false);

    // A reload that keeps the target keeps its slot, so the ejection survives it.
    await gw.reload(
      config(`
  - name: pool
    healthchecks:
      passive:
        unhealthy: { http_failures: 3, http_statuses: [500] }
    outlier_detection: { ejection_time: 300 }
    targets:
${targetsYaml(ups)}
`) + '  - name: other\n    targets: []\n',
    );
    const stillOut = (await health(gw, 'pool')).find((t) => t.address.endsWith(`:${ups[1].port}`))!;
    assert.equal(stillOut.state, 'unhealthy');
    const afterReload = await load(gw, 30, 3);
    assert.equal(tally(afterReload.names).bad, undefined);
  });

  test('the last healthy target is never ejected (max_ejection_percent guard)', async () => {
    const ups = await upstreams(['x', 'y']);
    for (const u of ups) u.forceStatus = 500;
    const gw = await gateway(
      config(`
  - name: pool
    healthchecks:
      passive:
        unhealthy: { http_failures: 2, http_statuses: [500] }
    outlier_detection: { max_ejection_percent: 100, ejection_time: 300 }
    targets:
${targetsYaml(ups)}
`),
    );
    const res = await load(gw, 40, 2);
    assert.ok(res.statuses.every((s) => s === 500), 'the upstream keeps answering, with its 500s');
    const states = (await health(gw, 'pool')).map((t) => t.state).sort();
    assert.deepEqual(states, ['healthy', 'unhealthy']);
  });
});

describe('active health checks', () => {
  test('concurrency caps the probes of one upstream in flight at once', async () => {
    // Four targets whose health endpoint takes 300 ms; probes come due every 0.1 s, so without
    // the cap all four would be in flight together.
    let inFlight = 0;
    let maxInFlight = 0;
    let probes = 0;
    const servers = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const server = http.createServer((req, res) => {
          if (req.url !== '/slow-health') return void res.end('ok');
          probes++;
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          setTimeout(() => {
            inFlight--;
            res.end('ok');
          }, 300);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        cleanups.push(() => new Promise((resolve) => server.close(resolve)));
        return (server.address() as AddressInfo).port;
      }),
    );
    await gateway(
      config(`
  - name: pool
    healthchecks:
      active:
        http_path: /slow-health
        concurrency: 2
        timeout: 2
        healthy: { interval: 0.1, successes: 1 }
        unhealthy: { interval: 0.1, http_failures: 1 }
    targets:
${servers.map((port) => `      - target: 127.0.0.1:${port}`).join('\n')}
`),
    );
    await waitFor('12 probes', async () => (probes >= 12 ? true : null));
    assert.equal(maxInFlight, 2, `at most 2 probes at once (saw ${maxInFlight})`);
  });

  test('a killed target goes unhealthy on tcp failures and recovers once restarted', async () => {
    const ups = await upstreams(['a', 'b', 'c']);
    const gw = await gateway(
      config(`
  - name: pool
    healthchecks:
      active:
        http_path: /status
        timeout: 2
        healthy: { interval: 0.2, successes: 2 }
        unhealthy: { interval: 0.2, tcp_failures: 2, http_failures: 2 }
    targets:
${targetsYaml(ups)}
`),
    );
    const port = ups[2].port;
    await ups[2].close();
    const down = await targetState(gw, 'pool', port, 'unhealthy');
    assert.equal(down.reason, 'active: 2 consecutive tcp failures');
    const during = await load(gw, 60, 4);
    assert.ok(during.statuses.every((s) => s === 200));
    assert.equal(tally(during.names).c, undefined, 'no traffic to the unhealthy target');

    const restarted = await startEchoUpstream(port, '127.0.0.1', 'c');
    cleanups.push(() => restarted.close());
    const up = await targetState(gw, 'pool', port, 'healthy');
    assert.equal(up.reason, 'active: 2 consecutive successes');
    assert.ok(restarted.seen.some((s) => s === 'GET /status'), 'probed on http_path');
    const afterwards = await load(gw, 60, 4);
    assert.ok((tally(afterwards.names).c ?? 0) > 0, 'traffic is back on the recovered target');
  });

  test('an active http failure (500 on the probe path) marks the target unhealthy with the status', async () => {
    const ups = await upstreams(['a', 'b']);
    ups[0].forceStatus = 500;
    const gw = await gateway(
      config(`
  - name: pool
    healthchecks:
      active:
        healthy: { interval: 0.2, successes: 1 }
        unhealthy: { interval: 0.2, http_failures: 2 }
    targets:
${targetsYaml(ups)}
`),
    );
    const t = await targetState(gw, 'pool', ups[0].port, 'unhealthy');
    assert.equal(t.reason, 'active: 2 consecutive http 500');
    ups[0].forceStatus = null;
    const back = await targetState(gw, 'pool', ups[0].port, 'healthy');
    assert.equal(back.reason, 'active: 1 consecutive success');
  });
});

describe('retries', () => {
  test('when every target fails, the retry budget caps upstream attempts', async () => {
    const ups = await upstreams(['a', 'b', 'c']);
    const gw = await gateway(
      config(
        `
  - name: pool
    retry_budget: { budget_percent: 20, min_retries: 5, window: 30, backoff_base_ms: 1, backoff_max_ms: 5 }
    targets:
${targetsYaml(ups)}
`,
        'retries: 5',
      ),
    );
    const requests = 50;
    const res = await load(gw, requests, 1, { 'x-echo-close': 'before-headers' });
    assert.ok(res.statuses.every((s) => s === 502), JSON.stringify(tally(res.statuses.map(String))));
    assert.match(res.names[0], /connection reset before the response/);
    const attempts = ups.reduce((n, u) => n + u.seen.length, 0);
    // Without a budget: 50 x (1 + 5) = 300 attempts. With it: 50 + 20% of 50 + 5.
    assert.ok(attempts >= requests + 5, `retries happened (${attempts} attempts)`);
    assert.ok(attempts <= requests + 0.2 * requests + 5 + 2, `budget held: ${attempts} attempts for ${requests} requests`);
  });

  test('a POST with a body is not retried once it reached the upstream', async () => {
    const ups = await upstreams(['a', 'b']);
    const gw = await gateway(config(`  - name: pool\n    targets:\n${targetsYaml(ups)}\n`, 'retries: 5'));
    const res = await get(gw.url('/'), { method: 'POST', body: 'payload', headers: { 'x-echo-close': 'before-headers' } });
    assert.equal(res.status, 502);
    assert.equal(ups[0].seen.length + ups[1].seen.length, 1);
    const idempotent = await get(gw.url('/'), { headers: { 'x-echo-close': 'before-headers' } });
    assert.equal(idempotent.status, 502);
    assert.equal(ups[0].seen.length + ups[1].seen.length, 1 + 6, 'a GET is tried 1 + retries times');
  });
});

describe('replaying a body that never left', () => {
  test('a POST whose first target refuses the connection is retried with its whole body on another', async () => {
    const [live] = await upstreams(['live']);
    const dead = await freePort(); // nothing listens here: connect() is refused, nothing was sent
    const gw = await gateway(
      config(`  - name: pool
    targets:
      - target: 127.0.0.1:${dead}
        weight: 100
      - target: 127.0.0.1:${live.port}
        weight: 100
`, 'retries: 2'),
      1,
    );
    const payload = 'p'.repeat(20_000);
    for (let i = 0; i < 6; i++) {
      const res = await get(gw.url('/'), { method: 'POST', body: payload, headers: { 'content-type': 'text/plain' } });
      assert.equal(res.status, 200, `request ${i}: ${res.text}`);
      const echo = res.json<{ name: string; method: string; bodyBytes: number }>();
      assert.equal(echo.name, 'live');
      assert.equal(echo.method, 'POST');
      assert.equal(echo.bodyBytes, payload.length, 'the retried request carried the whole body');
    }
    assert.equal(live.seen.length, 6);
  });
});

describe('timeouts', () => {
  test('a read timeout before the head is retried on another target (GET)', async () => {
    const ups = await upstreams(['slow', 'fast']);
    ups[0].forceDelayMs = 3000;
    const gw = await gateway(config(`  - name: pool\n    targets:\n${targetsYaml(ups)}\n`, 'read_timeout: 400'));
    const res = await load(gw, 6, 2);
    assert.deepEqual(tally(res.names), { fast: 6 }, 'every request ends on the fast target');
    assert.ok(ups[0].seen.length > 0, 'the slow target was tried');
    const post = await get(gw.url('/'), { method: 'POST', body: 'x', headers: { 'x-echo-delay-ms': '3000' } });
    assert.equal(post.status, 504, 'a POST that reached the upstream is not retried');
    assert.match(post.json().message, /timing out/);
  });

  test('a read timeout mid-body closes the client connection (a truncated response, never a short clean one)', async () => {
    const ups = await upstreams(['a']);
    const gw = await gateway(config(`  - name: pool\n    targets:\n${targetsYaml(ups)}\n`, 'read_timeout: 500'));
    const res = await request(gw.url('/'), { dispatcher: agent, headers: { 'x-echo-stall': 'mid-body', 'x-echo-body-bytes': '200000' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], '200000');
    await assert.rejects(res.body.arrayBuffer(), 'the body ends early and the client is told so');
    const next = await get(gw.url('/'));
    assert.equal(next.status, 200, 'the gateway keeps serving');
  });
});

describe('load-balancing algorithms', () => {
  test('consistent-hashing: adding a 4th target by reload moves about 1/4 of the keys, all to it', async () => {
    const ups = await upstreams(['h1', 'h2', 'h3', 'h4']);
    const yamlFor = (n: number) =>
      config(`
  - name: pool
    algorithm: consistent-hashing
    hash_on: header
    hash_on_header: x-user
    targets:
${targetsYaml(ups.slice(0, n))}
`);
    const gw = await gateway(yamlFor(3));
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const ownerOf = async () => {
      const out: string[] = [];
      for (let i = 0; i < users.length; i += 20) {
        const batch = await Promise.all(users.slice(i, i + 20).map((u) => get(gw.url('/'), { headers: { 'x-user': u } })));
        out.push(...batch.map((r) => r.json().name as string));
      }
      return out;
    };
    const before = await ownerOf();
    assert.deepEqual(await ownerOf(), before, 'every worker maps a key to the same target');
    await gw.reload(yamlFor(4));
    const after = await ownerOf();
    let moved = 0;
    for (let i = 0; i < users.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(after[i], 'h4', 'keys only move to the new target');
    }
    const share = moved / users.length;
    assert.ok(share > 0.12 && share < 0.4, `moved ${share}`);
  });

  test('a 90/10 canary split over 10,000 requests', async () => {
    const ups = await upstreams(['stable', 'canary']);
    const gw = await gateway(config(`  - name: pool\n    targets:\n${targetsYaml(ups, [90, 10])}\n`));
    const res = await load(gw, 10_000, 32);
    assert.ok(res.statuses.every((s) => s === 200));
    const share = (tally(res.names).canary ?? 0) / 10_000;
    assert.ok(Math.abs(share - 0.1) < 0.01, `canary share ${share}`);
  });

  test('weight 0 drains a target; no target left answers Kong\'s 503', async () => {
    const ups = await upstreams(['a', 'b']);
    const gw = await gateway(`
_format_version: "3.0"
services:
  - name: svc
    host: pool
    routes: [{ name: r, paths: [/] }]
  - name: svc2
    host: empty
    routes: [{ name: r2, paths: [/empty] }]
upstreams:
  - name: pool
    targets:
${targetsYaml(ups, [100, 0])}
  - name: empty
    targets:
      - target: 127.0.0.1:${ups[0].port}
        weight: 0
`);
    const res = await load(gw, 40, 4);
    assert.deepEqual(tally(res.names), { a: 40 });
    const none = await get(gw.url('/empty'));
    assert.equal(none.status, 503);
    assert.deepEqual(none.json(), { message: 'failure to get a peer from the ring-balancer' });
    const b = (await health(gw, 'pool')).find((t) => t.address.endsWith(`:${ups[1].port}`))!;
    assert.equal(b.state, 'draining');
    assert.equal(b.reason, 'weight 0');
  });

  test('least-connections sends work to the idle target, not the one holding slow requests', async () => {
    const ups = await upstreams(['slow', 'idle']);
    ups[0].forceDelayMs = 1500;
    const gw = await gateway(config(`  - name: pool\n    algorithm: least-connections\n    targets:\n${targetsYaml(ups)}\n`));
    const res = await load(gw, 200, 8);
    assert.ok(res.statuses.every((s) => s === 200));
    const counts = tally(res.names);
    // Round-robin would give the slow target 100 of 200.
    assert.ok((counts.slow ?? 0) < 30, JSON.stringify(counts));
  });
});

describe('circuit breaking', () => {
  test('over max_requests: a fast 503 that names the limit', async () => {
    const ups = await upstreams(['a']);
    ups[0].forceDelayMs = 1000;
    const gw = await gateway(config(`  - name: pool\n    circuit_breakers: { max_requests: 2 }\n    targets:\n${targetsYaml(ups)}\n`));
    const res = await Promise.all(Array.from({ length: 6 }, () => get(gw.url('/'))));
    const statuses = res.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 200).length, 2, JSON.stringify(statuses));
    const open = res.find((r) => r.status === 503)!;
    assert.match(open.json().message, /^circuit breaker open: upstream 'pool' has 2 requests in flight \(max_requests\)$/);
    // Slots are given back: the next requests go through.
    ups[0].forceDelayMs = null;
    const later = await Promise.all([get(gw.url('/')), get(gw.url('/'))]);
    assert.deepEqual(later.map((r) => r.status), [200, 200]);
  });
});

describe('DNS', () => {
  test('a hostname target is re-resolved on TTL and each address balances as its own target', async () => {
    const dns = await startDnsServer();
    cleanups.push(() => dns.close());
    const port = await freePort();
    const one = await startEchoUpstream(port, '127.0.0.1', 'first');
    cleanups.push(() => one.close());
    const two = await startEchoUpstream(port, '127.0.0.2', 'second');
    cleanups.push(() => two.close());
    dns.records.set('backend.floodgate.test', { addresses: ['127.0.0.1'], ttl: 1 });
    const gw = await gateway(config(`  - name: pool\n    targets:\n      - target: backend.floodgate.test:${port}\n`), 2, [
      '--dns-resolver',
      `127.0.0.1:${dns.port}`,
    ]);
    const first = await load(gw, 20, 2);
    assert.deepEqual(tally(first.names), { first: 20 });
    dns.records.set('backend.floodgate.test', { addresses: ['127.0.0.1', '127.0.0.2'], ttl: 1 });
    const targets = await waitFor('two resolved addresses', async () => {
      const t = await health(gw, 'pool');
      return t.length === 2 ? t : null;
    });
    assert.deepEqual(targets.map((t) => t.address).sort(), [`127.0.0.1:${port}`, `127.0.0.2:${port}`]);
    assert.ok(targets.every((t) => t.target === `backend.floodgate.test:${port}` && t.state === 'healthy'));
    // The workers get the new topology right after the primary: both addresses take traffic.
    const both = await waitFor('traffic on both addresses', async () => {
      const r = await load(gw, 40, 2);
      const c = tally(r.names);
      return c.first > 0 && c.second > 0 ? c : null;
    });
    assert.equal(both.first + both.second, 40);
    assert.ok(dns.queries.filter((q) => q === 'backend.floodgate.test').length >= 2, 're-resolved');
  });

  test('an unknown upstream has no health page', async () => {
    const ups = await upstreams(['a']);
    const gw = await gateway(config(`  - name: pool\n    targets:\n${targetsYaml(ups)}\n`), 0);
    const res = await get(gw.adminUrl('/upstreams/nope/health'));
    assert.equal(res.status, 404);
  });
});
