/**
 * ip-restriction and cors through the real gateway: a 2-worker gateway trusting 127.0.0.1 as a
 * proxy, a 1-worker one trusting nobody, and an echo upstream that records what reached it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

let echo: EchoUpstream;
let gw: Gateway;
let untrusting: Gateway;

function config(): string {
  return `
_format_version: "3.0"
services:
  - name: echo
    url: http://127.0.0.1:${echo.port}
    routes:
      - name: ip-deny
        paths: [/ip-deny]
        plugins: [{ name: ip-restriction, config: { deny: [127.0.0.1] } }]
      - name: ip-allow
        paths: [/ip-allow]
        plugins: [{ name: ip-restriction, config: { allow: [127.0.0.0/8, "::1"] } }]
      - name: ip-allow-other
        paths: [/ip-allow-other]
        plugins: [{ name: ip-restriction, config: { allow: [10.0.0.0/8], status: 401, message: members only } }]
      - name: ip-deny-private
        paths: [/ip-deny-private]
        plugins: [{ name: ip-restriction, config: { deny: [10.0.0.0/8] } }]
      - name: cors
        paths: [/cors]
        plugins:
          - name: cors
            config:
              origins: ["http://app.example", "https://.*\\\\.example\\\\.com"]
              credentials: true
              exposed_headers: [X-Total]
              max_age: 600
      - name: cors-continue
        paths: [/cors-continue]
        plugins: [{ name: cors, config: { origins: ["http://app.example"], preflight_continue: true } }]
      - name: cors-local-reply
        paths: [/cors-local]
        plugins:
          - { name: cors, config: { origins: ["http://app.example"] } }
          - { name: request-termination, config: { status_code: 503, message: down } }
`;
}

before(async () => {
  echo = await startEchoUpstream(0, '127.0.0.1', 'echo');
  [gw, untrusting] = await Promise.all([
    startGateway({ config: config(), workers: 2, args: ['--trusted-ips', '127.0.0.1'] }),
    startGateway({ config: config(), workers: 1 }),
  ]);
});

after(async () => {
  await gw?.stop();
  await untrusting?.stop();
  await echo?.close();
  await agent.close();
});

const reached = (path: string) => echo.seen.filter((s) => s.includes(path)).length;

describe('ip-restriction', () => {
  test('a denied client gets 403 with the message, and the upstream is not reached', async () => {
    const before = reached('/ip-deny-check');
    const res = await get(untrusting.url('/ip-deny/ip-deny-check'));
    assert.equal(res.status, 403);
    assert.deepEqual(res.json(), { message: 'IP address not allowed: 127.0.0.1' });
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.equal(reached('/ip-deny-check'), before);
  });

  test('an allowed client is proxied', async () => {
    const res = await get(untrusting.url('/ip-allow/x'));
    assert.equal(res.status, 200);
    assert.equal(res.json().url, '/x');
  });

  test('a client outside allow gets the configured status and message', async () => {
    const res = await get(untrusting.url('/ip-allow-other'));
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { message: 'members only' });
  });

  test('without --trusted-ips, X-Forwarded-For cannot change who the client is', async () => {
    assert.equal((await get(untrusting.url('/ip-deny-private'), { headers: { 'x-forwarded-for': '10.1.2.3' } })).status, 200);
    assert.equal((await get(untrusting.url('/ip-allow-other'), { headers: { 'x-forwarded-for': '10.1.2.3' } })).status, 401);
  });

  test('with --trusted-ips 127.0.0.1, the client comes from X-Forwarded-For', async () => {
    const denied = await get(gw.url('/ip-deny-private'), { headers: { 'x-forwarded-for': '10.1.2.3' } });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json(), { message: 'IP address not allowed: 10.1.2.3' });
    const spoofAttempt = await get(gw.url('/ip-deny-private'), { headers: { 'x-forwarded-for': '10.1.2.3, 198.51.100.4' } });
    assert.equal(spoofAttempt.status, 200, 'the rightmost untrusted hop is the client');
    assert.equal((await get(gw.url('/ip-deny-private'))).status, 200, 'no header: the trusted peer itself');
    assert.equal((await get(gw.url('/ip-allow-other'), { headers: { 'x-forwarded-for': '10.9.9.9' } })).status, 200);
  });
});

describe('cors', () => {
  test('a preflight is answered by the gateway without reaching the upstream', async () => {
    const before = reached('/cors/preflight');
    const res = await get(gw.url('/cors/preflight'), {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-token' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal(res.headers['access-control-allow-origin'], 'http://app.example');
    assert.equal(res.headers['access-control-allow-methods'], 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT');
    assert.equal(res.headers['access-control-allow-headers'], 'x-token');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers.vary, 'Origin');
    assert.equal(reached('/cors/preflight'), before);
  });

  test('normal responses carry the CORS headers, for plain and regex origins', async () => {
    const res = await get(gw.url('/cors/data'), { headers: { origin: 'http://app.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.json().url, '/data', 'proxied');
    assert.equal(res.headers['access-control-allow-origin'], 'http://app.example');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-expose-headers'], 'X-Total');
    assert.equal(res.headers.vary, 'Origin');
    const byRegex = await get(gw.url('/cors/data'), { method: 'POST', body: '{}', headers: { origin: 'https://api.example.com' } });
    assert.equal(byRegex.headers['access-control-allow-origin'], 'https://api.example.com');
  });

  test('local replies of other plugins carry the CORS headers too, as in Kong', async () => {
    const res = await get(gw.url('/cors-local'), { headers: { origin: 'http://app.example' } });
    assert.equal(res.status, 503);
    assert.deepEqual(res.json(), { message: 'down' });
    assert.equal(res.headers['access-control-allow-origin'], 'http://app.example');
  });

  test('a disallowed origin is proxied without CORS headers', async () => {
    const res = await get(gw.url('/cors/data'), { headers: { origin: 'https://api.example.com.evil.net' } });
    assert.equal(res.status, 200);
    assert.equal(res.json().url, '/data');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
  });

  test('preflight_continue hands the preflight to the upstream', async () => {
    const res = await get(gw.url('/cors-continue/pf'), {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.json().method, 'OPTIONS');
    assert.equal(res.json().url, '/pf');
    assert.equal(res.headers['access-control-allow-origin'], undefined, "the upstream's answer, untouched");
  });
});
