/**
 * The admin API's config endpoints: POST /config (Kong DB-less semantics) good and bad, GET
 * /config with secrets redacted, secrets never in responses or in the gateway's logs, the compiled
 * views (/routes, /services, /upstreams), and a later SIGHUP going back to the file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

let blue: EchoUpstream;
let green: EchoUpstream;
let gw: Gateway;
const TOKEN = 'admin-token-for-config-tests';
const auth = { authorization: `Bearer ${TOKEN}` };

const KEY_SECRET = 'k3y-secret-value-0001';
const PASSWORD_SECRET = 'basic-password-value-0002';
const JWT_SECRET = 'jwt-hmac-secret-value-0003';
const SECRETS = [KEY_SECRET, PASSWORD_SECRET, JWT_SECRET];

function fileConfig(): string {
  return `_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:${blue.port}
    routes:
      - name: all
        paths: [/]
`;
}

function securedConfig(): string {
  return `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials:
      - key: ${KEY_SECRET}
    basicauth_credentials:
      - username: alice
        password: ${PASSWORD_SECRET}
    jwt_secrets:
      - key: alice-iss
        secret: ${JWT_SECRET}
upstreams:
  - name: pool
    targets:
      - target: 127.0.0.1:${green.port}
        weight: 30
      - target: 127.0.0.1:${blue.port}
        weight: 10
services:
  - name: green-svc
    url: http://127.0.0.1:${green.port}
    routes:
      - name: keyed
        paths: [/keyed]
        plugins:
          - name: key-auth
      - name: green-all
        paths: [/]
  - name: pooled
    host: pool
    routes:
      - name: pooled-route
        paths: [/pooled]
        methods: [GET]
`;
}

before(async () => {
  blue = await startEchoUpstream(0, '127.0.0.1', 'blue');
  green = await startEchoUpstream(0, '127.0.0.1', 'green');
  gw = await startGateway({ config: fileConfig(), env: { FLOODGATE_ADMIN_TOKEN: TOKEN } });
});
after(async () => {
  await gw?.stop();
  await blue.close();
  await green.close();
  await agent.close();
});

async function admin(path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string; body: any }> {
  const res = await fetch(gw.adminUrl(path), { method: init.method ?? 'GET', body: init.body, headers: { ...auth, ...init.headers } });
  const text = await res.text();
  return { status: res.status, text, body: text === '' ? null : JSON.parse(text) };
}

async function upstreamName(path: string): Promise<string> {
  const res = await get(gw.url(path));
  assert.equal(res.status, 200, res.text);
  return res.json().name;
}

function assertNoSecret(text: string, where: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${where} contains a secret`);
}

describe('POST /config', () => {
  test('needs the admin token', async () => {
    const res = await fetch(gw.adminUrl('/config'), { method: 'POST', body: fileConfig() });
    assert.equal(res.status, 401);
    assert.equal(await upstreamName('/x'), 'blue');
  });

  test('a bad config gets 400 naming the field and the line, and the old config keeps serving', async () => {
    const bad = fileConfig().replace('        paths: [/]', '        paths: [/]\n        methods: [G E T]') + 'upstreams:\n  - name: u\n    targets:\n      - target: 127.0.0.1:1\n        weight: -5\n';
    const res = await admin('/config', { method: 'POST', body: bad, headers: { 'content-type': 'application/x-yaml' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'declarative config is invalid');
    const fields = res.body.errors.map((e: any) => `${e.field}@${e.line}`);
    assert.ok(fields.some((f: string) => /^methods/.test(f) && f.endsWith('@8')), `no methods error at line 8: ${fields}`);
    assert.ok(fields.some((f: string) => /^weight/.test(f) && f.endsWith('@13')), `no weight error at line 13: ${fields}`);
    assert.equal((await admin('/status')).body.configVersion, 1);
    assert.equal(await upstreamName('/x'), 'blue');
  });

  test('unparsable YAML and an empty body are 400s too', async () => {
    const syntax = await admin('/config', { method: 'POST', body: '_format_version: "3.0"\nservices: [\n', headers: { 'content-type': 'text/yaml' } });
    assert.equal(syntax.status, 400);
    assert.ok(syntax.body.errors[0].line >= 2, JSON.stringify(syntax.body));
    assert.equal((await admin('/config', { method: 'POST', body: '' })).status, 400);
    assert.equal(await upstreamName('/x'), 'blue');
  });

  test('a good config (YAML) is applied to every worker before the 201', async () => {
    const res = await admin('/config', { method: 'POST', body: securedConfig(), headers: { 'content-type': 'application/x-yaml' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.configVersion, 2);
    assertNoSecret(res.text, 'the POST answer');
    // Both workers run it: every request, whichever worker takes it, goes to green.
    for (let i = 0; i < 8; i++) assert.equal(await upstreamName(`/x${i}`), 'green');
    assert.equal((await get(gw.url('/keyed'))).status, 401);
    assert.equal((await get(gw.url('/keyed'), { headers: { apikey: KEY_SECRET } })).status, 200);
    const status = await admin('/status');
    assert.equal(status.body.configVersion, 2);
    for (const w of status.body.workers) assert.equal(w.configVersion, 2);
  });

  test('GET /config shows the running config with every secret redacted', async () => {
    const res = await admin('/config');
    assert.equal(res.status, 200);
    assert.equal(res.body.configVersion, 2);
    assertNoSecret(res.text, 'GET /config');
    assert.equal(res.body.config.credentials.keyauth[0].key, '[REDACTED]');
    assert.equal(res.body.config.credentials.jwt[0].secret, '[REDACTED]');
    assert.equal(res.body.config.credentials.basicauth[0].passwordHash, '[REDACTED]');
    assert.equal(res.body.config.credentials.basicauth[0].username, 'alice');
    assert.deepEqual(res.body.config.services.map((s: any) => s.name), ['green-svc', 'pooled']);
  });

  test('/routes, /services and /upstreams show the compiled view', async () => {
    const routes = (await admin('/routes')).body.data;
    // Evaluation order: the longer prefixes before "/".
    assert.deepEqual(routes.map((r: any) => r.name), ['pooled-route', 'keyed', 'green-all']);
    assert.deepEqual(routes.map((r: any) => r.rank), [0, 1, 2]);
    assert.equal(routes[0].service.name, 'pooled');
    assert.deepEqual(routes[0].methods, ['GET']);
    assert.equal(typeof routes[0].priority, 'string');
    const services = (await admin('/services')).body.data;
    const pooled = services.find((s: any) => s.name === 'pooled');
    assert.equal(pooled.upstream, 'pool');
    assert.deepEqual(pooled.targets, [{ target: `127.0.0.1:${green.port}`, weight: 30 }, { target: `127.0.0.1:${blue.port}`, weight: 10 }]);
    assert.deepEqual(services.find((s: any) => s.name === 'green-svc').routes, ['keyed', 'green-all']);
    const upstreams = (await admin('/upstreams')).body.data;
    assert.equal(upstreams.length, 1);
    assert.deepEqual(upstreams[0].targets.map((t: any) => [t.weight, t.share]), [[30, 0.75], [10, 0.25]]);
    assert.deepEqual(upstreams[0].services, ['pooled']);
  });

  test('Kong\'s {"config": "..."} JSON form and a plain JSON document are accepted', async () => {
    const wrapped = await admin('/config', { method: 'POST', body: JSON.stringify({ config: fileConfig() }), headers: { 'content-type': 'application/json' } });
    assert.equal(wrapped.status, 201, wrapped.text);
    assert.equal(await upstreamName('/x'), 'blue');
    const doc = {
      _format_version: '3.0',
      services: [{ name: 'g', url: `http://127.0.0.1:${green.port}`, routes: [{ name: 'r', paths: ['/'] }] }],
    };
    const plain = await admin('/config', { method: 'POST', body: JSON.stringify(doc, null, 2), headers: { 'content-type': 'application/json' } });
    assert.equal(plain.status, 201, plain.text);
    assert.equal(plain.body.configVersion, 4);
    assert.equal(await upstreamName('/x'), 'green');
  });

  test('a rejected config with secrets in it does not echo them', async () => {
    const bad = securedConfig().replace('        weight: 30', '        weight: 30\n        bogus_field: 1');
    const res = await admin('/config', { method: 'POST', body: bad });
    assert.equal(res.status, 400);
    assertNoSecret(res.text, 'the 400 answer');
    assert.equal(await upstreamName('/x'), 'green');
  });

  test('no secret ever reached the gateway\'s logs', () => {
    assert.ok(gw.logs.some((l) => l.includes('POST /config rejected')), 'the rejections are logged');
    assertNoSecret(gw.logs.join('\n'), 'stderr');
    assertNoSecret(gw.out.join('\n'), 'stdout');
  });

  test('a later SIGHUP reloads the file on disk', async () => {
    await gw.reload(fileConfig());
    assert.equal(await upstreamName('/x'), 'blue');
    const status = await admin('/status');
    assert.equal(status.body.configVersion, 5);
  });
});
