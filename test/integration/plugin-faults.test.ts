/**
 * One exception policy for plugins (issue 12, part 4), through the real gateway with one worker:
 * a plugin that throws in each phase, synchronously or after an await, costs that request only.
 * The answer is Kong's 500 while no head went out (the connection is cut after that), the error is
 * logged once naming the plugin and the route, a throwing onLog does not stop the other log plugins,
 * and the same worker thread keeps serving (no uncaught error, no 'retiring').
 *
 * Regression: a throw after an await (a plugin after an async onRequest, or onUpstreamRequest
 * after one) escaped as an unhandled rejection, left the request unanswered and retired the worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

const KONG_500 = '{"message":"An unexpected error occurred"}';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-plugin-faults-'));
const logFile = path.join(dir, 'file-log.log');

let echo: EchoUpstream;
let gw: Gateway;
let workerTag = '';

function config(label: string): string {
  return `
_format_version: "3.0"
services:
  - name: echo
    url: http://127.0.0.1:${echo.port}
    routes:
      - name: faulty
        paths: [/faulty]
        plugins:
          - name: floodgate-fault
            config: { label: ${label} }
          - name: file-log
            config: { path: ${logFile} }
`;
}

before(async () => {
  echo = await startEchoUpstream(0, '127.0.0.1', 'echo');
  gw = await startGateway({ workers: 1, env: { FLOODGATE_FAULT_INJECTION: '1' }, config: config('first') });
  const first = await get(gw.url('/faulty/hello'));
  assert.equal(first.status, 200);
  workerTag = first.headers['x-fault-worker'] as string;
  assert.match(workerTag, /^\d+\/\d+$/);
});

after(async () => {
  if (gw?.exitInfo() === null) await gw.stop();
  await echo?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function failureLines(): string[] {
  return gw.logs.filter((l) => l.includes('plugin failed'));
}

/** The error of one request is logged once, with the plugin and the route. */
async function assertLoggedOnce(before: number, phase: string): Promise<void> {
  await gw.waitForLog(/plugin failed/, 5000, before);
  // A second line would come from the same turn or the next few: give it the chance to show.
  await new Promise((r) => setTimeout(r, 100));
  const lines = failureLines().slice(before);
  assert.equal(lines.length, 1, `one log line for a failure in ${phase}: ${lines.join('\n')}`);
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.plugin, 'floodgate-fault');
  assert.equal(entry.route, 'faulty');
  assert.equal(entry.phase, phase);
  assert.match(JSON.stringify(entry.err), /injected plugin fault/);
}

async function assertSameWorker(): Promise<void> {
  const res = await get(gw.url('/faulty/still-there'));
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-fault-worker'], workerTag, 'the same worker thread answers');
  assert.equal(gw.logs.filter((l) => /retiring|uncaught/.test(l)).length, 0, 'no worker retired');
}

describe('a plugin that throws', () => {
  const cases: { phase: string; async: boolean; logged: string }[] = [
    { phase: 'request', async: false, logged: 'onRequest' },
    { phase: 'request', async: true, logged: 'onRequest' },
    { phase: 'upstream-request', async: false, logged: 'onUpstreamRequest' },
    { phase: 'upstream-request', async: true, logged: 'onUpstreamRequest' },
    { phase: 'response', async: false, logged: 'onResponse' },
    { phase: 'response', async: true, logged: 'onResponse' },
  ];
  for (const c of cases) {
    test(`in ${c.logged}${c.async ? ' after an await' : ''}: Kong's 500, logged once, the worker stays`, async () => {
      const before = failureLines().length;
      const headers: Record<string, string> = { 'x-fault-phase': c.phase };
      if (c.async) headers['x-fault-async'] = '1';
      const res = await get(gw.url(`/faulty/${c.phase}`), { headers });
      assert.equal(res.status, 500);
      assert.equal(res.text, KONG_500);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      // Never reported as an upstream failure, even from onResponse.
      assert.doesNotMatch(gw.logs.slice(-5).join('\n'), /upstream error/);
      await assertLoggedOnce(before, c.logged);
      await assertSameWorker();
    });
  }

  test('in a response body filter: a 500 if the head had not gone out, else a cut connection; the worker stays', async () => {
    const before = failureLines().length;
    let outcome: string;
    try {
      const res = await get(gw.url('/faulty/body'), { headers: { 'x-fault-phase': 'response-body' } });
      assert.equal(res.status, 500);
      assert.equal(res.text, KONG_500);
      outcome = '500';
    } catch (err) {
      // The head was already flushed: the client sees a truncated response, never a 200 that looks whole.
      assert.ok(err instanceof Error);
      outcome = 'cut';
    }
    assert.ok(outcome === '500' || outcome === 'cut');
    await assertLoggedOnce(before, 'onResponseBody');
    await assertSameWorker();
  });

  test('in onLog: the client got its answer, the other log plugin still ran, the worker stays', async () => {
    const before = failureLines().length;
    const res = await get(gw.url('/faulty/log-phase'), { headers: { 'x-fault-phase': 'log' } });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).url, '/log-phase', 'strip_path: the upstream got the request');
    await assertLoggedOnce(before, 'onLog');
    // file-log runs after the failing plugin in the same phase.
    const deadline = Date.now() + 5000;
    let written = '';
    while (Date.now() < deadline) {
      written = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      if (written.includes('/faulty/log-phase')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(written, /\/faulty\/log-phase/);
    await assertSameWorker();
  });
});

describe('plugin close()', () => {
  const closed = (label: string): boolean => gw.logs.some((l) => l.includes('floodgate-fault closed') && l.includes(`"label":"${label}"`));

  test('an instance closes when its snapshot retires (a reload), and the current one when the worker drains', async () => {
    assert.equal(closed('first'), false, 'not closed while serving');
    await gw.reload(config('second'));
    await gw.waitForLog(/floodgate-fault closed.*"label":"first"/, 5000);
    assert.equal(closed('second'), false, 'the new snapshot stays open');
    const res = await get(gw.url('/faulty/after-reload'));
    assert.equal(res.status, 200);
    assert.equal(await gw.stop('SIGTERM'), 0);
    assert.ok(closed('second'), 'the serving snapshot closed at the drain');
    assert.equal(gw.logs.filter((l) => l.includes('floodgate-fault closed') && l.includes('"label":"first"')).length, 1, 'closed once');
  });
});
