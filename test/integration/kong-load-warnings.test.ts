/**
 * A Kong file that loads with warnings (a pre-3.0 format whose regex paths get Kong 3's `~`,
 * deprecated plugin fields) serves, and the warnings reach the operator: in the log at start and on
 * SIGHUP, and in POST /config's answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

let up: EchoUpstream;
let gw: Gateway;
const TOKEN = 'warnings-test-token';

function legacyFile(): string {
  // Format 2.1: `/users/\d+` has a regex character, so Kong 3 reads it as `~/users/\d+`.
  return `_format_version: "2.1"
services:
  - name: users
    url: http://127.0.0.1:${up.port}/svc
    routes:
      - name: user-by-id
        paths: ['/users/\\d+$']
`;
}

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
  gw = await startGateway({ config: legacyFile(), env: { FLOODGATE_ADMIN_TOKEN: TOKEN } });
});
after(async () => {
  await gw?.stop();
  await up.close();
  await agent.close();
});

describe('Kong files that load with warnings', () => {
  test('a 2.1 file starts, its regex path is migrated and matches, and the start log says so', async () => {
    const line = await gw.waitForLog(/config loaded with warnings/, 5_000);
    assert.match(line, /_format_version.*1 regex route path prefixed with/);
    const hit = await get(gw.url('/users/42'));
    assert.equal(hit.status, 200);
    assert.equal((await get(gw.url('/users/abc'))).status, 404, 'the path is a regex now, not a prefix');
  });

  test('SIGHUP with the same file logs the warnings again and keeps serving', async () => {
    const from = gw.logs.length;
    await gw.reload(legacyFile());
    await gw.waitForLog(/config reload loaded with warnings/, 5_000, from);
    assert.equal((await get(gw.url('/users/7'))).status, 200);
  });

  test('POST /config with a deprecated rate-limiting field answers 201 and lists the warning', async () => {
    const body = `_format_version: "3.0"
services:
  - name: users
    url: http://127.0.0.1:${up.port}/svc
    routes:
      - name: all
        paths: [/]
        plugins:
          - name: rate-limiting
            config: { minute: 1000, policy: local, redis_timeout: 2000 }
`;
    const res = await fetch(gw.adminUrl('/config'), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-yaml' }, body });
    const json = (await res.json()) as { warnings: { field: string; message: string; line: number }[] };
    assert.equal(res.status, 201);
    assert.ok(json.warnings.length >= 1, JSON.stringify(json));
    assert.ok(json.warnings.some((w) => /redis_timeout/.test(`${w.field} ${w.message}`)), JSON.stringify(json.warnings));
    assert.equal(json.warnings[0].line, 9, 'located at the plugin entry');
  });
});
