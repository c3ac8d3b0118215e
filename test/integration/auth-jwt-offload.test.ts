/**
 * --jwt-verify pool|batch through the real gateway (2 workers, each with its own piscina pool):
 * valid RS256 tokens pass with the consumer's headers, forged ones get Kong's 401, and the
 * gateway still drains and exits 0 with the pools open.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { signJwt } from '../../src/plugins/jwt/sign';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

const ALICE_ID = '5d7c1e2a-3b4f-4a6d-8e9f-0a1b2c3d4e5f';
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const mallory = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;

function config(echoPort: number): string {
  const indentedPem = rsaPem.trim().split('\n').map((l) => `              ${l}`).join('\n');
  return `
_format_version: "3.0"
consumers:
  - id: ${ALICE_ID}
    username: alice
    jwt_secrets:
      - key: alice-rs
        algorithm: RS256
        rsa_public_key: |
${indentedPem}
services:
  - name: jwt-service
    url: http://127.0.0.1:${echoPort}/up
    routes:
      - name: jwt-route
        paths: [/jwt]
        plugins:
          - name: jwt
            config:
              claims_to_verify: [exp]
`;
}

const now = () => Math.floor(Date.now() / 1000);
const token = (key: crypto.KeyObject, claims: Record<string, unknown> = {}) =>
  signJwt({ iss: 'alice-rs', exp: now() + 600, jti: crypto.randomUUID(), ...claims }, 'RS256', key);

let echo: EchoUpstream;
before(async () => {
  echo = await startEchoUpstream(0, '127.0.0.1', 'jwt-offload-echo');
});
after(async () => {
  await echo?.close();
  await agent.close();
});

for (const mode of ['pool', 'batch'] as const) {
  describe(`--jwt-verify ${mode}`, () => {
    let gw: Gateway;
    before(async () => {
      gw = await startGateway({ config: config(echo.port), workers: 2, args: ['--jwt-verify', mode] });
    });
    after(async () => {
      if (gw !== undefined) assert.equal(await gw.stop(), 0, 'drains and exits 0 with the pool open');
    });

    test('a valid RS256 token reaches the upstream as alice (fresh tokens: every one a cache miss)', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => get(gw.url('/jwt/a'), { headers: { authorization: `Bearer ${token(rsa.privateKey)}` } })));
      for (const res of results) {
        assert.equal(res.status, 200, res.text);
        const h = res.json().headers;
        assert.equal(h['x-consumer-id'], ALICE_ID);
        assert.equal(h['x-credential-identifier'], 'alice-rs');
      }
    });

    test('an RS256 token signed by another key, or tampered with, gets 401 Invalid signature', async () => {
      const valid = token(rsa.privateKey);
      const [h, , s] = valid.split('.');
      const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: 'alice-rs', exp: now() + 600, admin: true })).toString('base64url')}.${s}`;
      for (const t of [token(mallory.privateKey), tampered]) {
        const res = await get(gw.url('/jwt/a'), { headers: { authorization: `Bearer ${t}` } });
        assert.equal(res.status, 401, res.text);
        assert.deepEqual(res.json(), { message: 'Invalid signature' });
      }
    });
  });
}

test('--jwt-verify rejects an unknown mode', async () => {
  const { spawnSync } = await import('node:child_process');
  const path = await import('node:path');
  const r = spawnSync(process.execPath, [path.resolve(__dirname, '../../src/cli.js'), 'start', '-c', '/nonexistent.yaml', '--jwt-verify', 'gpu'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--jwt-verify must be one of inline \| pool \| batch/);
});
