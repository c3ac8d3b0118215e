/**
 * The Kong-format fixture set (test/fixtures/kong/): every good file loads, and every file in
 * bad/ fails at the line, entity, field and message its first line announces:
 *   # expect: LINE | ENTITY | FIELD | MESSAGE (a substring of the error message)
 * Certificates and keys reach the fixtures through the env vault; this test generates them.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile, type LoadResult } from '../../src/config/load';
import { generateTestCerts } from '../helpers/test-certs';

const DIR = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'kong');
const BAD = path.join(DIR, 'bad');

before(() => {
  const c = generateTestCerts();
  Object.assign(process.env, {
    FG_KONG_RSA_CERT: c.rsa.cert,
    FG_KONG_RSA_KEY: c.rsa.key,
    FG_KONG_EC_CERT: c.ec.cert,
    FG_KONG_EC_KEY: c.ec.key,
    FG_KONG_OTHER_CERT: c.otherRsa.cert,
    FG_KONG_OTHER_KEY: c.otherRsa.key,
    FG_KONG_CA_CERT: c.ca.cert,
    FG_KONG_ALICE_KEY: 'alice-key-from-env',
  });
});

function loadOk(name: string): Extract<LoadResult, { ok: true }> {
  const result = loadConfigFile(path.join(DIR, name));
  if (!result.ok) assert.fail(`${name}:\n${result.errors.map((e) => `${e.line}: ${e.entity}: ${e.field}: ${e.message}`).join('\n')}`);
  return result;
}

test('every good fixture loads', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') || f.endsWith('.json'));
  assert.ok(files.length >= 8, `fixtures found: ${files.join(', ')}`);
  for (const f of files) loadOk(f);
});

test('format-1.1.yaml: regex paths gain "~", plain ones are decoded, one warning', () => {
  const { config, warnings } = loadOk('format-1.1.yaml');
  assert.deepEqual(config.routes.map((r) => [r.name, r.paths]), [
    ['plain', ['/api/v1/users', '/cafe']],
    ['regex', ['~/orders/\\d+$', '~/items/(?<id>[a-z]+)']],
    ['top-regex', ['~/files/.*\\.png']],
  ]);
  assert.deepEqual(warnings.map((w) => [w.line, w.field]), [[2, '_format_version']]);
});

test('format-2.1.yaml and format-3.0.yaml', () => {
  assert.deepEqual(loadOk('format-2.1.yaml').config.routes[0].paths, ['~/invoices/(?<year>\\d{4})/', '/billing']);
  const modern = loadOk('format-3.0.yaml');
  assert.deepEqual(modern.config.routes[0].paths, ['~/orders/\\d+$', '/plain']);
  assert.deepEqual(modern.warnings, []);
});

test('entities.yaml: every entity, with comments, tags, vault references and certificates', () => {
  const { config, warnings } = loadOk('entities.yaml');
  assert.deepEqual(warnings, []);
  const users = config.services.find((s) => s.name === 'users')!;
  assert.deepEqual([users.protocol, users.host, users.port, users.path], ['http', '127.0.0.1', 9101, '/users'], 'url overrides the separate fields');
  assert.equal(config.services.find((s) => s.name === 'shop')!.upstream, 'shop-upstream');
  assert.deepEqual(config.upstreams[0].targets.map((t) => t.target), ['127.0.0.1:9201', '127.0.0.1:9202']);
  assert.equal(config.credentials.keyauth[0].key, 'alice-key-from-env');
  const byName = (n: string) => config.plugins.filter((p) => p.name === n);
  assert.deepEqual(byName('rate-limiting').map((p) => [p.instanceName, p.route, p.consumer]), [['users-limit', 'users-route', null], [null, null, 'alice']]);
  assert.deepEqual(byName('cors').map((p) => [p.enabled, p.protocols]), [[false, ['https']]]);
  assert.deepEqual(config.certificates.map((c) => [c.snis, c.certAlt !== null]), [
    [['api.example.com', '*.example.org'], true],
    [['example.*'], false],
  ]);
  assert.equal(config.certificates[0].cert, process.env.FG_KONG_RSA_CERT);
  assert.equal(config.caCertificates.length, 1);
  for (const e of [...config.services, ...config.routes, ...config.upstreams, ...config.consumers, ...config.certificates, ...config.caCertificates]) {
    assert.ok(e.tags.includes('team-a'), `tags kept on ${e.id}`);
  }
});

test('deprecated-fields.yaml: mapped to successors with one warning per plugin entry', () => {
  const { config, warnings } = loadOk('deprecated-fields.yaml');
  const rl = config.plugins.find((p) => p.name === 'rate-limiting')!.config as { redis: Record<string, unknown> };
  assert.deepEqual([rl.redis.host, rl.redis.port, rl.redis.database, rl.redis.timeout], ['127.0.0.1', 6380, 2, 1500]);
  const log = config.plugins.find((p) => p.name === 'http-log')!.config as { queue: Record<string, unknown> };
  assert.deepEqual([log.queue.max_batch_size, log.queue.max_coalescing_delay], [20, 5]);
  assert.deepEqual(warnings.map((w) => [w.line, w.entity]), [[10, 'plugins[0] (name "rate-limiting")'], [21, 'plugins[1] (name "http-log")']]);
  assert.ok(warnings.every((w) => !w.message.includes('s3cret-pass')), 'warnings name fields, never values');
});

test('null-fields.yaml: null means the default', () => {
  const { config } = loadOk('null-fields.yaml');
  const ip = config.plugins.find((p) => p.name === 'ip-restriction')!;
  assert.deepEqual([ip.config.status, ip.config.deny, ip.route], [403, null, null]);
  assert.equal(config.routes[0].httpsRedirectStatusCode, 426);
  assert.equal(config.upstreams[0].healthchecks.active.https_sni, null);
});

test('kong.json: a 2.1 JSON file is migrated, with nulls, comments and url overriding host', () => {
  const { config, warnings } = loadOk('kong.json');
  assert.deepEqual(config.routes[0].paths, ['~/json/(?<id>\\d+)', '/json-plain']);
  assert.equal(config.services[0].host, '127.0.0.1');
  assert.deepEqual([config.plugins[0].instanceName, config.plugins[0].config.status], ['json-ip', 403]);
  assert.deepEqual(warnings.map((w) => w.line), [2]);
});

test('deck-dump.yaml: a decK dump with every default spelled out loads without warnings', () => {
  const { config, warnings } = loadOk('deck-dump.yaml');
  assert.deepEqual(warnings, []);
  assert.equal(config.services[0].upstream, 'httpbin.internal');
  assert.deepEqual(config.plugins.map((p) => p.name), ['key-auth', 'http-log', 'rate-limiting']);
});

interface Expectation {
  readonly line: number;
  readonly entity: string;
  readonly field: string;
  readonly message: string;
}

function expectationOf(file: string): Expectation {
  const first = readFileSync(file, 'utf8').split('\n')[0];
  const m = /^# expect: (\d+) \| (.*?) \| (.*?) \| (.+)$/.exec(first);
  if (m === null) assert.fail(`${file}: first line must be "# expect: LINE | ENTITY | FIELD | MESSAGE"`);
  return { line: Number(m[1]), entity: m[2], field: m[3], message: m[4] };
}

for (const name of readdirSync(BAD).filter((f) => f.endsWith('.yaml')).sort()) {
  test(`bad/${name} fails where it says`, () => {
    const file = path.join(BAD, name);
    const want = expectationOf(file);
    const result = loadConfigFile(file);
    if (result.ok) assert.fail(`${name} loaded`);
    const e = result.errors[0];
    const all = result.errors.map((x) => `${x.line}: ${x.entity}: ${x.field}: ${x.message}`).join('\n');
    assert.equal(result.errors.length, 1, `exactly one error expected:\n${all}`);
    assert.deepEqual([e.line, e.entity, e.field], [want.line, want.entity, want.field], all);
    assert.ok(e.message.includes(want.message), `message "${e.message}" should contain "${want.message}"`);
  });
}
