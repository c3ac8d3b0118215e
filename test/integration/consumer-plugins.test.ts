/**
 * Consumer-scoped plugins through a real 2-worker gateway and the echo upstream: one test per
 * level of Kong's precedence (consumer+route+service > consumer+route > consumer+service >
 * route+service > consumer > route > service > global). Each route carries an entry at its
 * level and one at the next level down, so each test proves that its level beats the one below.
 * Each entry is a rate-limiting entry (priority 910, after key-auth) whose per-minute limit names
 * its level (1001 = consumer+route+service ... 1008 = global), so the proxied response's
 * X-RateLimit-Limit-Minute tells which entry ran.
 * Also the README's example: per-consumer rate limits over a service's limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

let up: EchoUpstream;
let gw: Gateway;

const LEVELS = ['consumer+route+service', 'consumer+route', 'consumer+service', 'route+service', 'consumer', 'route', 'service', 'global'];

function limit(level: string, scope: string): string {
  return `  - name: rate-limiting
    ${scope}
    config: { minute: ${1001 + LEVELS.indexOf(level)}, policy: local }`;
}

function config(): string {
  const url = `http://127.0.0.1:${up.port}`;
  return `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
    plugins:
      - name: rate-limiting
        config: { minute: 1005, policy: local }
  - username: bob
    keyauth_credentials: [{ key: bob-key }]
  - username: mobile-app
    keyauth_credentials: [{ key: mobile-key }]
    plugins:
      - name: rate-limiting
        service: api
        config: { minute: 1000, policy: local }
  - username: web-app
    keyauth_credentials: [{ key: web-key }]
    plugins:
      - name: rate-limiting
        service: api
        config: { minute: 500, policy: local }
  - username: other-app
    keyauth_credentials: [{ key: other-key }]
  - username: guest
    plugins:
      - name: rate-limiting
        config: { minute: 42, policy: local }
services:
  - { name: svc-a, url: "${url}" }
  - { name: svc-b, url: "${url}" }
  - { name: svc-c, url: "${url}" }
  - { name: svc-d, url: "${url}" }
  - { name: svc-e, url: "${url}" }
  - { name: svc-f, url: "${url}" }
  - name: api
    url: "${url}"
    plugins:
      - name: rate-limiting
        config: { minute: 100, policy: local }
    routes:
      - name: api
        paths: [/api]
        plugins: [{ name: key-auth }]
routes:
  - { name: r-crs, service: svc-a, paths: [/crs], plugins: [{ name: key-auth }] }
  - { name: r-cr, service: svc-a, paths: [/cr], plugins: [{ name: key-auth }] }
  - { name: r-cs, service: svc-b, paths: [/cs], plugins: [{ name: key-auth }] }
  - { name: r-rs, service: svc-c, paths: [/rs], plugins: [{ name: key-auth }] }
  - { name: r-c, service: svc-d, paths: [/c], plugins: [{ name: key-auth }] }
  - { name: r-r, service: svc-e, paths: [/r], plugins: [{ name: key-auth }] }
  - { name: r-s, service: svc-e, paths: [/s], plugins: [{ name: key-auth }] }
  - { name: r-g, service: svc-f, paths: [/g], plugins: [{ name: key-auth }] }
  - { name: r-anon, service: svc-f, paths: [/anon], plugins: [{ name: key-auth, config: { anonymous: guest } }] }
plugins:
${limit('consumer+route+service', 'consumer: alice\n    route: r-crs\n    service: svc-a')}
${limit('consumer+route', 'consumer: alice\n    route: r-crs')}
${limit('consumer+route', 'consumer: alice\n    route: r-cr')}
${limit('consumer+service', 'consumer: alice\n    service: svc-a')}
${limit('consumer+service', 'consumer: alice\n    service: svc-b')}
${limit('route+service', 'route: r-cs\n    service: svc-b')}
${limit('route+service', 'route: r-rs\n    service: svc-c')}
${limit('route', 'route: r-c')}
${limit('route', 'route: r-r')}
${limit('service', 'service: svc-e')}
${limit('global', '')}
`;
}

async function ranAs(path: string, key: string): Promise<string> {
  const res = await get(gw.url(path), { headers: { apikey: key } });
  assert.equal(res.status, 200, `${path} as ${key}: ${res.text}`);
  assert.equal(res.json().name, 'up', 'proxied to the upstream');
  const limit = Number(res.headers['x-ratelimit-limit-minute']);
  return LEVELS[limit - 1001] ?? `unexpected limit ${limit}`;
}

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
  gw = await startGateway({ config: config(), workers: 2 });
});

after(async () => {
  await gw?.stop();
  await up?.close();
});

describe('consumer-scoped plugins: Kong precedence, one level per test', () => {
  test('1. consumer+route+service beats consumer+route', async () => {
    assert.equal(await ranAs('/crs', 'alice-key'), 'consumer+route+service');
    assert.equal(await ranAs('/crs', 'bob-key'), 'global');
  });

  test('2. consumer+route beats consumer+service', async () => {
    assert.equal(await ranAs('/cr', 'alice-key'), 'consumer+route');
    assert.equal(await ranAs('/cr', 'bob-key'), 'global');
  });

  test('3. consumer+service beats route+service', async () => {
    assert.equal(await ranAs('/cs', 'alice-key'), 'consumer+service');
    assert.equal(await ranAs('/cs', 'bob-key'), 'route+service');
  });

  test('4. route+service beats consumer', async () => {
    assert.equal(await ranAs('/rs', 'alice-key'), 'route+service');
    assert.equal(await ranAs('/rs', 'bob-key'), 'route+service');
  });

  test('5. consumer beats route', async () => {
    assert.equal(await ranAs('/c', 'alice-key'), 'consumer');
    assert.equal(await ranAs('/c', 'bob-key'), 'route');
  });

  test('6. route beats service', async () => {
    assert.equal(await ranAs('/r', 'bob-key'), 'route');
  });

  test('7. service beats global', async () => {
    assert.equal(await ranAs('/s', 'bob-key'), 'service');
    // The consumer's own entry (level 5) still beats the service's for alice.
    assert.equal(await ranAs('/s', 'alice-key'), 'consumer');
  });

  test('8. global applies when nothing more specific does', async () => {
    assert.equal(await ranAs('/g', 'bob-key'), 'global');
  });

  test("the anonymous consumer's own plugins apply to requests that fall back to it", async () => {
    const res = await get(gw.url('/anon/x'));
    assert.equal(res.status, 200);
    assert.equal(res.json().headers['x-anonymous-consumer'], 'true');
    assert.equal(res.headers['x-ratelimit-limit-minute'], '42');
    assert.equal(await ranAs('/anon/x', 'bob-key'), 'global', 'a real consumer without entries: the global one');
  });

  test('without a consumer nothing consumer-scoped runs: a bad key gets key-auth 401', async () => {
    const res = await get(gw.url('/crs'), { headers: { apikey: 'nope' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['x-ratelimit-limit-minute'], undefined);
  });
});

describe('the README example: per-consumer limits over the service limit', () => {
  test('mobile-app gets 1000/min, web-app 500/min, any other consumer the service 100/min', async () => {
    const limits: Record<string, string | undefined> = {};
    for (const key of ['mobile-key', 'web-key', 'other-key']) {
      const res = await get(gw.url('/api/x'), { headers: { apikey: key } });
      assert.equal(res.status, 200, res.text);
      limits[key] = res.headers['x-ratelimit-limit-minute'] as string | undefined;
    }
    assert.deepEqual(limits, { 'mobile-key': '1000', 'web-key': '500', 'other-key': '100' });
  });

  test('each consumer is counted against its own limit across both workers', async () => {
    const remaining: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await get(gw.url('/api/y'), { headers: { apikey: 'web-key' } });
      remaining.push(Number(res.headers['x-ratelimit-remaining-minute']));
    }
    // Strictly decreasing by one per request whichever worker answered (shared counters).
    for (let i = 1; i < remaining.length; i++) assert.equal(remaining[i], remaining[i - 1] - 1, String(remaining));
    assert.ok(remaining[0] < 500);
  });
});
