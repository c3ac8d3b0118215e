/**
 * Consumer credentials in the declarative config (key-auth, basic-auth, jwt, acl): nested in a
 * consumer or top level, what the normalized config holds, every error with its entity, field and
 * line, and that no error ever quotes a key, secret or password. Line numbers count from the first
 * line of each inline YAML block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { formatConfigErrors, loadConfigText, type ConfigError } from '../../src/config/load';
import { hashPassword, verifyPassword } from '../../src/config/password-hash';
import type { NormalizedConfig } from '../../src/config/types';
import { yaml, load } from '../helpers/config-text';



function errorsOf(text: string): ConfigError[] {
  const result = loadConfigText(text, 'gateway.yaml');
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.errors;
}

/** [entity, field, line, message] per error, in file order. */
function summary(text: string): [string, string, number | null, string][] {
  return errorsOf(text).map((e) => [e.entity, e.field, e.line, e.message]);
}

/** A PEM as one YAML line (a JSON string is a double-quoted YAML scalar), so line numbers stay simple. */
function pem(text: string | Buffer): string {
  return JSON.stringify(String(text));
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ed25519 = generateKeyPairSync('ed25519');
const spki = (k: { publicKey: KeyObject }) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const RSA_PUB = spki(rsa);
const P256_PUB = spki(p256);
const P384_PUB = spki(p384);
const ED25519_PUB = spki(ed25519);
const RSA_PKCS1_PUB = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const P256_PRIVATE = p256.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

// --- loading ----------------------------------------------------------------------------------

test('credentials of every kind nested in a consumer load with ids, consumer ids and defaults', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        keyauth_credentials:
          - key: alice-key-1
          - id: ka-2
            key: alice-key-2
            tags: [mobile]
        basicauth_credentials:
          - username: alice-basic
            password: correct horse battery staple
        jwt_secrets:
          - key: alice-issuer
            secret: alice-hmac-secret
        acls:
          - group: admins
          - group: users
            tags: [t]
  `));
  assert.deepEqual(config.credentials.keyauth, [
    { id: 'keyauth-0', consumer: 'alice', key: 'alice-key-1', tags: [] },
    { id: 'ka-2', consumer: 'alice', key: 'alice-key-2', tags: ['mobile'] },
  ]);
  assert.deepEqual(config.credentials.jwt, [
    { id: 'jwt-0', consumer: 'alice', key: 'alice-issuer', algorithm: 'HS256', secret: 'alice-hmac-secret', rsaPublicKey: null, tags: [] },
  ]);
  assert.deepEqual(config.credentials.acls, [
    { id: 'acl-0', consumer: 'alice', group: 'admins', tags: [] },
    { id: 'acl-1', consumer: 'alice', group: 'users', tags: ['t'] },
  ]);
  const [basic] = config.credentials.basicauth;
  assert.equal(config.credentials.basicauth.length, 1);
  assert.deepEqual({ ...basic, salt: '', passwordHash: '' }, { id: 'basicauth-0', consumer: 'alice', username: 'alice-basic', salt: '', passwordHash: '', tags: [] });
  assert.match(basic.salt, /^[0-9a-f]{32}$/);
  assert.match(basic.passwordHash, /^[0-9a-f]{64}$/);
  // The credentials did not leak into the consumer.
  assert.deepEqual(config.consumers, [{ id: 'alice', username: 'alice', customId: null, tags: [] }]);
});

test('top-level credentials name their consumer by username or id, as a string or {username}/{id}', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    keyauth_credentials:
      - consumer: alice
        key: k-by-username
      - consumer: 5d3c0000-0000-4000-8000-000000000002
        key: k-by-id-string
    consumers:
      - username: alice
        keyauth_credentials:
          - key: k-nested
      - id: 5d3c0000-0000-4000-8000-000000000002
        username: bob
    basicauth_credentials:
      - consumer: { username: bob }
        username: bob
        password: pw
    jwt_secrets:
      - consumer: { id: 5d3c0000-0000-4000-8000-000000000002 }
        key: bob-iss
        secret: s
    acls:
      - consumer: bob
        group: partners
      - consumer: alice
        group: partners
  `));
  // Ordered as written across top-level and nested lists; positional ids follow that order.
  assert.deepEqual(config.credentials.keyauth.map((k) => [k.id, k.consumer, k.key]), [
    ['keyauth-0', 'alice', 'k-by-username'],
    ['keyauth-1', '5d3c0000-0000-4000-8000-000000000002', 'k-by-id-string'],
    ['keyauth-2', 'alice', 'k-nested'],
  ]);
  assert.deepEqual(config.credentials.basicauth.map((b) => [b.id, b.consumer, b.username]), [['basicauth-0', '5d3c0000-0000-4000-8000-000000000002', 'bob']]);
  assert.deepEqual(config.credentials.jwt.map((j) => [j.id, j.consumer, j.key]), [['jwt-0', '5d3c0000-0000-4000-8000-000000000002', 'bob-iss']]);
  assert.deepEqual(config.credentials.acls.map((a) => [a.id, a.consumer, a.group]), [
    ['acl-0', '5d3c0000-0000-4000-8000-000000000002', 'partners'],
    ['acl-1', 'alice', 'partners'],
  ]);
});

test('jwt: every algorithm with a matching key; public keys come out as SPKI PEM; HS secrets as written', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    consumers:
      - username: c
        jwt_secrets:
          - { key: hs256, secret: s256 }
          - { key: hs384, algorithm: HS384, secret: s384 }
          - { key: hs512, algorithm: HS512, secret: s512 }
          - { key: rs256, algorithm: RS256, rsa_public_key: ${pem(RSA_PUB)} }
          - { key: rs384, algorithm: RS384, rsa_public_key: ${pem(RSA_PKCS1_PUB)} }
          - { key: rs512, algorithm: RS512, rsa_public_key: ${pem(RSA_PUB)}, secret: kong-generated-and-unused }
          - { key: es256, algorithm: ES256, rsa_public_key: ${pem(P256_PUB)} }
          - { key: es384, algorithm: ES384, rsa_public_key: ${pem(P384_PUB)} }
          - { key: eddsa, algorithm: EdDSA, rsa_public_key: ${pem(ED25519_PUB)}, secret: null }
  `));
  assert.deepEqual(
    config.credentials.jwt.map((j) => [j.key, j.algorithm, j.secret, j.rsaPublicKey]),
    [
      ['hs256', 'HS256', 's256', null],
      ['hs384', 'HS384', 's384', null],
      ['hs512', 'HS512', 's512', null],
      ['rs256', 'RS256', null, RSA_PUB],
      ['rs384', 'RS384', null, RSA_PUB], // PKCS#1 in, SPKI out
      ['rs512', 'RS512', null, RSA_PUB], // a secret is meaningless for RS512 and dropped
      ['es256', 'ES256', null, P256_PUB],
      ['es384', 'ES384', null, P384_PUB],
      ['eddsa', 'EdDSA', null, ED25519_PUB],
    ],
  );
});

test('basic-auth: the password is not kept anywhere; the salted hash verifies with hashPassword', () => {
  const password = 'pa55-w0rd-that-must-not-stay';
  const text = yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        basicauth_credentials:
          - username: alice
            password: ${password}
      - username: bob
        basicauth_credentials:
          - username: bob
            password: ${password}
  `);
  const config = load(text);
  assert.equal(JSON.stringify(config).includes(password), false);
  const [a, b] = config.credentials.basicauth;
  assert.equal(a.passwordHash, hashPassword(password, a.salt));
  assert.equal(verifyPassword(password, a.salt, a.passwordHash), true);
  assert.equal(verifyPassword(password + 'x', a.salt, a.passwordHash), false);
  assert.equal(verifyPassword(password, b.salt, a.passwordHash), false);
  // One salt per credential: the same password gives different hashes.
  assert.notEqual(a.salt, b.salt);
  assert.notEqual(a.passwordHash, b.passwordHash);
  // Loading again gives a new salt and hash, and nothing else changes.
  const again = load(text);
  assert.notEqual(again.credentials.basicauth[0].salt, a.salt);
  const withoutSalts = (c: NormalizedConfig) => ({
    ...c,
    credentials: { ...c.credentials, basicauth: c.credentials.basicauth.map((x) => ({ ...x, salt: '', passwordHash: '' })) },
  });
  assert.deepEqual(withoutSalts(again), withoutSalts(config));
});

test('hashPassword is sha256(salt bytes || utf8 password) and refuses a salt that is not hex', () => {
  // sha256 of the bytes 00 01 followed by "pw", computed independently.
  const expected = createHash('sha256').update(Buffer.from([0, 1, 0x70, 0x77])).digest('hex');
  assert.equal(hashPassword('pw', '0001'), expected);
  assert.equal(hashPassword('pw', '0001'), hashPassword('pw', '0001'));
  assert.notEqual(hashPassword('pw', '0001'), hashPassword('pw', '0002'));
  assert.notEqual(hashPassword('pé', '00'), hashPassword('pe', '00'));
  assert.throws(() => hashPassword('pw', 'xyz'), TypeError);
  assert.throws(() => hashPassword('pw', ''), TypeError);
  assert.throws(() => hashPassword('pw', 'abc'), TypeError);
  assert.equal(verifyPassword('pw', '0001', 'not-hex'), false);
});

test('credentials are plain data: the config survives structured cloning and JSON', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    consumers:
      - username: c
        keyauth_credentials: [{ key: k1 }]
        basicauth_credentials: [{ username: u, password: p }]
        jwt_secrets: [{ key: es, algorithm: ES256, rsa_public_key: ${pem(P256_PUB)} }]
        acls: [{ group: g }]
  `));
  assert.deepEqual(structuredClone(config), config);
  assert.deepEqual(JSON.parse(JSON.stringify(config)), config);
});

// --- errors: per credential -------------------------------------------------------------------

test('key-auth: key is required (Floodgate does not generate one) and ttl is not supported', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        keyauth_credentials:
          - tags: [no-key]
          - key: k1
            ttl: 3600
          - key: ""
  `)), [
    ['consumers[0].keyauth_credentials[0]', 'key', 5, 'is required: Floodgate does not generate keys (Kong would make up a random one, which a declarative file could not tell its clients)'],
    ['consumers[0].keyauth_credentials[1]', 'ttl', 7, 'is not supported: keys from a declarative config do not expire in Floodgate; remove "ttl"'],
    ['consumers[0].keyauth_credentials[2]', 'key', 8, 'must not be empty'],
  ]);
});

test('a nested credential must not set consumer; a top-level one must', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        acls:
          - group: g
            consumer: alice
        basicauth_credentials:
          - username: u
            password: p
            consumer: { username: alice }
    jwt_secrets:
      - key: iss
        secret: s
    keyauth_credentials:
      - key: k
        consumer: null
  `)), [
    ['consumers[0].acls[0] (group "g")', 'consumer', 6, 'must not be set on an acl nested in a consumer (it belongs to that consumer)'],
    ['consumers[0].basicauth_credentials[0] (username "u")', 'consumer', 10, 'must not be set on a basic-auth credential nested in a consumer (it belongs to that consumer)'],
    ['jwt_secrets[0]', 'consumer', 12, 'is required for a top-level jwt secret (or nest it in its consumer\'s "jwt_secrets")'],
    // `consumer: null` is written, so the line is that of the key.
    ['keyauth_credentials[0]', 'consumer', 16, 'is required for a top-level key-auth credential (or nest it in its consumer\'s "keyauth_credentials")'],
  ]);
});

test('a top-level credential pointing to a missing consumer names the reference', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
    keyauth_credentials:
      - consumer: alise
        key: k
    acls:
      - consumer: { username: bob }
        group: g
      - consumer: { id: 00000000-0000-4000-8000-00000000dead }
        group: g
  `)), [
    ['keyauth_credentials[0] (consumer "alise")', 'consumer', 5, 'unknown consumer: no consumer has the username or id "alise"'],
    ['acls[0] (group "g")', 'consumer.username', 8, 'unknown consumer: no consumer has the username "bob"'],
    ['acls[1] (group "g")', 'consumer.id', 10, 'unknown consumer: no consumer has the id "00000000-0000-4000-8000-00000000dead"'],
  ]);
});

test('a consumer reference object sets exactly one of id or username', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
    acls:
      - consumer: { id: a, username: alice }
        group: g
      - consumer: {}
        group: g
      - consumer: { name: alice }
        group: g
  `)), [
    ['acls[0] (group "g")', 'consumer', 5, 'must set exactly one of "id" or "username"'],
    ['acls[1] (group "g")', 'consumer', 7, 'must set exactly one of "id" or "username"'],
    ['acls[2] (group "g")', 'consumer.name', 9, 'unknown field "name"'],
  ]);
});

test('basic-auth: username and password are required; usernames are unique across consumers', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        basicauth_credentials:
          - username: shared
    basicauth_credentials:
      - consumer: alice
        password: p
  `)), [
    ['consumers[0].basicauth_credentials[0] (username "shared")', 'password', 5, 'is required'],
    ['basicauth_credentials[0] (consumer "alice")', 'username', 7, 'is required'],
  ]);
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        basicauth_credentials:
          - username: shared
            password: p1
      - username: bob
    basicauth_credentials:
      - consumer: bob
        username: shared
        password: p2
  `)), [
    [
      'basicauth_credentials[0] (username "shared")', 'username', 10,
      'duplicate basic-auth username "shared": also used by consumers[0].basicauth_credentials[0] (username "shared") (first defined at line 5)',
    ],
  ]);
});

test('jwt: key is required; HS* needs a secret and refuses rsa_public_key; algorithm is one of Kong\'s', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        jwt_secrets:
          - secret: s
          - key: no-secret
            algorithm: HS384
          - key: both
            secret: s
            rsa_public_key: ${pem(RSA_PUB)}
          - key: lower
            algorithm: rs256
          - key: ps
            algorithm: PS256
  `)), [
    ['consumers[0].jwt_secrets[0]', 'key', 5, 'is required: Floodgate does not generate keys (Kong would make up a random one); set it to the value tokens carry in their key claim ("iss" by default)'],
    ['consumers[0].jwt_secrets[1]', 'secret', 6, 'is required for algorithm "HS384": Floodgate does not generate secrets (Kong would make up a random one)'],
    ['consumers[0].jwt_secrets[2]', 'rsa_public_key', 10, 'must not be set for algorithm "HS256" (HMAC algorithms verify with "secret")'],
    ['consumers[0].jwt_secrets[3]', 'algorithm', 12, 'must be one of "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA", got "rs256"'],
    ['consumers[0].jwt_secrets[4]', 'algorithm', 14, 'must be one of "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA", got "PS256"'],
  ]);
});

test('jwt: RS*, ES* and EdDSA need a PEM public key of the matching type', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        jwt_secrets:
          - key: k0
            algorithm: RS256
          - key: k1
            algorithm: RS512
            rsa_public_key: not a pem
          - key: k2
            algorithm: ES256
            rsa_public_key: ${pem(P256_PRIVATE)}
          - key: k3
            algorithm: ES256
            rsa_public_key: ${pem(RSA_PUB)}
          - key: k4
            algorithm: ES256
            rsa_public_key: ${pem(P384_PUB)}
          - key: k5
            algorithm: ES384
            rsa_public_key: ${pem(P256_PUB)}
          - key: k6
            algorithm: RS384
            rsa_public_key: ${pem(ED25519_PUB)}
          - key: k7
            algorithm: EdDSA
            rsa_public_key: ${pem(P256_PUB)}
  `)), [
    ['consumers[0].jwt_secrets[0]', 'rsa_public_key', 5, 'is required for algorithm "RS256" (a PEM public key)'],
    ['consumers[0].jwt_secrets[1]', 'rsa_public_key', 9, 'is not a valid PEM public key (expected a "-----BEGIN PUBLIC KEY-----" block)'],
    ['consumers[0].jwt_secrets[2]', 'rsa_public_key', 12, 'must be a public key, but holds a private key (keep private keys out of the config)'],
    ['consumers[0].jwt_secrets[3]', 'rsa_public_key', 15, 'must be an EC P-256 (prime256v1) public key for algorithm "ES256", got a key of type RSA'],
    ['consumers[0].jwt_secrets[4]', 'rsa_public_key', 18, 'must be an EC P-256 (prime256v1) public key for algorithm "ES256", got an EC key on curve secp384r1'],
    ['consumers[0].jwt_secrets[5]', 'rsa_public_key', 21, 'must be an EC P-384 (secp384r1) public key for algorithm "ES384", got an EC key on curve prime256v1'],
    ['consumers[0].jwt_secrets[6]', 'rsa_public_key', 24, 'must be an RSA public key for algorithm "RS384", got a key of type Ed25519'],
    ['consumers[0].jwt_secrets[7]', 'rsa_public_key', 27, 'must be an Ed25519 public key for algorithm "EdDSA", got an EC key on curve prime256v1'],
  ]);
});

test('acl: group must be non-empty, and a consumer is in a group once', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        acls:
          - group: ""
          - {}
  `)), [
    ['consumers[0].acls[0]', 'group', 5, 'must not be empty'],
    ['consumers[0].acls[1]', 'group', 6, 'is required'],
  ]);
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        acls:
          - group: admins
          - group: users
      - username: bob
        acls:
          - group: admins
    acls:
      - consumer: alice
        group: admins
  `)), [
    ['acls[0] (group "admins")', 'group', 12, 'duplicate acl: consumer "alice" is already in group "admins" through consumers[0].acls[0] (group "admins") (first defined at line 5)'],
  ]);
});

// --- errors: across credentials ---------------------------------------------------------------

test('duplicate key-auth and jwt keys name both credentials, never the key', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        keyauth_credentials:
          - key: the-shared-api-key
        jwt_secrets:
          - id: alice-jwt
            key: the-shared-issuer
            secret: s1
      - username: bob
        keyauth_credentials:
          - key: the-shared-api-key
    jwt_secrets:
      - consumer: bob
        key: the-shared-issuer
        secret: s2
  `));
  assert.deepEqual(errors.map((e) => [e.entity, e.field, e.line, e.message]), [
    ['consumers[1].keyauth_credentials[0]', 'key', 12, 'duplicate key-auth key (not shown): the same as consumers[0].keyauth_credentials[0] (first defined at line 5)'],
    ['jwt_secrets[0] (consumer "bob")', 'key', 15, 'duplicate jwt key (not shown): the same as consumers[0].jwt_secrets[0] (id "alice-jwt") (first defined at line 8)'],
  ]);
  const text = formatConfigErrors(errors, 'gateway.yaml');
  assert.doesNotMatch(text, /the-shared-api-key|the-shared-issuer/);
});

test('credential ids: explicit duplicates, and positional ids colliding with explicit ones', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        keyauth_credentials:
          - id: k
            key: k1
          - id: k
            key: k2
          - key: k3
          - id: keyauth-2
            key: k4
        acls:
          - id: acl-1
            group: a
          - group: b
  `)).map(([entity, field, line, message]) => [entity, field, line, message.replace(/ \(ids come.*\); set/, ' (...); set')]), [
    ['consumers[0].keyauth_credentials[1] (id "k")', 'id', 7, 'duplicate id "k" (first defined at line 5)'],
    ['consumers[0].keyauth_credentials[3] (id "keyauth-2")', 'id', 10, 'the id "keyauth-2" is already used by another key-auth credential (...); set a distinct "id" (first defined at line 9)'],
    ['consumers[0].acls[1] (group "b")', '', 15, 'the id "acl-1" is already used by another acl (...); set a distinct "id" (first defined at line 13)'],
  ]);
});

test('Kong credential kinds Floodgate lacks are named as such', () => {
  assert.deepEqual(summary(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        mtls_auth_credentials: []
    oauth2_credentials: []
  `)).map(([entity, field, line, message]) => [entity, field, line, message.replace(/ \(supported.*/, '')]), [
    ['consumers[0] (username "alice")', 'mtls_auth_credentials', 4, '"mtls_auth_credentials" is a Kong credential that Floodgate does not support'],
    ['document', 'oauth2_credentials', 5, '"oauth2_credentials" is a Kong credential that Floodgate does not support'],
  ]);
});

// --- secrets never appear in errors -----------------------------------------------------------

const SECRETS = [
  '918273645', // numbers where strings belong
  '5550123987',
  'keyauth-secret-in-list',
  'top-level-secret-string',
  'dup-key-alpha-7f3a',
  'dup-jwt-issuer-91bc',
  'hunter2-basic-password',
  'hmac-secret-with-rsa-key',
  'trailing-secret-token',
  'alias-looking-secret',
];

test('no formatted error quotes a key, secret or password, whatever is wrong with the file', () => {
  const configs = [
    // Schema stage: wrong types and shapes where secrets are written.
    yaml(`
      _format_version: "3.0"
      consumers:
        - username: alice
          keyauth_credentials:
            - key: 918273645
            - keyauth-secret-in-list
            - key: [nested, list]
          basicauth_credentials:
            - username: u
              password: 5550123987
            - username: v
              password: hunter2-basic-password
              extra: field
          jwt_secrets:
            - key: 918273645
              algorithm: HS999
              secret: hunter2-basic-password
      jwt_secrets: top-level-secret-string
      keyauth_credentials: [top-level-secret-string]
    `),
    // Field checks: the secret is valid on its own, but the credential is not.
    yaml(`
      _format_version: "3.0"
      consumers:
        - username: alice
          keyauth_credentials:
            - key: dup-key-alpha-7f3a
              ttl: 60
              consumer: alice
          jwt_secrets:
            - key: dup-jwt-issuer-91bc
              secret: hmac-secret-with-rsa-key
              rsa_public_key: ${pem(P256_PRIVATE)}
            - key: dup-jwt-issuer-91bc
              algorithm: ES256
              secret: hmac-secret-with-rsa-key
              rsa_public_key: ${pem(P256_PRIVATE)}
    `),
    // References: duplicates and a missing consumer.
    yaml(`
      _format_version: "3.0"
      consumers:
        - username: alice
          keyauth_credentials:
            - key: dup-key-alpha-7f3a
          jwt_secrets:
            - key: dup-jwt-issuer-91bc
              secret: hmac-secret-with-rsa-key
          basicauth_credentials:
            - username: u
              password: hunter2-basic-password
      keyauth_credentials:
        - consumer: alice
          key: dup-key-alpha-7f3a
        - consumer: ghost
          key: top-level-secret-string
      jwt_secrets:
        - consumer: alice
          key: dup-jwt-issuer-91bc
          secret: hmac-secret-with-rsa-key
      basicauth_credentials:
        - consumer: alice
          username: u
          password: hunter2-basic-password
    `),
    // YAML syntax: the parser quotes source text in some messages.
    yaml(`
      _format_version: "3.0"
      consumers:
        - username: alice
          keyauth_credentials:
            - key: x}
              other: ]trailing-secret-token
    `),
    '_format_version: "3.0"\nconsumers:\n  - username: a\n    basicauth_credentials:\n      - username: u\n        password: *alias-looking-secret\n',
  ];
  for (const text of configs) {
    const formatted = formatConfigErrors(errorsOf(text), 'gateway.yaml');
    assert.notEqual(formatted, '');
    for (const secret of SECRETS) {
      assert.equal(formatted.includes(secret), false, `the error output quotes "${secret}":\n${formatted}`);
    }
    assert.doesNotMatch(formatted, /PRIVATE KEY|BEGIN/);
  }
});

test('type errors on secret fields say what kind of value they got, not the value', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        basicauth_credentials:
          - username: u
            password: 918273645
        keyauth_credentials:
          - keyauth-secret-in-list
  `));
  assert.deepEqual(errors.map((e) => [e.entity, e.field, e.line, e.message]), [
    ['consumers[0].basicauth_credentials[0] (username "u")', 'password', 6, 'expected string, got a number (value not shown)'],
    ['consumers[0].keyauth_credentials[0]', '', 8, 'expected object, got a string (value not shown)'],
  ]);
});

test('a secret that also appears in a label is blanked there too', () => {
  // A password equal to the username would otherwise show in the entity label.
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    consumers:
      - username: alice
        basicauth_credentials:
          - username: same-as-the-password
            password: same-as-the-password
            tags: "not a list"
  `));
  assert.deepEqual(errors.map((e) => [e.entity, e.field, e.line]), [['consumers[0].basicauth_credentials[0] (username "[REDACTED]")', 'tags', 7]]);
});
