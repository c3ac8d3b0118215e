/**
 * --jwt-verify: the three verifiers (inline, pool, batch) give the same verdicts, directly and
 * through the jwt plugin; the plugin answers synchronously inline and with a promise offloaded.
 */
import { WorkerResources } from '../../src/plugins/resources';
import { JWS_VERIFIER } from '../../src/offload/jws-verifier';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { ConsumerConfig, JwtAlgorithm, JwtSecretConfig } from '../../src/config/types';
import { createJwsVerifier, type JwsVerifier, type JwtVerifyMode } from '../../src/offload/jws-verifier';
import { Verdict, type PluginEnv } from '../../src/plugins/api';
import { ConsumerDirectory } from '../../src/plugins/consumer-directory';
import { jwt as jwtDefinition } from '../../src/plugins/jwt';
import { DecodedToken, prepareKey } from '../../src/plugins/jwt/jws';
import type { JwtConfig } from '../../src/plugins/jwt/schema';
import { signJwt } from '../../src/plugins/jwt/sign';
import { JwtSchema } from '../../src/plugins/jwt/schema';
import { Value } from '@sinclair/typebox/value';
import { FakeContext } from '../helpers/fake-context';

const pem = (k: crypto.KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherP256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const alice: ConsumerConfig = { id: 'c-alice', username: 'alice', customId: null, tags: [] };

interface Case {
  readonly alg: JwtAlgorithm;
  readonly secret: JwtSecretConfig;
  readonly good: string | crypto.KeyObject;
  readonly wrong: string | crypto.KeyObject;
}

const cred = (key: string, algorithm: JwtAlgorithm, secret: string | null, rsaPublicKey: string | null): JwtSecretConfig =>
  ({ id: `cred-${key}`, consumer: alice.id, key, algorithm, secret, rsaPublicKey, tags: [] });

const cases: Case[] = [
  { alg: 'HS256', secret: cred('hs', 'HS256', 'the-hs256-secret', null), good: 'the-hs256-secret', wrong: 'another-secret' },
  { alg: 'RS256', secret: cred('rs', 'RS256', null, pem(rsa.publicKey)), good: rsa.privateKey, wrong: otherRsa.privateKey },
  { alg: 'ES256', secret: cred('es', 'ES256', null, pem(p256.publicKey)), good: p256.privateKey, wrong: otherP256.privateKey },
];

const consumers = new ConsumerDirectory({ consumers: [alice], credentials: { keyauth: [], basicauth: [], jwt: cases.map((c) => c.secret), acls: [] } });
const conf = Value.Default(JwtSchema, {}) as JwtConfig;
const exp = Math.floor(Date.now() / 1000) + 3600;

/** Valid, tampered (claims changed after signing), signed with the wrong key. */
function tokens(c: Case): { valid: string; tampered: string; wrongKey: string } {
  const valid = signJwt({ iss: c.secret.key, sub: 'u1', exp }, c.alg, c.good);
  const [h, , s] = valid.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: c.secret.key, sub: 'admin', exp })).toString('base64url')}.${s}`;
  const wrongKey = signJwt({ iss: c.secret.key, sub: 'u1', exp }, c.alg, c.wrong);
  return { valid, tampered, wrongKey };
}

const MODES: JwtVerifyMode[] = ['inline', 'pool', 'batch'];
const verifiers = new Map<JwtVerifyMode, JwsVerifier>(MODES.map((m) => [m, createJwsVerifier(m, { windowMs: 2, maxItems: 4 })]));

after(async () => {
  for (const v of verifiers.values()) await v.close();
});

describe('verifiers agree', () => {
  for (const c of cases) {
    test(`${c.alg}: valid, tampered, wrong key`, async () => {
      const key = prepareKey(c.secret, false)!;
      const t = tokens(c);
      for (const mode of MODES) {
        const v = verifiers.get(mode)!;
        const results: boolean[] = [];
        for (const token of [t.valid, t.tampered, t.wrongKey]) {
          const d = new DecodedToken();
          d.decode(token);
          const r = v.verify(c.alg, key, d.signingInput, d.signature);
          assert.equal(typeof r === 'boolean', mode === 'inline', `${mode} answers ${mode === 'inline' ? 'synchronously' : 'with a promise'}`);
          results.push(await r);
        }
        assert.deepEqual(results, [true, false, false], `${c.alg} ${mode}`);
      }
    });
  }

  test('batch: a full batch flushes at once, a partial one after the window; order is kept', async () => {
    const v = verifiers.get('batch')!;
    const c = cases[0];
    const key = prepareKey(c.secret, false)!;
    const t = tokens(c);
    const list = [t.valid, t.wrongKey, t.valid, t.tampered, t.valid, t.wrongKey]; // 4 + 2
    const pending = list.map((token) => {
      const d = new DecodedToken();
      d.decode(token);
      return v.verify(c.alg, key, d.signingInput, d.signature);
    });
    assert.deepEqual(await Promise.all(pending), [true, false, true, false, true, false]);
  });

  test('a closed pool rejects instead of answering', async () => {
    const v = createJwsVerifier('pool');
    await v.close();
    const key = prepareKey(cases[0].secret, false)!;
    const d = new DecodedToken();
    d.decode(tokens(cases[0]).valid);
    await assert.rejects(Promise.resolve(v.verify('HS256', key, d.signingInput, d.signature)));
  });
});

describe('the jwt plugin with each verifier', () => {
  for (const mode of MODES) {
    test(`${mode}: same answers; a promise only offloaded and only on a cache miss`, async () => {
      const env: PluginEnv = { consumers, trustedIps: [], resources: new WorkerResources().set(JWS_VERIFIER, verifiers.get(mode)!) };
      const plugin = jwtDefinition.create(conf, env);
      for (const c of cases) {
        const t = tokens(c);
        for (const [token, ok] of [[t.valid, true], [t.tampered, false], [t.wrongKey, false]] as const) {
          const ctx = new FakeContext({ headers: { authorization: `Bearer ${token}` } });
          const r = plugin.onRequest!(ctx);
          assert.equal(r instanceof Promise, mode !== 'inline', `${mode} ${c.alg}`);
          const verdict = await r;
          assert.equal(verdict, ok ? Verdict.Continue : Verdict.Stop, `${mode} ${c.alg} ${ok}`);
          if (ok) assert.equal(ctx.consumer, alice);
          else {
            assert.equal(ctx.reply?.status, 401);
            assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'Invalid signature' });
          }
        }
        // The valid token is cached now: a hit answers synchronously in every mode.
        const ctx = new FakeContext({ headers: { authorization: `Bearer ${t.valid}` } });
        const hit = plugin.onRequest!(ctx);
        assert.equal(hit, Verdict.Continue, `${mode} ${c.alg} cache hit is synchronous`);
        assert.equal(ctx.consumer, alice);
      }
    });
  }

  test('a failed pool answers 500, not 401', async () => {
    const v = createJwsVerifier('pool');
    await v.close();
    const plugin = jwtDefinition.create(conf, { consumers, trustedIps: [], resources: new WorkerResources().set(JWS_VERIFIER, v) });
    const ctx = new FakeContext({ headers: { authorization: `Bearer ${tokens(cases[1]).valid}` } });
    assert.equal(await plugin.onRequest!(ctx), Verdict.Stop);
    assert.equal(ctx.reply?.status, 500);
  });
});
