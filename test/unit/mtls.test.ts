/**
 * The client-certificate identity (tls/client-certificate.ts: RFC 2253 subject, subjectAltName
 * parsing, Envoy's XFCC) and the mtls-auth plugin built from inline Kong YAML through the real
 * loader, run against a FakeContext. Certificates are made by openssl (test/helpers/certificates.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { Verdict } from '../../src/plugins/api';
import { PeerCertificate, rfc2253, subjectAltNames } from '../../src/tls/client-certificate';
import { makeCa, makeClientCertificate, yamlBlock } from '../helpers/certificates';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const caA = makeCa('Unit CA A');
const caB = makeCa('Unit CA B');
const alice = makeClientCertificate('/C=US/O=Example, Inc/CN=alice', caA, ['URI:spiffe://test/alice', 'DNS:alice.test', 'DNS:a;b.test', 'email:alice@example.com', 'IP:10.0.0.1']);
const carol = makeClientCertificate('/O=Example/CN=carol-cid', caB);
const nobody = makeClientCertificate('/O=Example/CN=nobody', caA);

function identity(pem: string, forward = true): PeerCertificate {
  return new PeerCertificate(new X509Certificate(pem), forward);
}

describe('client certificate identity', () => {
  test('subject and issuer in RFC 2253 order with escapes; CN unescaped; SANs by kind', () => {
    const id = identity(alice.cert);
    assert.equal(id.subject, 'CN=alice,O=Example\\, Inc,C=US');
    assert.equal(id.commonName, 'alice');
    assert.equal(id.issuer, 'CN=Unit CA A');
    assert.deepEqual(id.uris, ['spiffe://test/alice']);
    assert.deepEqual(id.dnsNames, ['alice.test', 'a;b.test']);
    assert.deepEqual(id.emails, ['alice@example.com']);
    assert.deepEqual(id.ipAddresses, ['10.0.0.1']);
    assert.equal(id.fingerprint, createHash('sha256').update(new X509Certificate(alice.cert).raw).digest('hex'));
    assert.match(id.serialNumber, /^[0-9A-F]+$/);
    assert.match(id.pem, /^-----BEGIN CERTIFICATE-----/);
  });

  test('XFCC: Hash, quoted Subject as RFC 2253 writes it, URI, DNS; values with ; quoted; off = empty', () => {
    const id = identity(alice.cert);
    assert.equal(id.forwardedHeader, `Hash=${id.fingerprint};Subject="CN=alice,O=Example\\, Inc,C=US";URI=spiffe://test/alice;DNS=alice.test;DNS="a;b.test"`);
    assert.equal(identity(alice.cert, false).forwardedHeader, '');
  });

  test('subjectAltName text: JSON-quoted values with commas, and an empty list', () => {
    assert.deepEqual(subjectAltNames('DNS:a.test, DNS:"b, c", URI:x:y'), [['DNS', 'a.test'], ['DNS', 'b, c'], ['URI', 'x:y']]);
    assert.deepEqual(subjectAltNames(''), []);
    assert.equal(rfc2253('C=US\nCN=x'), 'CN=x,C=US');
  });
});

function yaml(config = '{}', extra = ''): string {
  return `_format_version: "3.0"
consumers:
  - username: alice
  - username: other
    custom_id: carol-cid
  - username: anon
ca_certificates:
  - id: 11111111-1111-4111-8111-111111111111
    cert: |
${yamlBlock(caA.cert, 6)}
plugins:
  - name: mtls-auth
    config: ${config}
${extra}`;
}

describe('mtls-auth', () => {
  test('no verified certificate: Kong\'s 401 "No required TLS certificate was sent"', () => {
    const { instance } = pluginFromYaml(yaml(), 'mtls-auth');
    const ctx = new FakeContext();
    assert.equal(instance.onRequest!(ctx), Verdict.Stop);
    assert.equal(ctx.reply?.status, 401);
    assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'No required TLS certificate was sent' });
  });

  test('the CN names the consumer by username, then by custom_id; an unknown CN is 401 Unauthorized', () => {
    const { instance } = pluginFromYaml(yaml(), 'mtls-auth');
    const byName = new FakeContext({ clientCertificate: identity(alice.cert) });
    assert.equal(instance.onRequest!(byName), Verdict.Continue);
    assert.equal(byName.consumer?.username, 'alice');
    assert.equal(byName.credentialId, identity(alice.cert).fingerprint);
    const byCustomId = new FakeContext({ clientCertificate: identity(carol.cert) });
    assert.equal(instance.onRequest!(byCustomId), Verdict.Continue);
    assert.equal(byCustomId.consumer?.username, 'other');
    const unknown = new FakeContext({ clientCertificate: identity(nobody.cert) });
    assert.equal(instance.onRequest!(unknown), Verdict.Stop);
    assert.equal(unknown.reply?.status, 401);
    assert.deepEqual(JSON.parse(unknown.reply!.body), { message: 'Unauthorized' });
  });

  test('consumer_by [username] does not look at custom_id; skip_consumer_lookup passes any verified certificate', () => {
    const usernameOnly = pluginFromYaml(yaml('{ consumer_by: [username] }'), 'mtls-auth').instance;
    assert.equal(usernameOnly.onRequest!(new FakeContext({ clientCertificate: identity(carol.cert) })), Verdict.Stop);
    const skip = pluginFromYaml(yaml('{ skip_consumer_lookup: true }'), 'mtls-auth').instance;
    const ctx = new FakeContext({ clientCertificate: identity(nobody.cert) });
    assert.equal(skip.onRequest!(ctx), Verdict.Continue);
    assert.equal(ctx.consumer, null);
  });

  test('ca_certificates: a certificate of another CA is "TLS certificate failed verification"; anonymous takes over when set', () => {
    const { instance } = pluginFromYaml(yaml('{ ca_certificates: [11111111-1111-4111-8111-111111111111] }'), 'mtls-auth');
    assert.equal(instance.onRequest!(new FakeContext({ clientCertificate: identity(alice.cert) })), Verdict.Continue);
    const other = new FakeContext({ clientCertificate: identity(carol.cert) });
    assert.equal(instance.onRequest!(other), Verdict.Stop);
    assert.deepEqual(JSON.parse(other.reply!.body), { message: 'TLS certificate failed verification' });
    const anon = pluginFromYaml(yaml('{ ca_certificates: [11111111-1111-4111-8111-111111111111], anonymous: anon }'), 'mtls-auth').instance;
    const fallback = new FakeContext({ clientCertificate: identity(carol.cert) });
    assert.equal(anon.onRequest!(fallback), Verdict.Continue);
    assert.equal(fallback.consumer?.username, 'anon');
    assert.equal(fallback.anonymous, true);
  });

  test('an unknown ca_certificates id is refused when the plugin is built; STRICT revocation is refused by the schema', () => {
    assert.throws(() => pluginFromYaml(yaml('{ ca_certificates: [22222222-2222-4222-8222-222222222222] }'), 'mtls-auth'), /no ca_certificate with id "22222222/);
    assert.throws(() => pluginFromYaml(yaml('{ revocation_check_mode: STRICT }'), 'mtls-auth'), /revocation_check_mode/);
  });
});
