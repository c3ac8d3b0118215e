/**
 * The jwt plugin: built from inline YAML through its real schema, with credentials in a
 * ConsumerDirectory made from plain objects, a fake clock, and a FakeContext per request.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { formatConfigErrors, loadConfigText } from '../../src/config/load';
import type { ConsumerConfig, JwtAlgorithm, JwtSecretConfig } from '../../src/config/types';
import { Verdict } from '../../src/plugins/api';
import { ConsumerDirectory } from '../../src/plugins/consumer-directory';
import { JwtPlugin, jwt as jwtDefinition } from '../../src/plugins/jwt';
import type { JwtConfig } from '../../src/plugins/jwt/schema';
import { base64url, signature, signJwt } from '../../src/plugins/jwt/sign';
import { getPluginDefinition } from '../../src/plugins/registry';
import { FakeContext, type FakeRequest } from '../helpers/fake-context';

// ------------------------------------------------------------------------------------ fixtures

const NOW = 1_700_000_000;

const pem = (k: crypto.KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ed = crypto.generateKeyPairSync('ed25519');
const otherRsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64Secret = crypto.randomBytes(32);

const alice: ConsumerConfig = { id: 'c-alice', username: 'alice', customId: 'alice-1', tags: [] };
const bob: ConsumerConfig = { id: 'c-bob', username: 'bob', customId: null, tags: [] };
const anon: ConsumerConfig = { id: 'c-anon', username: 'anonymous', customId: null, tags: [] };

let n = 0;
function secret(key: string, algorithm: JwtAlgorithm, value: { secret?: string; pem?: string }, consumer = alice.id): JwtSecretConfig {
  return { id: `cred-${++n}`, consumer, key, algorithm, secret: value.secret ?? null, rsaPublicKey: value.pem ?? null, tags: [] };
}

/** What signs each credential's tokens. */
const signers = new Map<string, { alg: JwtAlgorithm; key: string | Buffer | crypto.KeyObject }>();
const secrets: JwtSecretConfig[] = [];
function add(key: string, alg: JwtAlgorithm, value: { secret?: string; pem?: string }, signWith: string | Buffer | crypto.KeyObject, consumer?: string) {
  secrets.push(secret(key, alg, value, consumer));
  signers.set(key, { alg, key: signWith });
}
add('hs256', 'HS256', { secret: 'hs256-secret' }, 'hs256-secret');
add('hs384', 'HS384', { secret: 'hs384-secret' }, 'hs384-secret');
add('hs512', 'HS512', { secret: 'hs512-secret' }, 'hs512-secret', bob.id);
add('rs256', 'RS256', { pem: pem(rsa.publicKey) }, rsa.privateKey);
add('rs384', 'RS384', { pem: pem(rsa.publicKey) }, rsa.privateKey);
add('rs512', 'RS512', { pem: pem(rsa.publicKey) }, rsa.privateKey);
add('es256', 'ES256', { pem: pem(p256.publicKey) }, p256.privateKey);
add('es384', 'ES384', { pem: pem(p384.publicKey) }, p384.privateKey);
add('eddsa', 'EdDSA', { pem: pem(ed.publicKey) }, ed.privateKey);
add('b64', 'HS256', { secret: b64Secret.toString('base64') }, b64Secret);
add('b64url', 'HS256', { secret: b64Secret.toString('base64url') }, b64Secret);
add('not-b64', 'HS256', { secret: 'not base64!' }, 'not base64!');
add('orphan', 'HS256', { secret: 'orphan-secret' }, 'orphan-secret', 'c-nobody');
add('bad-pem', 'RS256', { pem: 'not a pem' }, rsa.privateKey);
add('no-pem', 'RS256', {}, rsa.privateKey);
add('no-secret', 'HS256', {}, 'whatever');
add('rs-holding-ec', 'RS256', { pem: pem(p256.publicKey) }, rsa.privateKey);
add('es256-holding-p384', 'ES256', { pem: pem(p384.publicKey) }, p256.privateKey);
add('', 'HS256', { secret: 'empty-key' }, 'empty-key');

/** A directory that counts credential lookups: a verified-token cache hit does none. */
class CountingDirectory extends ConsumerDirectory {
  lookups = 0;
  override jwtSecret(key: string): JwtSecretConfig | undefined {
    this.lookups++;
    return super.jwtSecret(key);
  }
}

function directory(): CountingDirectory {
  return new CountingDirectory({
    consumers: [alice, bob, anon],
    credentials: { keyauth: [], basicauth: [], jwt: secrets, acls: [] },
  });
}

/** Plugin config through the real loader and schema (defaults applied), as the gateway does. */
function configFrom(yamlConfig: string): JwtConfig {
  const body = yamlConfig === '' ? '' : `    config:\n${yamlConfig.split('\n').map((l) => '      ' + l).join('\n')}\n`;
  const text = `_format_version: "3.0"\nplugins:\n  - name: jwt\n${body}`;
  const result = loadConfigText(text, 'inline.yaml');
  if (!result.ok) throw new Error(formatConfigErrors(result.errors, 'inline.yaml'));
  return result.config.plugins[0].config as unknown as JwtConfig;
}

class Clock {
  t = NOW;
  readonly now = () => this.t;
}

function setup(yamlConfig = '', cacheEntries?: number) {
  const clock = new Clock();
  const dir = directory();
  const plugin = new JwtPlugin(configFrom(yamlConfig), { consumers: dir, trustedIps: [] }, { now: clock.now, cacheEntries });
  const run = (req: FakeRequest) => {
    const ctx = new FakeContext(req);
    const verdict = plugin.onRequest(ctx);
    return { ctx, verdict, status: ctx.reply?.status ?? 0, body: ctx.reply === null ? null : JSON.parse(ctx.reply.body), header: wwwAuthenticate(ctx) };
  };
  const bearer = (token: string) => run({ headers: { authorization: `Bearer ${token}` } });
  return { clock, dir, plugin, run, bearer };
}

function wwwAuthenticate(ctx: FakeContext): string | null {
  const h = ctx.reply?.headers;
  if (!h) return null;
  for (let i = 0; i < h.length; i += 2) if (h[i].toLowerCase() === 'www-authenticate') return h[i + 1];
  return null;
}

function token(key: string, claims: Record<string, unknown> = {}, header?: unknown): string {
  const s = signers.get(key)!;
  return signJwt({ iss: key, ...claims }, s.alg, s.key, header);
}

function assertDenied(r: ReturnType<ReturnType<typeof setup>['run']>, body: unknown, header = 'Bearer error="invalid_token"') {
  assert.equal(r.verdict, Verdict.Stop);
  assert.equal(r.status, 401);
  assert.deepEqual(r.body, body);
  assert.equal(r.header, header);
  assert.equal(r.ctx.consumer, null);
}

function assertAuthenticated(r: ReturnType<ReturnType<typeof setup>['run']>, key: string, consumer = alice) {
  assert.equal(r.verdict, Verdict.Continue, `expected success, got ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.ctx.reply, null);
  assert.equal(r.ctx.consumer, consumer);
  assert.equal(r.ctx.credentialId, secrets.find((s) => s.key === key)!.id);
  assert.equal(r.ctx.credentialIdentifier, key);
  assert.equal(r.ctx.anonymous, false);
}

// --------------------------------------------------------------------------------------- tests

describe('definition and config', () => {
  test('registered as "jwt" with Kong\'s priority 1450', () => {
    assert.equal(getPluginDefinition('jwt'), jwtDefinition);
    assert.equal(jwtDefinition.priority, 1450);
  });

  test('Kong\'s defaults', () => {
    assert.deepEqual(configFrom(''), {
      uri_param_names: ['jwt'],
      cookie_names: [],
      header_names: ['authorization'],
      claims_to_verify: null,
      maximum_expiration: 0,
      key_claim_name: 'iss',
      secret_is_base64: false,
      anonymous: null,
      run_on_preflight: true,
      realm: null,
    });
  });

  test('maximum_expiration requires "exp" in claims_to_verify', () => {
    assert.throws(() => configFrom('maximum_expiration: 60'), /inline\.yaml:\d+:\d+:.*config.*maximum_expiration requires "exp" in claims_to_verify/);
    assert.throws(() => configFrom('maximum_expiration: 60\nclaims_to_verify: [nbf]'), /maximum_expiration requires "exp"/);
    assert.equal(configFrom('maximum_expiration: 60\nclaims_to_verify: [nbf, exp]').maximum_expiration, 60);
    assert.equal(configFrom('maximum_expiration: 0\nclaims_to_verify: [nbf]').maximum_expiration, 0);
  });

  test('bad values are rejected with their line', () => {
    assert.throws(() => configFrom('claims_to_verify: [iat]'), /inline\.yaml:5:.*claims_to_verify\[0\].*"exp", "nbf"/);
    assert.throws(() => configFrom('maximum_expiration: 31536001\nclaims_to_verify: [exp]'), /maximum_expiration.*between 0 and 31536000/);
    assert.throws(() => configFrom('maximum_expiration: -1\nclaims_to_verify: [exp]'), /maximum_expiration/);
    assert.throws(() => configFrom('key_claim_name: ""'), /key_claim_name.*must not be empty/);
    assert.throws(() => configFrom('uri_params: [x]'), /unknown field "uri_params"/);
  });
});

describe('every algorithm verifies', () => {
  for (const key of ['hs256', 'hs384', 'hs512', 'rs256', 'rs384', 'rs512', 'es256', 'es384', 'eddsa']) {
    test(key, () => {
      const { bearer } = setup();
      const r = bearer(token(key));
      assertAuthenticated(r, key, key === 'hs512' ? bob : alice);
    });
  }
});

describe('the token is found where Kong looks', () => {
  test('no token anywhere: Unauthorized with a bare Bearer challenge', () => {
    const { run } = setup();
    assertDenied(run({}), { message: 'Unauthorized' }, 'Bearer');
  });

  test('realm goes into the challenge', () => {
    const { run, bearer } = setup('realm: floodgate');
    assert.equal(run({}).header, 'Bearer realm="floodgate"');
    assert.equal(bearer('x').header, 'Bearer realm="floodgate" error="invalid_token"');
  });

  test('uri parameter (default "jwt"), percent-encoded or not', () => {
    const { run } = setup();
    const t = token('hs256');
    assertAuthenticated(run({ query: `a=1&jwt=${t}&b=2` }), 'hs256');
    assertAuthenticated(run({ query: `jwt=${encodeURIComponent(t).replace(/\./g, '%2E')}` }), 'hs256');
  });

  test('custom uri_param_names', () => {
    const { run } = setup('uri_param_names: [token, access_token]');
    const t = token('hs256');
    assertAuthenticated(run({ query: `access_token=${t}` }), 'hs256');
    assertDenied(run({ query: `jwt=${t}` }), { message: 'Unauthorized' }, 'Bearer');
  });

  test('cookie_names', () => {
    const { run } = setup('cookie_names: [session]');
    const t = token('hs256');
    assertAuthenticated(run({ headers: { cookie: `a=b; session=${t}; c=d` } }), 'hs256');
    assertAuthenticated(run({ headers: { cookie: `SESSION=${t}` } }), 'hs256');
    assertDenied(run({ headers: { cookie: `sessionx=${t}` } }), { message: 'Unauthorized' }, 'Bearer');
    assertDenied(run({ headers: { cookie: 'session=' } }), { message: 'Unauthorized' }, 'Bearer');
  });

  test('Authorization needs "Bearer " (any case of the B), other headers also take the raw token', () => {
    const { run } = setup('header_names: [authorization, x-token]');
    const t = token('hs256');
    assertAuthenticated(run({ headers: { authorization: `bearer ${t}` } }), 'hs256');
    assertAuthenticated(run({ headers: { authorization: `Bearer    ${t}` } }), 'hs256');
    assertDenied(run({ headers: { authorization: t } }), { message: 'Unauthorized' }, 'Bearer');
    assertDenied(run({ headers: { authorization: `Basic ${t}` } }), { message: 'Unauthorized' }, 'Bearer');
    assertAuthenticated(run({ headers: { 'x-token': t } }), 'hs256');
    assertAuthenticated(run({ headers: { 'x-token': `Bearer ${t}` } }), 'hs256');
  });

  test('the same token in several places is one token; different ones are refused', () => {
    const { run } = setup('cookie_names: [session]');
    const t = token('hs256');
    assertAuthenticated(run({ query: `jwt=${t}`, headers: { cookie: `session=${t}`, authorization: `Bearer ${t}` } }), 'hs256');
    assertAuthenticated(run({ query: `jwt=${t}&jwt=${t}` }), 'hs256');
    const other = token('hs384');
    assertDenied(run({ query: `jwt=${t}`, headers: { authorization: `Bearer ${other}` } }), { message: 'Multiple tokens provided' });
    assertDenied(run({ query: `jwt=${t}&jwt=${other}` }), { message: 'Multiple tokens provided' });
    assertDenied(run({ headers: { cookie: `session=${other}`, authorization: `Bearer ${t}` } }), { message: 'Multiple tokens provided' });
  });

  test('an empty parameter is no token; a bare "?jwt" is Kong\'s "Unrecognizable token"', () => {
    const { run } = setup();
    const t = token('hs256');
    assertDenied(run({ query: 'jwt=' }), { message: 'Unauthorized' }, 'Bearer');
    assertAuthenticated(run({ query: 'jwt=', headers: { authorization: `Bearer ${t}` } }), 'hs256');
    assertDenied(run({ query: 'jwt' }), { message: 'Unrecognizable token' });
    assertDenied(run({ query: 'jwt&x=1', headers: { authorization: `Bearer ${t}` } }), { message: 'Multiple tokens provided' });
  });
});

describe('Kong\'s answers for bad tokens', () => {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ iss: 'hs256' }));

  const cases: [string, string, string][] = [
    ['one segment', 'abc', 'Bad token; invalid JSON'],
    ['two segments', `${header}.${claims}`, 'Bad token; invalid JSON'],
    ['header not base64', `!!.${claims}.sig`, 'Bad token; invalid JSON'],
    ['header not JSON', `${base64url('{"alg":')}.${claims}.sig`, 'Bad token; invalid JSON'],
    ['claims not JSON', `${header}.${base64url('nope')}.sig`, 'Bad token; invalid JSON'],
    ['empty header', `.${claims}.sig`, 'Bad token; invalid JSON'],
    ['truncated base64 (length % 4 == 1)', `${header}.${claims.slice(0, 5)}.sig`, 'Bad token; invalid JSON'],
    ['header is a JSON array', `${base64url('[1]')}.${claims}.sig`, 'Bad token; invalid alg'],
    ['header is a JSON number', `${base64url('42')}.${claims}.sig`, 'Bad token; invalid alg'],
    ['header is JSON null', `${base64url('null')}.${claims}.sig`, 'Bad token; invalid alg'],
    ['header without alg', `${base64url('{"typ":"JWT"}')}.${claims}.sig`, 'Bad token; invalid alg'],
    ['alg none', `${base64url('{"alg":"none"}')}.${claims}.`, 'Bad token; invalid alg'],
    ['alg None', `${base64url('{"alg":"None"}')}.${claims}.`, 'Bad token; invalid alg'],
    ['alg not a string', `${base64url('{"alg":256}')}.${claims}.sig`, 'Bad token; invalid alg'],
    ['alg inherited from Object.prototype', `${base64url('{"__proto__":{"alg":"HS256"}}')}.${claims}.sig`, 'Bad token; invalid alg'],
    ['claims JSON false', `${header}.${base64url('false')}.sig`, 'Bad token; invalid claims'],
    ['claims JSON string', `${header}.${base64url('"iss"')}.sig`, 'Bad token; invalid claims'],
    ['claims JSON array', `${header}.${base64url('["iss"]')}.sig`, 'Bad token; invalid claims'],
    ['signature not base64', `${header}.${claims}.a*b`, 'Bad token; invalid signature'],
    ['four segments', `${header}.${claims}.abc.def`, 'Bad token; invalid signature'],
  ];
  for (const [name, t, message] of cases) {
    test(name, () => {
      const { bearer } = setup();
      assertDenied(bearer(t), { message });
    });
  }

  test('missing key claim', () => {
    const { bearer } = setup();
    assertDenied(bearer(signJwt({ sub: 'x' }, 'HS256', 'hs256-secret')), { message: "No mandatory 'iss' in claims" });
    assertDenied(bearer(signJwt({ iss: null }, 'HS256', 'hs256-secret')), { message: "No mandatory 'iss' in claims" });
  });

  test('empty key claim', () => {
    const { bearer } = setup();
    assertDenied(bearer(signJwt({ iss: '' }, 'HS256', 'empty-key')), { message: "Invalid 'iss' in claims" });
  });

  test('unknown key, or a key claim that is not a string', () => {
    const { bearer } = setup();
    assertDenied(bearer(signJwt({ iss: 'nobody' }, 'HS256', 'x')), { message: "No credentials found for given 'iss'" });
    assertDenied(bearer(signJwt({ iss: 42 }, 'HS256', 'x')), { message: "No credentials found for given 'iss'" });
    assertDenied(bearer(signJwt({ iss: { a: 1 } }, 'HS256', 'x')), { message: "No credentials found for given 'iss'" });
    assertDenied(bearer(signJwt({ iss: 'constructor' }, 'HS256', 'x')), { message: "No credentials found for given 'iss'" });
  });

  test('key_claim_name, read from the claims and else from the header', () => {
    const { bearer } = setup('key_claim_name: kid');
    assertAuthenticated(bearer(signJwt({ kid: 'rs256' }, 'RS256', rsa.privateKey)), 'rs256');
    assertAuthenticated(bearer(signJwt({ sub: 'x' }, 'RS256', rsa.privateKey, { alg: 'RS256', kid: 'rs256' })), 'rs256');
    assertDenied(bearer(token('hs256')), { message: "No mandatory 'kid' in claims" });
    assertDenied(bearer(signJwt({ kid: 'nope' }, 'HS256', 'x')), { message: "No credentials found for given 'kid'" });
  });

  test('an alg other than the credential\'s is refused before any crypto', () => {
    const { bearer } = setup();
    assertDenied(bearer(signJwt({ iss: 'rs256' }, 'HS256', 'whatever')), { message: 'Invalid algorithm' });
    assertDenied(bearer(signJwt({ iss: 'hs256' }, 'HS384', 'hs256-secret')), { message: 'Invalid algorithm' });
    assertDenied(bearer(signJwt({ iss: 'es256' }, 'ES384', p384.privateKey)), { message: 'Invalid algorithm' });
    // ES512 and PS256 are algs Kong knows, so they decode, but no credential here uses them.
    const es512 = `${base64url('{"alg":"ES512"}')}.${base64url('{"iss":"es256"}')}.AAAA`;
    assertDenied(bearer(es512), { message: 'Invalid algorithm' });
  });

  test('the RS256 -> HS256 key-confusion attack is refused', () => {
    const { bearer } = setup();
    const forged = signJwt({ iss: 'rs256' }, 'HS256', pem(rsa.publicKey));
    assertDenied(bearer(forged), { message: 'Invalid algorithm' });
  });

  test('tampered signature, tampered claims, wrong key', () => {
    const { bearer } = setup();
    for (const key of ['hs256', 'rs256', 'es256', 'es384', 'eddsa']) {
      const t = token(key);
      const [h, c, s] = t.split('.');
      const flipped = Buffer.from(s, 'base64url');
      flipped[0] ^= 1;
      assertDenied(bearer(`${h}.${c}.${base64url(flipped)}`), { message: 'Invalid signature' });
      assertDenied(bearer(`${h}.${base64url(JSON.stringify({ iss: key, admin: true }))}.${s}`), { message: 'Invalid signature' });
      assertDenied(bearer(`${h}.${c}.`), { message: 'Invalid signature' });
      assertDenied(bearer(`${h}.${c}.${s.slice(0, 10)}`), { message: 'Invalid signature' });
    }
    assertDenied(bearer(signJwt({ iss: 'rs256' }, 'RS256', otherRsa.privateKey)), { message: 'Invalid signature' });
    assertDenied(bearer(signJwt({ iss: 'hs256' }, 'HS256', 'hs256-secreT')), { message: 'Invalid signature' });
  });

  test('an ES256 signature in DER (not JWS raw r||s) is refused', () => {
    const { bearer } = setup();
    const input = `${base64url('{"alg":"ES256"}')}.${base64url('{"iss":"es256"}')}`;
    const der = crypto.sign('sha256', Buffer.from(input), p256.privateKey);
    assertDenied(bearer(`${input}.${base64url(der)}`), { message: 'Invalid signature' });
    assertAuthenticated(bearer(`${input}.${base64url(signature(input, 'ES256', p256.privateKey))}`), 'es256');
  });

  test('a credential whose key is unusable: Invalid key/secret', () => {
    const { bearer } = setup();
    assertDenied(bearer(token('bad-pem')), { message: 'Invalid key/secret' });
    assertDenied(bearer(token('no-pem')), { message: 'Invalid key/secret' });
    assertDenied(bearer(token('no-secret')), { message: 'Invalid key/secret' });
    assertDenied(bearer(token('rs-holding-ec')), { message: 'Invalid key/secret' });
    assertDenied(bearer(token('es256-holding-p384')), { message: 'Invalid key/secret' });
  });

  test('a credential whose consumer is missing', () => {
    const { bearer } = setup();
    const r = bearer(token('orphan'));
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { message: "Could not find consumer for 'iss=orphan'" });
    assert.equal(r.header, null);
  });
});

describe('registered claims, with a fake clock', () => {
  test('not verified unless listed', () => {
    const { bearer } = setup();
    assertAuthenticated(bearer(token('hs256', { exp: NOW - 100, nbf: NOW + 100 })), 'hs256');
    assertAuthenticated(bearer(token('hs256', { exp: 'soon' })), 'hs256');
  });

  test('exp', () => {
    const { bearer } = setup('claims_to_verify: [exp]');
    assertAuthenticated(bearer(token('hs256', { exp: NOW + 1 })), 'hs256');
    assertDenied(bearer(token('hs256', { exp: NOW })), { exp: 'token expired' });
    assertDenied(bearer(token('hs256', { exp: NOW - 1 })), { exp: 'token expired' });
    assertDenied(bearer(token('hs256', {})), { exp: 'must be a number' });
    assertDenied(bearer(token('hs256', { exp: String(NOW + 100) })), { exp: 'must be a number' });
    assertDenied(bearer(token('hs256', { exp: null })), { exp: 'must be a number' });
  });

  test('nbf', () => {
    const { bearer } = setup('claims_to_verify: [nbf]');
    assertAuthenticated(bearer(token('hs256', { nbf: NOW })), 'hs256');
    assertDenied(bearer(token('hs256', { nbf: NOW + 1 })), { nbf: 'token not valid yet' });
    assertDenied(bearer(token('hs256', { nbf: true })), { nbf: 'must be a number' });
  });

  test('both failing: both reported, in the order listed', () => {
    const a = setup('claims_to_verify: [exp, nbf]');
    const t = token('hs256', { exp: NOW - 1, nbf: NOW + 1 });
    const r = a.bearer(t);
    assertDenied(r, { exp: 'token expired', nbf: 'token not valid yet' });
    assert.equal(r.ctx.reply!.body, '{"exp":"token expired","nbf":"token not valid yet"}');
    const b = setup('claims_to_verify: [nbf, exp]');
    assert.equal(b.bearer(t).ctx.reply!.body, '{"nbf":"token not valid yet","exp":"token expired"}');
  });

  test('time moves: a token becomes valid, then expires', () => {
    const { bearer, clock } = setup('claims_to_verify: [exp, nbf]');
    const t = token('es256', { nbf: NOW + 10, exp: NOW + 20 });
    assertDenied(bearer(t), { nbf: 'token not valid yet' });
    clock.t = NOW + 10;
    assertAuthenticated(bearer(t), 'es256');
    clock.t = NOW + 20;
    assertDenied(bearer(t), { exp: 'token expired' });
  });

  test('maximum_expiration', () => {
    const { bearer } = setup('claims_to_verify: [exp]\nmaximum_expiration: 3600');
    assertAuthenticated(bearer(token('hs256', { exp: NOW + 3600 })), 'hs256');
    assertDenied(bearer(token('hs256', { exp: NOW + 3601 })), { exp: 'exceeds maximum allowed expiration' });
    // exp is checked first, as in Kong.
    assertDenied(bearer(token('hs256', {})), { exp: 'must be a number' });
    assertDenied(bearer(token('hs256', { exp: NOW - 1 })), { exp: 'token expired' });
  });
});

describe('secret_is_base64', () => {
  test('the secret is base64 (either alphabet) and the token is signed with its bytes', () => {
    const { bearer } = setup('secret_is_base64: true');
    assertAuthenticated(bearer(token('b64')), 'b64');
    assertAuthenticated(bearer(token('b64url')), 'b64url');
    assertDenied(bearer(token('not-b64')), { message: 'Invalid key/secret' });
  });

  test('off: the base64 text itself is the secret', () => {
    const { bearer } = setup();
    assertDenied(bearer(token('b64')), { message: 'Invalid signature' });
    assertAuthenticated(bearer(signJwt({ iss: 'b64' }, 'HS256', b64Secret.toString('base64'))), 'b64');
  });
});

describe('anonymous and preflight', () => {
  test('a failure authenticates the anonymous consumer (by username or id)', () => {
    for (const ref of ['anonymous', 'c-anon']) {
      const { run, bearer } = setup(`anonymous: ${ref}`);
      for (const r of [run({}), bearer('garbage'), bearer(token('hs256', { iss: 'nobody' }))]) {
        assert.equal(r.verdict, Verdict.Continue);
        assert.equal(r.ctx.reply, null);
        assert.equal(r.ctx.consumer, anon);
        assert.equal(r.ctx.credentialId, null);
        assert.equal(r.ctx.credentialIdentifier, null);
        assert.equal(r.ctx.anonymous, true);
      }
      assertAuthenticated(bearer(token('rs256')), 'rs256');
    }
  });

  test('already authenticated by another plugin: left alone when anonymous is set', () => {
    const { plugin } = setup('anonymous: anonymous');
    const ctx = new FakeContext({ headers: { authorization: 'Bearer garbage' } });
    ctx.authenticate(bob, 'key-auth-cred', 'k', false);
    assert.equal(plugin.onRequest(ctx), Verdict.Continue);
    assert.equal(ctx.consumer, bob);
    assert.equal(ctx.credentialId, 'key-auth-cred');
  });

  test('an anonymous consumer that does not exist is Kong\'s 500', () => {
    const { run } = setup('anonymous: ghost');
    const r = run({});
    assert.equal(r.status, 500);
    assert.deepEqual(r.body, { message: 'An unexpected error occurred' });
  });

  test('run_on_preflight: false lets OPTIONS through unauthenticated', () => {
    const off = setup('run_on_preflight: false');
    const r = off.run({ method: 'OPTIONS' });
    assert.equal(r.verdict, Verdict.Continue);
    assert.equal(r.ctx.consumer, null);
    assertDenied(off.run({ method: 'GET' }), { message: 'Unauthorized' }, 'Bearer');
    assertDenied(setup().run({ method: 'OPTIONS' }), { message: 'Unauthorized' }, 'Bearer');
  });
});

describe('verified-token cache', () => {
  test('a hit skips the lookup and the signature check', () => {
    const { bearer, dir } = setup();
    const t = token('rs256');
    assertAuthenticated(bearer(t), 'rs256');
    assert.equal(dir.lookups, 1);
    assertAuthenticated(bearer(t), 'rs256');
    assertAuthenticated(bearer(t), 'rs256');
    assert.equal(dir.lookups, 1);
  });

  test('failures are not cached', () => {
    const { bearer, dir } = setup();
    const bad = signJwt({ iss: 'hs256' }, 'HS256', 'wrong');
    assertDenied(bearer(bad), { message: 'Invalid signature' });
    assertDenied(bearer(bad), { message: 'Invalid signature' });
    assert.equal(dir.lookups, 2);
  });

  test('a hit still checks exp and nbf against the current time', () => {
    const { bearer, clock, dir } = setup('claims_to_verify: [exp, nbf]');
    const t = token('hs256', { nbf: NOW - 5, exp: NOW + 60 });
    assertAuthenticated(bearer(t), 'hs256');
    clock.t = NOW + 59;
    assertAuthenticated(bearer(t), 'hs256');
    assert.equal(dir.lookups, 1);
    clock.t = NOW + 60;
    assertDenied(bearer(t), { exp: 'token expired' });
  });

  test('an entry does not outlive exp even when exp is not verified', () => {
    const { bearer, clock, dir } = setup();
    const t = token('hs256', { exp: NOW + 60 });
    assertAuthenticated(bearer(t), 'hs256');
    assertAuthenticated(bearer(t), 'hs256');
    assert.equal(dir.lookups, 1);
    clock.t = NOW + 61;
    assertAuthenticated(bearer(t), 'hs256'); // Kong accepts it: exp is not in claims_to_verify
    assert.equal(dir.lookups, 2, 'verified again, not served from the cache');
    assertAuthenticated(bearer(t), 'hs256');
    assert.equal(dir.lookups, 3, 'an expired token is never stored');
  });

  test('a token verified before its nbf is cached and accepted once nbf passes', () => {
    const { bearer, clock, dir } = setup('claims_to_verify: [nbf]');
    const t = token('eddsa', { nbf: NOW + 10 });
    assertDenied(bearer(t), { nbf: 'token not valid yet' });
    clock.t = NOW + 10;
    assertAuthenticated(bearer(t), 'eddsa');
    assert.equal(dir.lookups, 1);
  });

  test('maximum_expiration is checked on hits too', () => {
    const { bearer, clock } = setup('claims_to_verify: [exp]\nmaximum_expiration: 100');
    const t = token('hs256', { exp: NOW + 150 });
    clock.t = NOW + 60;
    assertAuthenticated(bearer(t), 'hs256');
    clock.t = NOW + 40; // a clock step backwards: now exp is too far away
    assertDenied(bearer(t), { exp: 'exceeds maximum allowed expiration' });
  });

  test('cacheEntries: 0 disables it', () => {
    const { bearer, dir } = setup('', 0);
    const t = token('hs256');
    assertAuthenticated(bearer(t), 'hs256');
    assertAuthenticated(bearer(t), 'hs256');
    assert.equal(dir.lookups, 2);
  });

  test('a hit for the same token found in another place, or another key claim\'s plugin, is per instance', () => {
    const a = setup('cookie_names: [s]');
    const t = token('hs256');
    assertAuthenticated(a.run({ headers: { cookie: `s=${t}` } }), 'hs256');
    assertAuthenticated(a.bearer(t), 'hs256');
    assert.equal(a.dir.lookups, 1);
    const b = setup('key_claim_name: sub');
    assertDenied(b.bearer(t), { message: "No mandatory 'sub' in claims" });
  });
});

describe('malformed input never throws and never answers 500', () => {
  function check(run: (req: FakeRequest) => { status: number; body: unknown; verdict: Verdict }, req: FakeRequest) {
    const r = run(req);
    assert.equal(r.verdict, Verdict.Stop, JSON.stringify(req).slice(0, 200));
    assert.equal(r.status, 401);
    assert.equal(typeof r.body, 'object');
  }

  test('garbage, unicode, control characters, huge tokens', () => {
    const { bearer, run } = setup('claims_to_verify: [exp, nbf]\nheader_names: [authorization, x-jwt]\ncookie_names: [c]');
    const inputs = [
      '.', '..', '...', '....', 'a.b.c', '=.=.=', '%', '🙂.🙂.🙂', 'é.ü.ß', '\u0000.\u0000.\u0000',
      'eyJ.eyJ.eyJ', 'e30.e30.', 'e30.e30.e30', 'bnVsbA.bnVsbA.', 'W10.W10.', 'IiI.IiI.', 'dHJ1ZQ.dHJ1ZQ.',
      'x'.repeat(1 << 20), `${'eyJhbGciOiJIUzI1NiJ9'.repeat(5000)}.e30.`, `${base64url('{"alg":"HS256"}')}.${base64url('{"iss":"' + 'x'.repeat(100_000) + '"}')}.`,
      `${base64url('{"alg":"HS256","alg":"none"}')}.${base64url('{"iss":"hs256"}')}.`,
      `${base64url('{"alg":"HS256"}')}.${base64url('{"iss":"hs256","exp":1e999}')}.AAAA`,
      `${base64url('{"alg":"HS256"}')}.${base64url('{"iss":["hs256"]}')}.AAAA`,
      `${base64url('{"alg":"HS256"}')}.${base64url(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]))}.AAAA`,
    ];
    for (const t of inputs) {
      check(run, { headers: { authorization: `Bearer ${t}` } });
      check(run, { headers: { 'x-jwt': t } });
      check(run, { query: `jwt=${encodeURIComponent(t)}` });
      check(run, { headers: { cookie: `c=${t}` } });
    }
    check(run, { query: 'jwt=%E0%A4%A' });
    check(run, { query: '&&&=&jwt=%zz&' });
    check(run, { headers: { authorization: 'Bearer  ' } });
    check(run, { headers: { cookie: ';;;=;c' } });
    void bearer;
  });

  test('every truncation and every single-byte change of a valid token', () => {
    const { bearer } = setup('claims_to_verify: [exp]');
    for (const key of ['hs256', 'es256']) {
      const t = token(key, { exp: NOW + 100 });
      for (let i = 0; i < t.length; i++) {
        const r = bearer(t.slice(0, i));
        assert.equal(r.status, 401);
        const changed = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
        const c = bearer(changed);
        // A change in the last character's unused low bits can decode to the same bytes.
        if (c.status === 0) assert.equal(Buffer.from(changed.split('.')[2], 'base64url').equals(Buffer.from(t.split('.')[2], 'base64url')), true);
        else assert.equal(c.status, 401);
      }
    }
  });

  test('random bytes', () => {
    const { bearer } = setup();
    for (let i = 0; i < 500; i++) {
      const parts = [0, 1, 2].map(() => crypto.randomBytes(Math.floor(Math.random() * 64)).toString(i % 2 ? 'base64url' : 'latin1'));
      const r = bearer(parts.join('.'));
      assert.equal(r.status, 401);
    }
  });
});
