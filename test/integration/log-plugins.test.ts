/**
 * http-log and file-log through a real gateway (one worker, so one queue per plugin entry) and
 * real collectors: Kong's serializer format in batches, retries after a failing collector, and a
 * full queue that drops with a counter while requests keep flowing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startCollector, type Collector } from '../helpers/collector';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

let up: EchoUpstream;
let batches: Collector;
let flaky: Collector;
let stuck: Collector;
let gw: Gateway;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-file-log-'));
const perBatchFile = path.join(dir, 'per-batch.log');

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'http-log-up');
  batches = await startCollector();
  flaky = await startCollector({ failFirst: 2 });
  stuck = await startCollector({ hang: true });
  gw = await startGateway({
    workers: 1,
    config: `_format_version: "3.0"
services:
  - name: logged-svc
    url: http://127.0.0.1:${up.port}/base
    routes:
      - name: batched
        paths: [/batched]
        plugins:
          - name: http-log
            config:
              http_endpoint: http://collector-user:collector-pass@127.0.0.1:${batches.port}/ingest
              method: PUT
              headers: { x-collector-token: t0k3n }
              queue: { max_batch_size: 5, max_coalescing_delay: 1 }
      - name: flaky
        paths: [/flaky]
        plugins:
          - name: http-log
            config:
              http_endpoint: http://127.0.0.1:${flaky.port}/ingest
              queue: { initial_retry_delay: 0.05, max_retry_delay: 0.2 }
      - name: stuck
        paths: [/stuck]
        plugins:
          - name: http-log
            config:
              http_endpoint: http://127.0.0.1:${stuck.port}/ingest
              timeout: 60000
              queue: { max_entries: 2 }
      - name: correlated
        paths: [/correlated]
        plugins:
          - name: correlation-id
            config: { header_name: X-Correlation-ID, echo_downstream: true }
          - name: file-log
            config: { path: ${perBatchFile}, reopen: true }
`,
  });
});

after(async () => {
  await gw.stop();
  await Promise.all([batches.close(), flaky.close(), stuck.close(), up.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fileLines = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)) : []);

describe('file-log with reopen: true, and correlation-id', () => {
  test('the id goes upstream and back, is in the file-log entry, and a renamed file is replaced without a signal', async () => {
    const res = await get(gw.url('/correlated/one'));
    const id = res.headers['x-correlation-id'] as string;
    assert.match(id, /^[0-9a-f-]{36}#\d+$/);
    assert.equal(res.json<{ headers: Record<string, string> }>().headers['x-correlation-id'], id);
    const kept = await get(gw.url('/correlated/two'), { headers: { 'x-correlation-id': 'client-chosen' } });
    assert.equal(kept.headers['x-correlation-id'], 'client-chosen');
    await until(() => fileLines(perBatchFile).length === 2, 'two file-log lines');
    const byUri = new Map(fileLines(perBatchFile).map((e) => [e.request.uri, e]));
    assert.equal(byUri.get('/correlated/one').response.headers['x-correlation-id'], id);
    assert.equal(byUri.get('/correlated/two').request.headers['x-correlation-id'], 'client-chosen');
    assert.equal(byUri.get('/correlated/two').response.headers['x-correlation-id'], 'client-chosen');
    fs.renameSync(perBatchFile, perBatchFile + '.1');
    await get(gw.url('/correlated/three'));
    await until(() => fileLines(perBatchFile).length === 1, 'a new file with the next line');
    assert.equal(fileLines(perBatchFile)[0].request.uri, '/correlated/three');
    assert.equal(fileLines(perBatchFile + '.1').length, 2);
  });
});

describe('http-log', () => {
  test('sends batches in Kong log format to the endpoint, with its method, headers and userinfo auth', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await get(gw.url(`/batched/item-${i}?q=${i}`), { headers: { 'user-agent': 'log-test' } });
      assert.equal(res.status, 200);
      ids.push(res.headers['x-floodgate-request-id'] as string);
    }
    const entries = () => batches.requests.flatMap((r) => JSON.parse(r.body) as any[]);
    await batches.waitFor(() => entries().length === 12);
    for (const r of batches.requests) {
      assert.equal(r.method, 'PUT');
      assert.equal(r.url, '/ingest');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-collector-token'], 't0k3n');
      assert.equal(r.headers.authorization, 'Basic ' + Buffer.from('collector-user:collector-pass').toString('base64'));
      const batch = JSON.parse(r.body);
      assert.ok(Array.isArray(batch) && batch.length >= 1 && batch.length <= 5, `batch of 1..5, got ${r.body.length} bytes`);
    }
    assert.ok(batches.requests.length < 12, 'entries were coalesced into batches');
    const all = entries();
    assert.deepEqual(all.map((e) => e.request.id).sort(), [...ids].sort());
    const e = all.find((x) => x.request.uri === '/batched/item-3?q=3')!;
    assert.equal(e.request.method, 'GET');
    assert.equal(e.request.url, `http://127.0.0.1:${gw.port}/batched/item-3?q=3`);
    assert.deepEqual(e.request.querystring, { q: '3' });
    assert.equal(e.request.headers['user-agent'], 'log-test');
    assert.equal(e.upstream_uri, '/base/item-3?q=3');
    assert.equal(e.response.status, 200);
    assert.ok(e.response.size > 0);
    assert.equal(e.response.headers['x-upstream-name'], 'http-log-up');
    assert.equal(e.route.name, 'batched');
    assert.equal(e.service.name, 'logged-svc');
    assert.equal(e.client_ip, '127.0.0.1');
    assert.equal(e.tries[0].port, up.port);
    assert.equal(e.upstream_status, 200);
    assert.match(e.trace_id, /^[0-9a-f]{32}$/);
    for (const k of ['request', 'proxy', 'kong', 'receive']) assert.equal(typeof e.latencies[k], 'number');
    assert.ok(Math.abs(Date.now() - e.started_at) < 120_000);
  });

  test('a failing endpoint is retried until it accepts the entry', async () => {
    const res = await get(gw.url('/flaky/once'));
    assert.equal(res.status, 200);
    const id = res.headers['x-floodgate-request-id'];
    await flaky.waitFor((reqs) => reqs.some((r) => r.status === 200));
    assert.deepEqual(flaky.requests.map((r) => r.status), [500, 500, 200]);
    // A batch of one is a single object (Kong's max_batch_size 1), the same one on every attempt.
    for (const r of flaky.requests) assert.equal(JSON.parse(r.body).request.id, id);
  });

  test('a full queue drops entries and counts them; requests never wait for the endpoint', async () => {
    const from = gw.logs.length;
    for (let i = 0; i < 10; i++) {
      const res = await get(gw.url(`/stuck/${i}`));
      assert.equal(res.status, 200, 'the request is answered although its log entry cannot be sent');
    }
    const line = await gw.waitForLog(/http-log queue full; dropping entries/, 15_000, from);
    const report = JSON.parse(line);
    assert.ok(report.dropped >= 1);
    assert.match(report.queue, /^http-log:/);
    // One batch hangs in flight, two entries wait: the other seven are dropped, never buffered.
    await stuck.waitFor((reqs) => reqs.length === 1);
    assert.equal(JSON.parse(stuck.requests[0].body).request.uri, '/stuck/0');
  });
});
