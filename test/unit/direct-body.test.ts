/**
 * A request body through the upstream engine on both engines, against a real loopback upstream:
 * with `native`, chunks after the first go from the (uWS-like) reused ArrayBuffer straight to the
 * socket (src/upstream/direct-body.ts); with `js` they are copied into the stream. Either way the
 * upstream gets every byte in order, although the test overwrites each chunk's memory right after
 * handing it over (as uWS reuses its read buffer), and a full socket pauses the client until it
 * drains. The stand-in for uWS's response records pause/resume, and the feeding loop honours them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { RequestBody } from '../../src/proxy/request-body';
import type { HttpResponse } from '../../src/proxy/uws';
import { UpstreamEngine } from '../../src/upstream/engine';
import { UpstreamExchange } from '../../src/upstream/exchange';
import { ExchangeRecorder } from '../helpers/exchange-recorder';

class ClientStandIn {
  pauses = 0;
  resumes = 0;
  paused = false;
  pause(): void {
    this.pauses++;
    this.paused = true;
  }
  resume(): void {
    this.resumes++;
    this.paused = false;
  }
}

/** An upstream that hashes a Content-Length body (after holding off reading for `stallMs`) and answers the hash. */
async function hashingUpstream(stallMs: number): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => {
    let pending: Buffer | null = Buffer.alloc(0);
    let left = 0;
    const h = createHash('sha256');
    s.pause();
    setTimeout(() => s.resume(), stallMs);
    s.on('data', (d: Buffer) => {
      let rest = d;
      if (pending !== null) {
        pending = Buffer.concat([pending, d]);
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        left = Number(/content-length: (\d+)/i.exec(pending.subarray(0, end).toString('latin1'))![1]);
        rest = pending.subarray(end + 4);
        pending = null;
      }
      h.update(rest);
      left -= rest.length;
      if (left === 0) {
        const digest = h.digest('hex');
        s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${digest.length}\r\nConnection: close\r\n\r\n${digest}`);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

const tick = () => new Promise((r) => setImmediate(r));

async function upload(engineKind: 'js' | 'native', stallMs: number, chunks: number, chunkBytes: number) {
  const { server, port } = await hashingUpstream(stallMs);
  const engine = new UpstreamEngine({ upstreamConnections: 0, upstreamKeepAliveMs: 60_000, upstreamEngine: engineKind });
  const pool = engine.get({ secure: false, host: '127.0.0.1', port, servername: '', tlsVerify: false, connectTimeoutMs: 5000, maxConnections: 0, maxPending: -1 });
  const client = new ClientStandIn();
  const body = new RequestBody(client as unknown as HttpResponse, 10_000, () => undefined);
  const total = chunks * chunkBytes;
  const collector = new ExchangeRecorder();
  const ex = new UpstreamExchange(collector);
  assert.equal(ex.prepare('POST', '/upload', ['host', 'up', 'content-length', String(total)], body, total, 10_000, 10_000, true), true);
  ex.beginAttempt();
  pool.dispatch(ex);
  // One buffer reused for every chunk, as uWS reuses its read buffer.
  const shared = new Uint8Array(chunkBytes);
  const sent = createHash('sha256');
  for (let i = 0; i < chunks; i++) {
    while (client.paused) await tick();
    for (let k = 0; k < chunkBytes; k += 4096) shared.fill((i * 7 + k) & 0xff, k, Math.min(chunkBytes, k + 4096));
    sent.update(shared);
    body.pushChunk(shared.buffer, i === chunks - 1);
    // Whatever was not written or copied during the call is garbage now.
    shared.fill(0xee);
    await tick();
  }
  await collector.done;
  await engine.closeAll();
  server.close();
  return { status: collector.status, failure: collector.failure, hash: collector.body, expected: sent.digest('hex'), body, client };
}

for (const kind of ['native', 'js'] as const) {
  test(`${kind}: a 16 MiB body reaches the upstream intact from a reused buffer${kind === 'native' ? ', straight from it after the first chunk' : ''}`, { timeout: 30_000 }, async () => {
    const r = await upload(kind, 0, 64, 256 * 1024);
    assert.equal(r.failure, 0);
    assert.equal(r.status, 200);
    assert.equal(r.hash, r.expected);
    if (kind === 'native') assert.ok(r.body.directBytes >= 60 * 256 * 1024, `direct ${r.body.directBytes} bytes`);
    else assert.equal(r.body.directBytes, 0);
  });

  test(`${kind}: an upstream that holds off reading pauses the client; it resumes on drain and nothing is lost`, { timeout: 30_000 }, async () => {
    const r = await upload(kind, 300, 32, 1024 * 1024);
    assert.equal(r.failure, 0);
    assert.equal(r.hash, r.expected);
    assert.ok(r.client.pauses >= 1, 'the client was paused');
    assert.ok(r.client.resumes >= 1, 'and resumed');
  });
}
