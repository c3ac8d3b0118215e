/**
 * rate-limiting with the local policy through the real gateway: 4 worker threads sharing one
 * counter table, so a limit is per node; counters that survive a reload; inline mode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

let echo: EchoUpstream;
let gw: Gateway;

function config(extraRoute = ''): string {
  return `
_format_version: "3.0"
services:
  - name: echo
    url: http://127.0.0.1:${echo.port}
    routes:
      - name: exact
        paths: [/exact]
        plugins: [{ name: rate-limiting, config: { minute: 100, limit_by: ip } }]
      - name: kept
        paths: [/kept]
        plugins: [{ name: rate-limiting, config: { day: 10, limit_by: header, header_name: x-user } }]
      - name: by-consumer
        paths: [/by-consumer]
        plugins:
          - { name: key-auth }
          - { name: rate-limiting, config: { day: 2, limit_by: consumer } }
      - name: by-credential
        paths: [/by-credential]
        plugins:
          - { name: key-auth }
          - { name: rate-limiting, config: { day: 2, limit_by: credential } }
      - name: by-path
        paths: [/by-path]
        plugins: [{ name: rate-limiting, config: { day: 2, limit_by: path, path: /by-path/login } }]
${['second', 'minute', 'hour', 'day', 'month', 'year'].map((w) => `      - name: window-${w}\n        paths: [/window-${w}]\n        plugins: [{ name: rate-limiting, config: { ${w}: 2, limit_by: ip } }]\n`).join('')}${extraRoute}  - name: echo-service-limited
    url: http://127.0.0.1:${echo.port}
    plugins: [{ name: rate-limiting, config: { day: 3, limit_by: service } }]
    routes:
      - name: by-service-1
        paths: [/by-service-1]
      - name: by-service-2
        paths: [/by-service-2]
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-1 }, { key: alice-2 }]
  - username: bob
    keyauth_credentials: [{ key: bob-1 }]
`;
}

async function statuses(path: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(gw.url(path), { headers })).status);
  return out;
}

/** Wait, if needed, so that a burst of a few seconds stays inside one minute. */
async function awayFromMinuteEnd(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 35_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 500));
}

before(async () => {
  echo = await startEchoUpstream(0, '127.0.0.1', 'echo');
  gw = await startGateway({ config: config(), workers: 4 });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

describe('local policy: node-wide and exact', () => {
  test('4 workers, limit 100 per minute, 1,000 concurrent requests from one client: exactly 100 pass', async () => {
    await awayFromMinuteEnd();
    // Many connections, so the kernel spreads them over all 4 workers (SO_REUSEPORT).
    const pool = new Pool(gw.url(''), { connections: 200, pipelining: 1 });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 1000 }, async () => {
          const res = await pool.request({ path: '/exact', method: 'GET' });
          await res.body.text();
          return res.statusCode;
        }),
      );
      const ok = statuses.filter((s) => s === 200).length;
      const limited = statuses.filter((s) => s === 429).length;
      assert.equal(ok, 100);
      assert.equal(limited, 900);
    } finally {
      await pool.close();
    }
    const status = (await (await fetch(gw.adminUrl('/status'))).json()) as { rateLimit: { rejected: number; slots: number } };
    assert.ok(status.rateLimit.rejected >= 900, JSON.stringify(status.rateLimit));
    assert.equal(status.rateLimit.slots, 65_536);
  });

  test('the 429 carries Kong\'s body and headers', async () => {
    await awayFromMinuteEnd();
    const res = await get(gw.url('/exact'));
    assert.equal(res.status, 429);
    assert.deepEqual(res.json(), { message: 'API rate limit exceeded' });
    assert.equal(res.headers['x-ratelimit-limit-minute'], '100');
    assert.equal(res.headers['x-ratelimit-remaining-minute'], '0');
    assert.equal(res.headers['ratelimit-limit'], '100');
    assert.equal(res.headers['ratelimit-remaining'], '0');
    assert.ok(Number(res.headers['retry-after']) >= 1 && Number(res.headers['retry-after']) <= 60);
  });

  test('a reload keeps the counters of unchanged limits', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await get(gw.url('/kept'), { headers: { 'x-user': 'reload-user' } });
      assert.equal(res.status, 200);
    }
    const before = await get(gw.url('/kept'), { headers: { 'x-user': 'reload-user' } });
    assert.equal(before.headers['x-ratelimit-remaining-day'], '5');
    assert.equal(before.headers['ratelimit-limit'], '10');
    await gw.reload(config(`      - name: added-by-reload\n        paths: [/added]\n`));
    assert.equal((await get(gw.url('/added'))).status, 200, 'the new config is live');
    const after = await get(gw.url('/kept'), { headers: { 'x-user': 'reload-user' } });
    assert.equal(after.status, 200);
    assert.equal(after.headers['x-ratelimit-remaining-day'], '4', 'the count went on from 6');
  });
});

describe('local policy: every window through the gateway', () => {
  for (const w of ['second', 'minute', 'hour', 'day', 'month', 'year']) {
    test(`${w}: 2 pass, the 3rd is refused, with the ${w}'s headers`, async () => {
      await awayFromMinuteEnd();
      // Start early in a second, so the three requests share it (the second window).
      if (Date.now() % 1000 > 400) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000)));
      const replies = [];
      for (let i = 0; i < 3; i++) replies.push(await get(gw.url(`/window-${w}`)));
      assert.deepEqual(replies.map((r) => r.status), [200, 200, 429]);
      const title = w[0].toUpperCase() + w.slice(1);
      assert.equal(replies[0].headers[`x-ratelimit-limit-${w}`], '2', `X-RateLimit-Limit-${title}`);
      assert.equal(replies[1].headers[`x-ratelimit-remaining-${w}`], '0');
      assert.ok(Number(replies[2].headers['retry-after']) >= 1);
    });
  }
});

describe('local policy: limit_by through the gateway', () => {
  test('consumer: both of alice\'s keys share her budget; bob has his own', async () => {
    assert.deepEqual(await statuses('/by-consumer', 1, { apikey: 'alice-1' }), [200]);
    assert.deepEqual(await statuses('/by-consumer', 2, { apikey: 'alice-2' }), [200, 429]);
    assert.deepEqual(await statuses('/by-consumer', 3, { apikey: 'bob-1' }), [200, 200, 429]);
  });

  test('credential: each key has its own budget', async () => {
    assert.deepEqual(await statuses('/by-credential', 3, { apikey: 'alice-1' }), [200, 200, 429]);
    assert.deepEqual(await statuses('/by-credential', 3, { apikey: 'alice-2' }), [200, 200, 429]);
  });

  test('service: every route of the service shares one budget', async () => {
    assert.deepEqual(await statuses('/by-service-1', 2), [200, 200]);
    assert.deepEqual(await statuses('/by-service-2', 2), [200, 429]);
  });

  test('path: the configured path is one budget; other paths fall back to the client ip', async () => {
    assert.deepEqual(await statuses('/by-path/login', 3), [200, 200, 429]);
    assert.deepEqual(await statuses('/by-path/other', 3), [200, 200, 429]);
  });
});

describe('local policy: a bad reload', () => {
  test('policy: cluster is refused with its field and line, and the running limits keep counting', async () => {
    const before = await get(gw.url('/kept'), { headers: { 'x-user': 'bad-reload' } });
    assert.equal(before.headers['x-ratelimit-remaining-day'], '9');
    const from = gw.logs.length;
    await gw.reload(config().replace('day: 10, limit_by: header', 'day: 10, policy: cluster, limit_by: header'));
    const rejected = gw.logs.slice(from).find((l) => l.includes('config reload rejected'));
    assert.ok(rejected, 'the reload was rejected');
    assert.match(rejected!, /config\.policy.*cluster/);
    assert.match(rejected!, /gateway\.yaml:\d+:\d+/);
    const after = await get(gw.url('/kept'), { headers: { 'x-user': 'bad-reload' } });
    assert.equal(after.headers['x-ratelimit-remaining-day'], '8');
  });
});

describe('local policy: --workers 0 (inline data plane)', () => {
  test('the limit holds and the headers are sent', async () => {
    const inline = await startGateway({ config: config(), workers: 0 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await get(inline.url('/kept'), { headers: { 'x-user': 'inline' } })).status);
      assert.deepEqual(statuses, [...Array(10).fill(200), 429, 429]);
      const other = await get(inline.url('/kept'), { headers: { 'x-user': 'someone-else' } });
      assert.equal(other.status, 200);
      assert.equal(other.headers['x-ratelimit-remaining-day'], '9');
    } finally {
      await inline.stop();
    }
  });
});
