/**
 * The admin listener: liveness, readiness, status, bearer-token protection and unknown paths.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent } from '../helpers/http';

let up: EchoUpstream;
let gw: Gateway;
const TOKEN = 's3cret-admin-token';

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
  gw = await startGateway({
    config: `_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:${up.port}
    routes:
      - name: all
        paths: [/]
`,
    env: { FLOODGATE_ADMIN_TOKEN: TOKEN },
  });
});
after(async () => {
  await gw?.stop();
  await up.close();
  await agent.close();
});

async function admin(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(gw.adminUrl(path), init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}
const auth = { headers: { authorization: `Bearer ${TOKEN}` } };

describe('admin API', () => {
  test('/healthz and /ready answer without a token', async () => {
    assert.equal((await admin('/healthz')).status, 200);
    const ready = await admin('/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.ready, true);
    assert.equal(ready.body.workersListening, 2);
  });

  test('other endpoints need the bearer token', async () => {
    const denied = await admin('/status');
    assert.equal(denied.status, 401);
    assert.match(denied.body.message, /Bearer/);
    assert.equal((await admin('/status', { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const ok = await admin('/status', auth);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.configVersion, 1);
    assert.equal(ok.body.workers.length, 2);
  });

  test('GET / answers as Kong does: node info, version, and the plugins available and enabled', async () => {
    assert.equal((await admin('/')).status, 401, 'the token guards it like the other endpoints');
    const root = await admin('/', auth);
    assert.equal(root.status, 200);
    const pkg = require('../../../package.json') as { version: string };
    assert.equal(root.body.version, pkg.version);
    assert.match(root.body.node_id, /^[0-9a-f-]{36}$/);
    assert.equal(typeof root.body.hostname, 'string');
    assert.equal(root.body.configuration.database, 'off');
    assert.equal(root.body.configuration.proxy_listeners[0].port, gw.port);
    assert.match(root.body.configuration.uwebsockets, /^20\.57\.0 /);
    assert.equal(root.body.plugins.available_on_server['key-auth'].priority, 1250);
    assert.ok(Object.keys(root.body.plugins.available_on_server).includes('rate-limiting'));
    assert.deepEqual(root.body.plugins.enabled_in_cluster, []);
  });

  test('unknown paths get 404 and wrong methods 405 with Allow', async () => {
    assert.equal((await admin('/nope', auth)).status, 404);
    const wrong = await admin('/status', { method: 'DELETE', ...auth });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
  });
});
