/**
 * A fast client uploads a large chunked body to an upstream that reads it slowly. The gateway
 * must hold the client back (pause) rather than buffer the difference. On uWS v20.57 a pause
 * inside onData is ignored while each socket read fills uWS's 512 KiB buffer
 * (test/conformance/uws-issues/pause-after-resume.js), so without RequestBody's spill to disk the
 * gateway's RSS grows by hundreds of MiB here; the body must also arrive intact and in order,
 * which the SHA-256 on both ends checks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent } from '../helpers/http';

const MIB = 1024 * 1024;
const BODY_BYTES = 256 * MIB;
/** The upstream takes at most this many bytes per 10 ms tick (~50 MiB/s). */
const UPSTREAM_BYTES_PER_TICK = 512 * 1024;
/** A gateway that buffered what the slow upstream had not yet taken would grow by far more. */
const RSS_GROWTH_LIMIT = 96 * MIB;

let upstream: http.Server;
let gw: Gateway;

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

/** Reads the body at a capped rate and answers with its size and SHA-256. */
function slowReader(req: http.IncomingMessage, res: http.ServerResponse): void {
  const hash = createHash('sha256');
  let bytes = 0;
  let tickBytes = 0;
  const timer = setInterval(() => {
    tickBytes = 0;
    if (req.isPaused() && !req.readableEnded) req.resume();
  }, 10);
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    tickBytes += chunk.length;
    if (tickBytes >= UPSTREAM_BYTES_PER_TICK) req.pause();
  });
  req.on('end', () => {
    clearInterval(timer);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') }));
  });
  req.on('error', () => clearInterval(timer));
}

/** Chunks whose bytes depend on their position, so a reordering changes the hash. */
function patternedBody(total: number, hash: ReturnType<typeof createHash>): Readable {
  const size = 256 * 1024;
  let sent = 0;
  let index = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const chunk = Buffer.alloc(Math.min(size, total - sent), index++ % 251);
      chunk.writeUInt32BE(index, 0);
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
}

before(async () => {
  upstream = http.createServer(slowReader);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  gw = await startGateway({
    config: `_format_version: "3.0"
services:
  - name: slow
    url: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    routes:
      - name: slow
        paths: [/slow]
`,
    workers: 1,
  });
});

after(async () => {
  await gw?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
  await agent.close();
});

test('a fast chunked upload to a slow upstream: gateway memory stays bounded, body intact', async (t) => {
  const pid = gw.proc.pid!;
  const baseline = rssBytes(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 25);
  const sent = createHash('sha256');
  try {
    const res = await request(gw.url('/slow/up'), { dispatcher: agent, method: 'POST', body: patternedBody(BODY_BYTES, sent) });
    const body = (await res.body.json()) as { bytes: number; sha256: string };
    assert.equal(res.statusCode, 200);
    assert.equal(body.bytes, BODY_BYTES);
    assert.equal(body.sha256, sent.digest('hex'), 'the upstream got the bytes in another order');
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, rssBytes(pid));
  t.diagnostic(`gateway RSS growth ${((peak - baseline) / MIB).toFixed(1)} MiB`);
  assert.ok(peak - baseline < RSS_GROWTH_LIMIT, `RSS grew by ${((peak - baseline) / MIB).toFixed(1)} MiB`);
});
