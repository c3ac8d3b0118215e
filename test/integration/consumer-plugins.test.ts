/**
 * Consumer-scoped plugins through a real 2-worker gateway and the echo upstream: one test per
 * level of Kong's precedence (consumer+route+service > consumer+route > consumer+service >
 * route+service > consumer > route > service > global). Each route carries an entry at its
 * level and one at the next level down, so each test proves that its level beats the one below.
 * request-termination (priority 2, after key-auth; triggered by an X-Level header so the other
 * routes pass) tells which entry ran by its message.
 * Also the README's example: per-consumer rate limits over a service's limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

let up: EchoUpstream;
let gw: Gateway;

function terminate(level: string, scope: string): string {
  return `  - name: request-termination
    ${scope}
    config: { status_code: 418, message: "${level}", trigger: x-level }`;
}

function config(): string {
  const url = `http://127.0.0.1:${up.port}`;
  return `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
    plugins:
      - name: request-termination
        config: { status_code: 418, message: consumer, trigger: x-level }
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
plugins:
${terminate('consumer+route+service', 'consumer: alice\n    route: r-crs\n    service: svc-a')}
${terminate('consumer+route', 'consumer: alice\n    route: r-crs')}
${terminate('consumer+route', 'consumer: alice\n    route: r-cr')}
${terminate('consumer+service', 'consumer: alice\n    service: svc-a')}
${terminate('consumer+service', 'consumer: alice\n    service: svc-b')}
${terminate('route+service', 'route: r-cs\n    service: svc-b')}
${terminate('route+service', 'route: r-rs\n    service: svc-c')}
${terminate('route', 'route: r-c')}
${terminate('route', 'route: r-r')}
${terminate('service', 'service: svc-e')}
${terminate('global', '')}
`;
}

async function ranAs(path: string, key: string): Promise<string> {
  const res = await get(gw.url(path), { headers: { apikey: key, 'x-level': '1' } });
  assert.equal(res.status, 418, `${path} as ${key}: ${res.text}`);
  return (JSON.parse(res.text) as { message: string }).message;
}

before(async () => {
  up = await startEchoUpstream();
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

  test('before authentication nothing consumer-scoped runs: a bad key gets key-auth 401', async () => {
    const res = await get(gw.url('/crs'), { headers: { apikey: 'nope' } });
    assert.equal(res.status, 401);
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
