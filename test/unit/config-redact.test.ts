/** redactConfig: a copy of the normalized config that is safe to show (admin API, logs). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { redactConfig, REDACTED } from '../../src/config/redact';
import type { NormalizedConfig } from '../../src/config/types';
import { load } from '../helpers/config-text';

const ES256_PUB = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;


const TEXT = [
  '_format_version: "3.0"',
  'services:',
  '  - name: s',
  '    host: backend.internal',
  'consumers:',
  '  - username: alice',
  '    keyauth_credentials:',
  '      - key: alice-api-key-0001',
  '    basicauth_credentials:',
  '      - username: alice-basic',
  '        password: alice-password-0001',
  '    jwt_secrets:',
  '      - key: alice-iss',
  '        secret: alice-hmac-secret-0001',
  '      - key: alice-es',
  '        algorithm: ES256',
  `        rsa_public_key: ${JSON.stringify(ES256_PUB)}`,
  '    acls:',
  '      - group: admins',
  '    hmacauth_credentials:',
  '      - username: alice-hmac',
  '        secret: alice-hmac-auth-secret-0001',
  '',
].join('\n');

test('redactConfig replaces keys, jwt secrets, salts and hashes, and keeps everything else', () => {
  const config = load(TEXT);
  const before = structuredClone(config);
  const redacted = redactConfig(config) as NormalizedConfig;

  const { salt, passwordHash } = config.credentials.basicauth[0];
  const shown = JSON.stringify(redacted);
  for (const secret of ['alice-api-key-0001', 'alice-hmac-secret-0001', 'alice-hmac-auth-secret-0001', 'alice-password-0001', salt, passwordHash]) {
    assert.equal(shown.includes(secret), false, `the redacted config still holds ${secret}`);
  }
  assert.deepEqual(redacted.credentials, {
    keyauth: [{ id: 'keyauth-0', consumer: 'alice', key: REDACTED, tags: [] }],
    basicauth: [{ id: 'basicauth-0', consumer: 'alice', username: 'alice-basic', salt: REDACTED, passwordHash: REDACTED, tags: [] }],
    jwt: [
      { id: 'jwt-0', consumer: 'alice', key: 'alice-iss', algorithm: 'HS256', secret: REDACTED, rsaPublicKey: null, tags: [] },
      // An asymmetric credential has no secret: null stays null; the public key is not a secret.
      { id: 'jwt-1', consumer: 'alice', key: 'alice-es', algorithm: 'ES256', secret: null, rsaPublicKey: ES256_PUB, tags: [] },
    ],
    acls: [{ id: 'acl-0', consumer: 'alice', group: 'admins', tags: [] }],
    hmacauth: [{ id: 'hmacauth-0', consumer: 'alice', username: 'alice-hmac', secret: REDACTED, tags: [] }],
  });
  // Everything outside the credentials is unchanged.
  assert.deepEqual({ ...redacted, credentials: null }, { ...config, credentials: null });
  // The input is untouched, and the copy shares no objects with it.
  assert.deepEqual(config, before);
  assert.notEqual(redacted.services[0], config.services[0]);
  assert.notEqual(redacted.services[0].tags, config.services[0].tags);
  assert.notEqual(redacted.credentials.acls[0], config.credentials.acls[0]);
});

test('redactConfig on a config without credentials is an equal copy', () => {
  const config = load('_format_version: "3.0"\nconsumers:\n  - username: bob\n');
  assert.deepEqual(redactConfig(config), config);
});

test('redactConfig redacts secret-named fields in plugin configs at any depth, and nothing else', () => {
  const config = load(TEXT);
  const withPlugin = {
    ...config,
    plugins: [{
      id: 'p', name: 'rate-limiting', enabled: true, service: null, route: null, consumer: null, protocols: ['http', 'https'], tags: [],
      config: { minute: 5, redis_password: 'redis-pass-0001', redis: { host: 'r', password: 'nested-pass-0002', ssl: true }, key_names: ['apikey'], hide_credentials: true, client_secret: 'cs-0003', tokens: ['a'] },
    }],
  } as unknown as NormalizedConfig;
  const text = JSON.stringify(redactConfig(withPlugin));
  for (const secret of ['redis-pass-0001', 'nested-pass-0002', 'cs-0003']) assert.ok(!text.includes(secret), `${secret} leaked`);
  const conf = (redactConfig(withPlugin) as NormalizedConfig).plugins[0].config as Record<string, any>;
  assert.equal(conf.redis_password, REDACTED);
  assert.equal(conf.redis.password, REDACTED);
  assert.equal(conf.redis.host, 'r');
  assert.deepEqual(conf.key_names, ['apikey']);
  assert.equal(conf.hide_credentials, true);
  assert.equal(conf.minute, 5);
});
