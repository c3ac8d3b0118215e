/**
 * The jwt plugin through the real gateway (2 workers), configured with a Kong declarative file
 * whose consumers carry nested jwt_secrets, in front of the echo upstream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { base64url, signJwt } from '../../src/plugins/jwt/sign';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

const ALICE_ID = '8b7f3c2e-4f6a-4c1d-9e2b-1a2b3c4d5e6f';
const ANON_ID = '0f0e0d0c-0b0a-4909-8807-060504030201';
const HS_SECRET = 'alice-hs256-shared-secret';
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;

let echo: EchoUpstream;
let gw: Gateway;

function config(): string {
  const indentedPem = rsaPem.trim().split('\n').map((l) => `              ${l}`).join('\n');
  return `
_format_version: "3.0"
consumers:
  - id: ${ALICE_ID}
    username: alice
    custom_id: alice-1
    jwt_secrets:
      - key: alice-hs
        algorithm: HS256
        secret: ${HS_SECRET}
      - key: alice-rs
        algorithm: RS256
        rsa_public_key: |
${indentedPem}
  - id: ${ANON_ID}
    username: anonymous
services:
  - name: jwt-service
    url: http://127.0.0.1:${echo.port}/up
    routes:
      - name: jwt-route
        paths: [/jwt]
        plugins:
          - name: jwt
            config:
              claims_to_verify: [exp]
              cookie_names: [session]
      - name: jwt-anonymous-route
        paths: [/anon]
        plugins:
          - name: jwt
            config:
              anonymous: anonymous
`;
}

const now = () => Math.floor(Date.now() / 1000);
const hsToken = (claims: Record<string, unknown> = {}) => signJwt({ iss: 'alice-hs', exp: now() + 600, ...claims }, 'HS256', HS_SECRET);
const rsToken = (claims: Record<string, unknown> = {}) => signJwt({ iss: 'alice-rs', exp: now() + 600, ...claims }, 'RS256', rsa.privateKey);

before(async () => {
  echo = await startEchoUpstream(0, '127.0.0.1', 'jwt-echo');
  gw = await startGateway({ config: config(), workers: 2 });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  await agent.close();
});

describe('authenticated requests reach the upstream with Kong\'s consumer headers', () => {
  test('HS256 in Authorization: Bearer', async () => {
    const res = await get(gw.url('/jwt/a?x=1'), { headers: { authorization: `Bearer ${hsToken()}` } });
    assert.equal(res.status, 200, res.text);
    const body = res.json();
    assert.equal(body.url, '/up/a?x=1');
    const h = body.headers;
    assert.equal(h['x-consumer-id'], ALICE_ID);
    assert.equal(h['x-consumer-username'], 'alice');
    assert.equal(h['x-consumer-custom-id'], 'alice-1');
    assert.equal(h['x-credential-identifier'], 'alice-hs');
    assert.equal(h['x-anonymous-consumer'], undefined);
  });

  test('RS256 in the ?jwt= parameter', async () => {
    const res = await get(gw.url(`/jwt?jwt=${rsToken()}`));
    assert.equal(res.status, 200, res.text);
    const h = res.json().headers;
    assert.equal(h['x-consumer-id'], ALICE_ID);
    assert.equal(h['x-consumer-username'], 'alice');
    assert.equal(h['x-credential-identifier'], 'alice-rs');
  });

  test('RS256 in a configured cookie, the same token repeated (cache hits) on both workers', async () => {
    const t = rsToken({ sub: 'cookie' });
    for (let i = 0; i < 6; i++) {
      const res = await get(gw.url('/jwt'), { headers: { cookie: `a=b; session=${t}` } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().headers['x-credential-identifier'], 'alice-rs');
    }
  });

  test('client-sent consumer headers are replaced, never forwarded', async () => {
    const res = await get(gw.url('/jwt'), {
      headers: {
        authorization: `Bearer ${hsToken()}`,
        'x-consumer-id': 'forged',
        'x-consumer-username': 'admin',
        'x-credential-identifier': 'forged',
        'x-anonymous-consumer': 'true',
      },
    });
    assert.equal(res.status, 200, res.text);
    const h = res.json().headers;
    assert.equal(h['x-consumer-id'], ALICE_ID);
    assert.equal(h['x-consumer-username'], 'alice');
    assert.equal(h['x-credential-identifier'], 'alice-hs');
    assert.equal(h['x-anonymous-consumer'], undefined);
  });
});

describe('refused requests get Kong\'s 401 and never reach the upstream', () => {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const cases: [string, () => Record<string, string>, unknown, string][] = [
    ['no token', () => ({}), { message: 'Unauthorized' }, 'Bearer'],
    ['Authorization without Bearer', () => ({ authorization: hsToken() }), { message: 'Unauthorized' }, 'Bearer'],
    ['garbage', () => ({ authorization: 'Bearer not-a-jwt' }), { message: 'Bad token; invalid JSON' }, 'Bearer error="invalid_token"'],
    ['alg none', () => ({ authorization: `Bearer ${base64url('{"alg":"none"}')}.${base64url('{"iss":"alice-hs"}')}.` }), { message: 'Bad token; invalid alg' }, 'Bearer error="invalid_token"'],
    ['claims not an object', () => ({ authorization: `Bearer ${header}.${base64url('[1,2]')}.AAAA` }), { message: 'Bad token; invalid claims' }, 'Bearer error="invalid_token"'],
    ['no iss', () => ({ authorization: `Bearer ${signJwt({ exp: now() + 60 }, 'HS256', HS_SECRET)}` }), { message: "No mandatory 'iss' in claims" }, 'Bearer error="invalid_token"'],
    ['unknown iss', () => ({ authorization: `Bearer ${hsToken({ iss: 'mallory' })}` }), { message: "No credentials found for given 'iss'" }, 'Bearer error="invalid_token"'],
    ['alg not the credential\'s', () => ({ authorization: `Bearer ${signJwt({ iss: 'alice-rs' }, 'HS256', rsaPem)}` }), { message: 'Invalid algorithm' }, 'Bearer error="invalid_token"'],
    ['wrong secret', () => ({ authorization: `Bearer ${signJwt({ iss: 'alice-hs', exp: now() + 60 }, 'HS256', 'guess')}` }), { message: 'Invalid signature' }, 'Bearer error="invalid_token"'],
    ['expired', () => ({ authorization: `Bearer ${hsToken({ exp: now() - 10 })}` }), { exp: 'token expired' }, 'Bearer error="invalid_token"'],
    ['exp not a number', () => ({ authorization: `Bearer ${rsToken({ exp: 'tomorrow' })}` }), { exp: 'must be a number' }, 'Bearer error="invalid_token"'],
    ['two different tokens', () => ({ authorization: `Bearer ${hsToken()}`, cookie: `session=${rsToken()}` }), { message: 'Multiple tokens provided' }, 'Bearer error="invalid_token"'],
    ['a huge token', () => ({ authorization: `Bearer ${'a'.repeat(6000)}.${'b'.repeat(100)}.c` }), { message: 'Bad token; invalid JSON' }, 'Bearer error="invalid_token"'],
  ];
  for (const [name, headers, body, challenge] of cases) {
    test(name, async () => {
      const seen = echo.seen.length;
      const res = await get(gw.url('/jwt'), { headers: headers() });
      assert.equal(res.status, 401, res.text);
      assert.deepEqual(res.json(), body);
      assert.equal(res.headers['www-authenticate'], challenge);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(echo.seen.length, seen, 'the upstream was not called');
    });
  }
});

describe('anonymous', () => {
  test('a request without a valid token goes through as the anonymous consumer', async () => {
    for (const headers of [{}, { authorization: 'Bearer garbage' }] as Record<string, string>[]) {
      const res = await get(gw.url('/anon'), { headers });
      assert.equal(res.status, 200, res.text);
      const h = res.json().headers;
      assert.equal(h['x-consumer-id'], ANON_ID);
      assert.equal(h['x-consumer-username'], 'anonymous');
      assert.equal(h['x-anonymous-consumer'], 'true');
      assert.equal(h['x-credential-identifier'], undefined);
    }
  });

  test('a valid token is still its own consumer', async () => {
    const res = await get(gw.url('/anon'), { headers: { authorization: `Bearer ${hsToken()}` } });
    assert.equal(res.status, 200, res.text);
    const h = res.json().headers;
    assert.equal(h['x-consumer-username'], 'alice');
    assert.equal(h['x-credential-identifier'], 'alice-hs');
    assert.equal(h['x-anonymous-consumer'], undefined);
  });
});
