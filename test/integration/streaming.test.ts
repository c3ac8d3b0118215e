/**
 * 1 GiB up and 1 GiB down through the gateway with bounded memory: bodies stream with
 * backpressure both ways, nothing is buffered whole. RSS of the gateway process is sampled from
 * /proc while the transfer runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent } from '../helpers/http';

const GIB = 1024 * 1024 * 1024;
/** Far below 1 GiB: a proxy that buffered a body whole would blow through it. */
const RSS_GROWTH_LIMIT = 160 * 1024 * 1024;

let up: EchoUpstream;
let gw: Gateway;

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  return kb * 1024;
}

function sampleRss(pid: number): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid));
    },
  };
}

function generatedBody(total: number): Readable {
  const chunk = Buffer.alloc(256 * 1024, 'u');
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'bulk');
  gw = await startGateway({
    config: `_format_version: "3.0"
services:
  - name: bulk
    url: http://127.0.0.1:${up.port}
    routes:
      - name: bulk
        paths: [/bulk]
  - name: stalled
    url: http://127.0.0.1:${up.port}
    write_timeout: 500
    routes:
      - name: stalled
        paths: [/stalled]
`,
    workers: 2,
  });
});

after(async () => {
  await gw?.stop();
  await up?.close();
  await agent.close();
});

test('1 GiB download streams with bounded gateway memory', async () => {
  const baseline = rssBytes(gw.proc.pid!);
  const rss = sampleRss(gw.proc.pid!);
  const res = await request(gw.url('/bulk/down'), { dispatcher: agent, headers: { 'x-echo-body-bytes': String(GIB) } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-length'], String(GIB));
  let received = 0;
  for await (const chunk of res.body) received += (chunk as Buffer).length;
  const peak = rss.stop();
  assert.equal(received, GIB);
  assert.ok(peak - baseline < RSS_GROWTH_LIMIT, `RSS grew by ${((peak - baseline) / 1048576).toFixed(1)} MiB`);
});

test('1 GiB chunked upload streams with bounded gateway memory', async () => {
  const baseline = rssBytes(gw.proc.pid!);
  const rss = sampleRss(gw.proc.pid!);
  const res = await request(gw.url('/bulk/up'), { dispatcher: agent, method: 'POST', body: generatedBody(GIB) });
  const body = (await res.body.json()) as { bodyBytes: number; headers: Record<string, string> };
  const peak = rss.stop();
  assert.equal(res.statusCode, 200);
  assert.equal(body.bodyBytes, GIB);
  assert.ok(peak - baseline < RSS_GROWTH_LIMIT, `RSS grew by ${((peak - baseline) / 1048576).toFixed(1)} MiB`);
});

test('a sized upload keeps its Content-Length upstream', async () => {
  const size = 8 * 1024 * 1024;
  const res = await request(gw.url('/bulk/sized'), {
    dispatcher: agent,
    method: 'PUT',
    headers: { 'content-length': String(size) },
    body: generatedBody(size),
  });
  const body = (await res.body.json()) as { bodyBytes: number; headers: Record<string, string> };
  assert.equal(body.bodyBytes, size);
  assert.equal(body.headers['content-length'], String(size));
  assert.equal(body.headers['transfer-encoding'], undefined);
});

  test('an upstream that stops reading the body: 504 after write_timeout', async () => {
    let sent = 0;
    const chunk = Buffer.alloc(256 * 1024, 'w');
    const started = Date.now();
    const body = new Readable({
      read() {
        // Bounded: stop after 1 GiB in case backpressure never builds.
        if (sent >= 1 << 30) return void this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const res = await request(gw.url('/stalled'), { dispatcher: agent, method: 'POST', body, headers: { 'x-echo-stall-body': '1' } });
    const text = await res.body.text();
    body.destroy();
    assert.equal(res.statusCode, 504);
    assert.match(JSON.parse(text).message, /write_timeout/);
    assert.ok(Date.now() - started < 10_000);
  });

