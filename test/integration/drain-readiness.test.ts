/**
 * Readiness on drain: SIGTERM while a slow request is in flight turns GET /ready into 503 (with
 * draining: true) while the admin listener stays up, /healthz stays 200, the slow request still
 * completes, and the process exits 0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

let up: EchoUpstream;
before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
});
after(async () => {
  await up.close();
  await agent.close();
});

test('SIGTERM turns /ready to 503 while a slow request drains, then the process exits 0', async () => {
  const gw = await startGateway({
    args: ['--drain-timeout', '20000'],
    config: `_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:${up.port}
    routes:
      - name: all
        paths: [/]
`,
  });
  try {
    const ready = await fetch(gw.adminUrl('/ready'));
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { draining: boolean }).draining, false);

    // The slow request must be in flight before SIGTERM: wait until a worker counts it.
    const slow = get(gw.url('/slow'), { headers: { 'x-echo-delay-ms': '2500' } });
    for (let i = 0; ; i++) {
      const status = (await (await fetch(gw.adminUrl('/status'))).json()) as { inFlight: number };
      if (status.inFlight === 1) break;
      assert.ok(i < 200, 'the slow request never showed up in flight');
      await sleep(10);
    }
    const from = gw.logs.length;
    gw.proc.kill('SIGTERM');
    await gw.waitForLog(/"msg":"draining"/, 10_000, from);

    const draining = await fetch(gw.adminUrl('/ready'));
    assert.equal(draining.status, 503);
    const body = (await draining.json()) as { ready: boolean; draining: boolean };
    assert.equal(body.ready, false);
    assert.equal(body.draining, true);
    assert.equal((await fetch(gw.adminUrl('/healthz'))).status, 200, 'liveness stays up while draining');
    const metrics = await (await fetch(gw.adminUrl('/metrics'))).text();
    assert.match(metrics, /^floodgate_draining 1$/m);

    const res = await slow;
    assert.equal(res.status, 200, 'the in-flight request completes during the drain');
    // The drain is over once the last request ended: the process exits by itself, with 0.
    const code = await new Promise<number | null>((resolve) => (gw.exitInfo() !== null ? resolve(gw.proc.exitCode) : gw.proc.once('exit', (c) => resolve(c))));
    assert.equal(code, 0);
  } finally {
    await gw.stop();
  }
});
