/**
 * hmac-auth through a real 2-worker gateway and the echo upstream: a client signs requests the
 * way Kong's docs show (Date + @request-target + Digest), the upstream sees the consumer headers
 * and the whole body; Kong's 401s for the rest; a consumer-scoped plugin runs after hmac-auth.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { agent, get } from '../helpers/http';

let up: EchoUpstream;
let gw: Gateway;

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
  gw = await startGateway({
    workers: 2,
    config: `_format_version: "3.0"
consumers:
  - username: alice
    custom_id: alice-cid
    hmacauth_credentials:
      - username: alice-hmac
        secret: "alice s3cret"
    plugins:
      - name: request-termination
        route: limited
        config: { status_code: 451, message: "not for alice" }
  - username: bob
hmacauth_credentials:
  - consumer: bob
    username: bob-hmac
    secret: bob-secret
services:
  - name: api
    url: http://127.0.0.1:${up.port}
    routes:
      - name: signed
        paths: [/signed]
        plugins:
          - name: hmac-auth
            config:
              validate_request_body: true
              enforce_headers: [date, "@request-target"]
              hide_credentials: true
              realm: floodgate
      - name: limited
        paths: [/limited]
        plugins:
          - name: hmac-auth
`,
  });
});

after(async () => {
  await gw?.stop();
  await up?.close();
  await agent.close();
});

function signedHeaders(method: string, pathAndQuery: string, user: string, secret: string, body?: Buffer): Record<string, string> {
  const date = new Date().toUTCString();
  const headers: Record<string, string> = { date };
  let names = 'date @request-target';
  let signing = `date: ${date}\n@request-target: ${method.toLowerCase()} ${pathAndQuery}`;
  if (body !== undefined) {
    headers.digest = 'SHA-256=' + createHash('sha256').update(body).digest('base64');
    names += ' digest';
    signing += `\ndigest: ${headers.digest}`;
  }
  const signature = createHmac('sha256', secret).update(signing).digest('base64');
  headers.authorization = `hmac username="${user}", algorithm="hmac-sha256", headers="${names}", signature="${signature}"`;
  return headers;
}

describe('hmac-auth through the gateway', () => {
  test('a signed GET reaches the upstream as alice, without the Authorization header', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await get(gw.url('/signed/orders?page=2'), { headers: signedHeaders('GET', '/signed/orders?page=2', 'alice-hmac', 'alice s3cret') });
      assert.equal(res.status, 200, res.text);
      const echo = res.json();
      assert.equal(echo.headers['x-consumer-username'], 'alice');
      assert.equal(echo.headers['x-consumer-custom-id'], 'alice-cid');
      assert.equal(echo.headers['x-credential-identifier'], 'alice-hmac');
      assert.equal(echo.headers.authorization, undefined, 'hide_credentials');
    }
  });

  test('a signed POST with a matching Digest: the upstream gets the whole body', async () => {
    const body = Buffer.from(JSON.stringify({ order: 42, items: 'x'.repeat(5000) }));
    const res = await get(gw.url('/signed/orders'), { method: 'POST', body, headers: { ...signedHeaders('POST', '/signed/orders', 'bob-hmac', 'bob-secret', body), 'content-type': 'application/json' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().bodyBytes, body.length);
    assert.equal(res.json().headers['x-consumer-username'], 'bob');
  });

  test('a body that does not match its Digest: 401 "HMAC signature does not match"', async () => {
    const body = Buffer.from('{"amount":10}');
    const headers = signedHeaders('POST', '/signed/pay', 'bob-hmac', 'bob-secret', body);
    const res = await get(gw.url('/signed/pay'), { method: 'POST', body: Buffer.from('{"amount":99}'), headers });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { message: 'HMAC signature does not match' });
    assert.equal(res.headers['www-authenticate'], 'hmac realm="floodgate"');
  });

  test("a body over Kong's 8 KiB body buffer cannot be checked: 401, as in Kong", async () => {
    const body = Buffer.alloc(9000, 'b');
    const res = await get(gw.url('/signed/big'), { method: 'POST', body, headers: signedHeaders('POST', '/signed/big', 'bob-hmac', 'bob-secret', body) });
    assert.deepEqual([res.status, res.json()], [401, { message: 'HMAC signature does not match' }]);
    // The gateway still answers afterwards (the unread body closed that connection, not the worker).
    assert.equal((await get(gw.url('/signed/x'))).status, 401);
  });

  test('a chunked body is buffered too: under the limit it passes whole, over it it is refused', async () => {
    for (const [size, status] of [[3000, 200], [9000, 401]] as const) {
      const body = Buffer.alloc(size, 'c');
      const res = await request(gw.url('/signed/chunked'), {
        dispatcher: agent,
        method: 'POST',
        // A stream has no length: undici sends it chunked.
        body: Readable.from(Array.from({ length: size / 1000 }, (_, i) => body.subarray(i * 1000, (i + 1) * 1000))),
        headers: signedHeaders('POST', '/signed/chunked', 'bob-hmac', 'bob-secret', body),
      });
      const text = await res.body.text();
      assert.equal(res.statusCode, status, text);
      if (status === 200) assert.equal(JSON.parse(text).bodyBytes, size);
    }
  });

  test("Kong's 401s: no credentials, no date, a wrong secret, an unknown user", async () => {
    const noAuth = await get(gw.url('/signed/x'));
    assert.equal(noAuth.status, 401);
    assert.deepEqual(noAuth.json(), { message: 'Unauthorized' });

    const noDate = signedHeaders('GET', '/signed/x', 'alice-hmac', 'alice s3cret');
    delete noDate.date;
    const r1 = await get(gw.url('/signed/x'), { headers: noDate });
    assert.equal(r1.status, 401);
    assert.match(r1.json().message, /a valid date or x-date header is required/);

    const r2 = await get(gw.url('/signed/x'), { headers: signedHeaders('GET', '/signed/x', 'alice-hmac', 'wrong') });
    assert.deepEqual([r2.status, r2.json()], [401, { message: 'HMAC signature does not match' }]);

    const r3 = await get(gw.url('/signed/x'), { headers: signedHeaders('GET', '/signed/x', 'mallory', 'x') });
    assert.deepEqual([r3.status, r3.json()], [401, { message: 'HMAC signature cannot be verified' }]);
  });

  test("the consumer's own plugin on a route runs after hmac-auth identified it", async () => {
    const alice = await get(gw.url('/limited/x'), { headers: signedHeaders('GET', '/limited/x', 'alice-hmac', 'alice s3cret') });
    assert.deepEqual([alice.status, alice.json()], [451, { message: 'not for alice' }]);
    const bob = await get(gw.url('/limited/x'), { headers: signedHeaders('GET', '/limited/x', 'bob-hmac', 'bob-secret') });
    assert.equal(bob.status, 200);
  });
});
