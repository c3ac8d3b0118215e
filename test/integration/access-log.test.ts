/**
 * The access log and request identity through a real 2-worker gateway: every field of the JSON
 * line, the request id sent both ways, trace ids, sampling that keeps errors, and SIGUSR1
 * reopening the access log and file-log files after a logrotate-style rename without losing a line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

let up: EchoUpstream;

function config(extra = ''): string {
  return `_format_version: "3.0"
consumers:
  - id: 0b5c6a3e-1111-4a1a-9a1a-000000000001
    username: alice
    keyauth_credentials:
      - key: alice-key
services:
  - name: echo-svc
    url: http://127.0.0.1:${up.port}
    routes:
      - name: open-route
        paths: [/open]
      - name: auth-route
        paths: [/auth]
        plugins:
          - name: key-auth
${extra}`;
}

function lines(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'log-up');
});

after(async () => {
  await up.close();
});

describe('access log fields', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ config: config(), workers: 2, args: ['--access-log', 'stdout'] });
  });
  after(async () => {
    await gw.stop();
  });

  const accessLines = () => gw.out.map((l) => JSON.parse(l) as Record<string, any>);

  test('one JSON line per request with route, service, consumer, upstream, latencies, ids', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await get(gw.url('/auth/items?x=1&apikey=alice-key'), {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-floodgate-request-id': 'spoofed' },
    });
    assert.equal(res.status, 200);
    const requestId = res.headers['x-floodgate-request-id'] as string;
    assert.match(requestId, /^[0-9a-f]{12}-[0-9a-f]+$/);
    // The upstream sees the gateway's id, never the client's copy.
    const echoed = res.json<{ headers: Record<string, string> }>().headers;
    assert.equal(echoed['x-floodgate-request-id'], requestId);
    await until(() => accessLines().some((l) => l.request_id === requestId), 'the access log line');
    const line = accessLines().find((l) => l.request_id === requestId)!;
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/auth/items');
    assert.equal(line.query, 'x=1&apikey=[REDACTED]');
    assert.equal(line.status, 200);
    assert.equal(line.route, 'auth-route');
    assert.equal(line.service, 'echo-svc');
    assert.deepEqual(line.consumer, { id: '0b5c6a3e-1111-4a1a-9a1a-000000000001', username: 'alice' });
    assert.equal(line.upstream, `127.0.0.1:${up.port}`);
    assert.equal(line.upstream_status, 200);
    assert.equal(line.trace_id, traceId);
    assert.equal(line.client, '127.0.0.1');
    assert.equal(line.error, null);
    assert.equal(line.config_version, 1);
    assert.equal(line.bytes_out, Buffer.byteLength(res.text));
    assert.equal(typeof line.latencies.request, 'number');
    assert.ok(line.latencies.request >= line.latencies.proxy, 'total covers the upstream time');
    assert.ok(Math.abs(line.latencies.kong - (line.latencies.request - line.latencies.proxy)) < 0.01);
    assert.ok(line.worker === 1 || line.worker === 2);
  });

  test('a local error has its code, no upstream, and the request id header', async () => {
    const res = await get(gw.url('/auth/nokey'));
    assert.equal(res.status, 401);
    const requestId = res.headers['x-floodgate-request-id'] as string;
    assert.ok(requestId);
    await until(() => accessLines().some((l) => l.request_id === requestId), 'the 401 line');
    const line = accessLines().find((l) => l.request_id === requestId)!;
    assert.equal(line.status, 401);
    assert.equal(line.upstream, null);
    assert.equal(line.upstream_status, null);
    assert.equal(line.consumer, null);
    assert.equal(line.latencies.proxy, 0);
  });

  test('no route: 404 line with the gateway error code and a fresh trace id', async () => {
    const res = await get(gw.url('/nowhere'));
    assert.equal(res.status, 404);
    const requestId = res.headers['x-floodgate-request-id'] as string;
    await until(() => accessLines().some((l) => l.request_id === requestId), 'the 404 line');
    const line = accessLines().find((l) => l.request_id === requestId)!;
    assert.equal(line.route, null);
    assert.equal(typeof line.error, 'string');
    assert.match(line.trace_id, /^[0-9a-f]{32}$/);
  });
});

describe('--access-log-sample', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ config: config(), workers: 2, args: ['--access-log', 'stdout', '--access-log-sample', '0', '--request-id-header', 'X-Req'] });
  });
  after(async () => {
    await gw.stop();
  });

  test('rate 0 drops successes but keeps every error', async () => {
    const ok: string[] = [];
    for (let i = 0; i < 10; i++) ok.push((await get(gw.url(`/open/${i}`))).headers['x-req'] as string);
    const failed: string[] = [];
    for (let i = 0; i < 5; i++) failed.push((await get(gw.url(`/auth/${i}`))).headers['x-req'] as string);
    const upstreamError = await get(gw.url('/open/err'), { headers: { 'x-echo-status': '503' } });
    assert.equal(upstreamError.status, 503);
    failed.push(upstreamError.headers['x-req'] as string);
    const ids = () => gw.out.map((l) => JSON.parse(l).request_id as string);
    await until(() => failed.every((id) => ids().includes(id)), 'every error line');
    assert.ok(ok.every((id) => typeof id === 'string' && id !== ''), 'the configured request id header is sent');
    assert.deepEqual(ok.filter((id) => ids().includes(id)), [], 'successes are sampled out');
  });
});

describe('SIGUSR1 reopens log files (logrotate)', () => {
  let gw: Gateway;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-logs-'));
    const extra = `plugins:
  - name: file-log
    config:
      path: ${path.join(dir, 'plugin.log')}
`;
    gw = await startGateway({ config: config(extra), workers: 2, args: ['--access-log', path.join(dir, 'access.log')] });
  });
  after(async () => {
    await gw.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('after a rename and SIGUSR1 new lines land in the new files and no line is lost', async () => {
    const access = path.join(dir, 'access.log');
    const plugin = path.join(dir, 'plugin.log');
    const send = async (phase: string, n: number) => {
      await Promise.all(Array.from({ length: n }, (_, i) => get(gw.url(`/open/${phase}-${i}`)).then((r) => assert.equal(r.status, 200))));
    };
    await send('before', 30);
    // Rename while some lines may still sit in the workers' buffers, as logrotate would.
    await until(() => lines(access).length > 0 && lines(plugin).length > 0, 'both log files to have lines');
    fs.renameSync(access, access + '.1');
    fs.renameSync(plugin, plugin + '.1');
    const from = gw.logs.length;
    gw.proc.kill('SIGUSR1');
    await gw.waitForLog(/"msg":"log files reopened"/, 15_000, from);
    await until(() => gw.logs.slice(from).filter((l) => l.includes('"msg":"log files reopened"')).length === 2, 'both workers to reopen');
    await send('after', 30);
    assert.equal(await gw.stop(), 0);

    for (const [file, pathOf] of [
      [access, (l: any) => l.path as string],
      [plugin, (l: any) => l.request.uri as string],
    ] as const) {
      const oldLines = lines(file + '.1').map((l) => pathOf(JSON.parse(l)));
      const newLines = lines(file).map((l) => pathOf(JSON.parse(l)));
      const all = [...oldLines, ...newLines].sort();
      const expected = [...Array.from({ length: 30 }, (_, i) => `/open/before-${i}`), ...Array.from({ length: 30 }, (_, i) => `/open/after-${i}`)].sort();
      assert.deepEqual(all, expected, `${path.basename(file)}: every request exactly once across both files`);
      assert.ok(oldLines.length > 0, `${path.basename(file)}: the renamed file kept the early lines`);
      for (let i = 0; i < 30; i++) assert.ok(newLines.includes(`/open/after-${i}`), `${path.basename(file)}: line after reopen is in the new file`);
    }
  });
});
