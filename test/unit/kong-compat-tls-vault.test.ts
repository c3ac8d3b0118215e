/**
 * Kong's certificates, snis, ca_certificates and env vaults. Keys and certificates are generated
 * for the run by openssl (test/helpers/test-certs.ts) and reach the config through the env vault
 * or inline; none is committed.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecureContext } from 'node:tls';
import { loadConfigText, type ConfigError } from '../../src/config/load';
import { redactConfig } from '../../src/config/redact';
import type { NormalizedConfig } from '../../src/config/types';
import { resolveVaultReferences } from '../../src/config/vault-refs';
import { generateTestCerts, type TestCerts } from '../helpers/test-certs';

let certs: TestCerts;
before(() => {
  certs = generateTestCerts();
});

/** A YAML block scalar holding `pem`, indented for a field at `indent` spaces. */
function block(pem: string, indent: number): string {
  const pad = ' '.repeat(indent + 2);
  return '|\n' + pem.trimEnd().split('\n').map((l) => pad + l).join('\n');
}

function loadOk(text: string): NormalizedConfig {
  const result = loadConfigText(text, 'kong.yaml');
  if (!result.ok) assert.fail(result.errors.map((e) => `${e.line}: ${e.entity}: ${e.field}: ${e.message}`).join('\n'));
  return result.config;
}

function errorsOf(text: string): ConfigError[] {
  const result = loadConfigText(text, 'kong.yaml');
  if (result.ok) assert.fail('expected the config to be refused');
  return result.errors;
}

function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.keys(vars).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('a certificate with nested snis (names and objects) and top-level snis is kept in a form TLS can use', () => {
  const config = loadOk(`_format_version: "3.0"
certificates:
  - id: main
    cert: ${block(certs.rsa.cert, 4)}
    key: ${block(certs.rsa.key, 4)}
    cert_alt: ${block(certs.ec.cert, 4)}
    key_alt: ${block(certs.ec.key, 4)}
    snis:
      - API.example.com
      - name: "*.example.org"
snis:
  - name: example.*
    certificate: main
  - name: other.example.net
    certificate: { id: main }
`);
  const [c] = config.certificates;
  assert.equal(c.id, 'main');
  assert.deepEqual(c.snis, ['api.example.com', '*.example.org', 'example.*', 'other.example.net']);
  assert.equal(c.cert, certs.rsa.cert.trimEnd() + '\n');
  // The proof that a TLS listener can use it: node builds a secure context from both pairs.
  assert.doesNotThrow(() => createSecureContext({ cert: c.cert, key: c.key }));
  assert.doesNotThrow(() => createSecureContext({ cert: c.certAlt!, key: c.keyAlt! }));
  const shown = JSON.stringify(redactConfig(config));
  assert.ok(!shown.includes(certs.rsa.key.split('\n')[1]), 'the admin view never shows a private key');
});

test('a key that belongs to another certificate is refused at the key line', () => {
  const errors = errorsOf(`_format_version: "3.0"
certificates:
  - cert: ${block(certs.rsa.cert, 4)}
    key: ${block(certs.otherRsa.key, 4)}
`);
  assert.equal(errors.length, 1);
  const certLines = certs.rsa.cert.trimEnd().split('\n').length;
  assert.equal(errors[0].line, 4 + certLines);
  assert.equal(errors[0].field, 'key');
  assert.equal(errors[0].message, 'certificate does not match key');
  assert.ok(!errors[0].message.includes('PRIVATE'), 'no key material in the message');
});

test('broken PEM, a lone cert_alt and two alternatives of one type are refused', () => {
  const notPem = errorsOf('_format_version: "3.0"\ncertificates:\n  - cert: hello\n    key: world\n');
  assert.deepEqual(notPem.map((e) => [e.line, e.field]), [[3, 'cert'], [4, 'key']]);
  assert.match(notPem[0].message, /must be a PEM certificate/);
  assert.match(notPem[1].message, /must be a PEM private key/);
  assert.ok(!notPem[1].message.includes('world'));

  const garbled = certs.rsa.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
  const bad = errorsOf(`_format_version: "3.0"\ncertificates:\n  - cert: ${block(garbled, 4)}\n    key: ${block(certs.rsa.key, 4)}\n`);
  assert.equal(bad[0].field, 'cert');
  assert.match(bad[0].message, /^invalid PEM certificate/);

  const lone = errorsOf(`_format_version: "3.0"\ncertificates:\n  - cert: ${block(certs.rsa.cert, 4)}\n    key: ${block(certs.rsa.key, 4)}\n    cert_alt: ${block(certs.ec.cert, 4)}\n`);
  assert.equal(lone.length, 1);
  assert.equal(lone[0].field, 'key_alt');
  assert.match(lone[0].message, /is required when cert_alt is set/);

  const same = errorsOf(`_format_version: "3.0"\ncertificates:\n  - cert: ${block(certs.rsa.cert, 4)}\n    key: ${block(certs.rsa.key, 4)}\n    cert_alt: ${block(certs.otherRsa.cert, 4)}\n    key_alt: ${block(certs.otherRsa.key, 4)}\n`);
  assert.equal(same.length, 1);
  assert.equal(same[0].field, 'cert_alt');
  assert.match(same[0].message, /need to have different types/);
});

test('SNI names: unique across certificates, Kong\'s wildcard rules, no IP, no port', () => {
  const env = {
    FG_T_RSA_CERT: certs.rsa.cert, FG_T_RSA_KEY: certs.rsa.key,
    FG_T_OTHER_CERT: certs.otherRsa.cert, FG_T_OTHER_KEY: certs.otherRsa.key,
  };
  const errors = withEnv(env, () => errorsOf(`_format_version: "3.0"
certificates:
  - id: a
    cert: "{vault://env/fg-t-rsa-cert}"
    key: "{vault://env/fg-t-rsa-key}"
    snis: [api.example.com, "*.*.example.com", "a.*.example.com", "*example.com", 10.0.0.1, "api.example.org:443"]
  - id: b
    cert: "{vault://env/fg-t-other-cert}"
    key: "{vault://env/fg-t-other-key}"
    snis: [API.example.com]
snis:
  - name: orphan.example.com
    certificate: nope
`));
  const got = errors.map((e) => `${e.line} ${e.entity} ${e.field}: ${e.message}`);
  assert.deepEqual(got, [
    '6 certificates[0].snis[1] (name "*.*.example.com") name: only one wildcard must be specified',
    '6 certificates[0].snis[2] (name "a.*.example.com") name: wildcard must be the whole leftmost or rightmost label ("*.example.com" or "example.*")',
    '6 certificates[0].snis[3] (name "*example.com") name: wildcard must be the whole leftmost or rightmost label ("*.example.com" or "example.*")',
    '6 certificates[0].snis[4] (name "10.0.0.1") name: must not be an IP',
    '6 certificates[0].snis[5] (name "api.example.org:443") name: must not have a port',
  ]);
  // Once each name is valid, the cross-entity checks run.
  const dup = withEnv(env, () => errorsOf(`_format_version: "3.0"
certificates:
  - id: a
    cert: "{vault://env/fg-t-rsa-cert}"
    key: "{vault://env/fg-t-rsa-key}"
    snis: [api.example.com]
  - id: b
    cert: "{vault://env/fg-t-other-cert}"
    key: "{vault://env/fg-t-other-key}"
    snis: [API.example.com]
snis:
  - name: orphan.example.com
    certificate: nope
`));
  assert.deepEqual(dup.map((e) => `${e.line} ${e.field}: ${e.message}`), [
    '10 name: duplicate SNI name "api.example.com": an SNI serves one certificate (first defined at line 6)',
    '13 certificate: unknown certificate: no certificate has the id "nope"',
  ]);
});

test('a top-level SNI needs a certificate; a nested one must not name one', () => {
  const errors = errorsOf('_format_version: "3.0"\nsnis:\n  - name: a.example.com\n');
  assert.equal(errors[0].line, 3);
  assert.match(errors[0].message, /is required for a top-level SNI/);
});

test('ca_certificates: PEM parsed, must be a CA, cert_digest computed and checked', () => {
  const config = loadOk(`_format_version: "3.0"\nca_certificates:\n  - cert: ${block(certs.ca.cert, 4)}\n    tags: [ca]\n`);
  assert.match(config.caCertificates[0].certDigest, /^[0-9a-f]{64}$/);
  assert.deepEqual(config.caCertificates[0].tags, ['ca']);
  const digest = config.caCertificates[0].certDigest;
  loadOk(`_format_version: "3.0"\nca_certificates:\n  - cert: ${block(certs.ca.cert, 4)}\n    cert_digest: ${digest.toUpperCase()}\n`);

  const notCa = errorsOf(`_format_version: "3.0"\nca_certificates:\n  - cert: ${block(certs.notCa.cert, 4)}\n`);
  assert.equal(notCa.length, 1);
  assert.equal(notCa[0].line, 3);
  assert.match(notCa[0].message, /missing the "CA" basic constraint/);
  const wrongDigest = errorsOf(`_format_version: "3.0"\nca_certificates:\n  - cert: ${block(certs.ca.cert, 4)}\n    cert_digest: abc\n`);
  assert.equal(wrongDigest[0].field, 'cert_digest');
});

// --- vaults ----------------------------------------------------------------------------------

test('{vault://env/NAME} reads NAME upper-cased with - as _, anywhere in the file', () => {
  const config = withEnv({ FG_T_ENDPOINT: 'http://127.0.0.1:9999/log', FG_T_KEY: 'key-from-env-1' }, () => loadOk(`_format_version: "3.0"
plugins:
  - name: http-log
    config:
      http_endpoint: "{vault://env/fg-t-endpoint}"
consumers:
  - username: c
    keyauth_credentials:
      - key: "{vault://env/FG_T_KEY}"
`));
  assert.equal(config.plugins[0].config.http_endpoint, 'http://127.0.0.1:9999/log');
  assert.equal(config.credentials.keyauth[0].key, 'key-from-env-1');
});

test('a vaults entity gives a prefix and an env-variable prefix; /key reads a JSON field', () => {
  const config = withEnv({ MYAPP_REDIS: '{"password":"pw-from-json","host":"r"}' }, () => loadOk(`_format_version: "3.0"
vaults:
  - name: env
    prefix: app-secrets
    config: { prefix: MYAPP_ }
plugins:
  - name: rate-limiting
    config:
      minute: 1
      policy: redis
      redis:
        host: "{vault://app-secrets/redis/host}"
        password: "{vault://app-secrets/redis/password}"
`));
  const redis = (config.plugins[0].config as { redis: { host: string; password: string } }).redis;
  assert.deepEqual([redis.host, redis.password], ['r', 'pw-from-json']);
});

test('a missing variable is an error at the field holding the reference', () => {
  delete process.env.FG_T_SURELY_UNSET;
  const errors = errorsOf('_format_version: "3.0"\nplugins:\n  - name: http-log\n    config:\n      http_endpoint: "{vault://env/fg-t-surely-unset}"\n');
  assert.equal(errors.length, 1);
  assert.deepEqual([errors[0].line, errors[0].entity, errors[0].field], [5, 'plugins[0] (name "http-log")', 'config.http_endpoint']);
  assert.equal(errors[0].message, 'vault reference {vault://env/fg-t-surely-unset}: the environment variable FG_T_SURELY_UNSET is not set');
});

test('an unknown vault prefix and a non-env vault are located errors', () => {
  const errors = errorsOf(`_format_version: "3.0"
vaults:
  - name: aws
    prefix: aws-secrets
plugins:
  - name: http-log
    config:
      http_endpoint: "{vault://nowhere/x}"
`);
  assert.deepEqual(errors.map((e) => [e.line, e.field]), [[3, 'name'], [8, 'config.http_endpoint']]);
  assert.match(errors[0].message, /the "aws" vault is not supported by Floodgate/);
  assert.match(errors[1].message, /no vault has the prefix "nowhere"/);
});

test('resolved secrets never appear in error messages', () => {
  const result = resolveVaultReferences({ a: { b: '{vault://env/fg-t-secret}' } }, { FG_T_SECRET: 'super-secret-value' });
  assert.deepEqual(result.secrets, ['super-secret-value']);
  const errors = withEnv({ FG_T_SECRET: 'super-secret-value' }, () =>
    errorsOf('_format_version: "3.0"\nservices:\n  - name: s\n    url: "{vault://env/fg-t-secret}"\n'));
  assert.equal(errors[0].line, 4);
  assert.ok(!errors[0].message.includes('super-secret-value'), errors[0].message);
});

test('a reference may set the env prefix in its query, as Kong allows', () => {
  const result = resolveVaultReferences({ a: '{vault://env/token?prefix=fg_q_}' }, { FG_Q_TOKEN: 'from-query-prefix' });
  assert.deepEqual(result.issues, []);
  assert.deepEqual(result.secrets, ['from-query-prefix']);
});
