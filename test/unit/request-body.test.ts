/**
 * RequestBody when uWS keeps delivering after pause() (v20.57 inside a full-buffer read burst,
 * test/conformance/uws-issues/pause-after-resume.js). The stand-in below records pause/resume and,
 * like v20.57 in that burst, does not stop the chunks; the integration test
 * upload-slow-upstream.test.ts covers the same path through a real gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MEMORY_LIMIT_WHILE_PAUSED, RequestBody, type BodyFailure } from '../../src/proxy/request-body';
import type { HttpResponse } from '../../src/proxy/uws';

const CHUNK = 512 * 1024;

class IgnoredPause {
  pauses = 0;
  resumes = 0;
  pause(): void {
    this.pauses++;
  }
  resume(): void {
    this.resumes++;
  }
}

function chunk(i: number): ArrayBuffer {
  const buf = new Uint8Array(CHUNK).fill(i % 251);
  new DataView(buf.buffer).setUint32(0, i);
  return buf.buffer;
}

function sha(chunks: ArrayBuffer[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(new Uint8Array(c));
  return h.digest('hex');
}

test('bytes delivered while paused go to disk beyond the memory limit and come back in order', async () => {
  const res = new IgnoredPause();
  const failures: BodyFailure[] = [];
  const body = new RequestBody(res as unknown as HttpResponse, 60_000, (why) => failures.push(why));
  const sent: ArrayBuffer[] = [];
  // 64 MiB in one synchronous burst, as uWS's read loop delivers it, nobody reading meanwhile.
  let maxInMemory = 0;
  for (let i = 0; i < 128; i++) {
    const c = chunk(i);
    sent.push(c.slice(0));
    body.pushChunk(c, i === 127);
    maxInMemory = Math.max(maxInMemory, body.readableLength);
  }
  assert.equal(res.pauses, 1);
  assert.ok(maxInMemory <= MEMORY_LIMIT_WHILE_PAUSED + CHUNK, `held ${maxInMemory} bytes in memory`);
  assert.ok(body.spilledBytes >= 60 * 1024 * 1024, `spilled ${body.spilledBytes}`);

  // The body is complete: nothing would call _read to resume, so the last chunk resumes now.
  assert.equal(res.resumes, 1);

  const h = createHash('sha256');
  let received = 0;
  for await (const part of body) {
    h.update(part as Buffer);
    received += (part as Buffer).length;
  }
  assert.equal(received, 128 * CHUNK);
  assert.equal(h.digest('hex'), sha(sent));
  assert.deepEqual(failures, []);
});

test('the client stays paused until the bytes on disk are read, then resumes', () => {
  const res = new IgnoredPause();
  const body = new RequestBody(res as unknown as HttpResponse, 60_000, () => {});
  for (let i = 0; i < 16; i++) body.pushChunk(chunk(i), false);
  assert.ok(body.spilledBytes > 0);
  let received = 0;
  for (;;) {
    const part = body.read() as Buffer | null;
    if (part === null) break;
    received += part.length;
    if (received < 16 * CHUNK) assert.equal(res.resumes, 0, `resumed with ${16 * CHUNK - received} bytes unread`);
  }
  assert.equal(received, 16 * CHUNK);
  assert.equal(res.resumes, 1);
  assert.equal(res.pauses, 1);
  body.destroy();
});

test('a last chunk that arrives while paused resumes the socket (keep-alive must not hang)', () => {
  const res = new IgnoredPause();
  const body = new RequestBody(res as unknown as HttpResponse, 60_000, () => {});
  body.pushChunk(chunk(0), false);
  assert.equal(res.pauses, 1);
  body.pushChunk(chunk(1), true);
  assert.equal(res.resumes, 1);
  body.destroy();
});

test('a body the upstream keeps up with never touches the disk', async () => {
  const res = new IgnoredPause();
  const body = new RequestBody(res as unknown as HttpResponse, 60_000, () => {});
  let received = 0;
  body.on('data', (part: Buffer) => (received += part.length));
  const ended = new Promise((resolve) => body.on('end', resolve));
  for (let i = 0; i < 64; i++) {
    body.pushChunk(chunk(i), i === 63);
    await new Promise(setImmediate);
  }
  await ended;
  assert.equal(received, 64 * CHUNK);
  assert.equal(body.spilledBytes, 0);
});

test('no place to spill: the request fails as overflow and the stream stops', () => {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = '/nonexistent/floodgate-spill';
  try {
    const res = new IgnoredPause();
    const failures: BodyFailure[] = [];
    const body = new RequestBody(res as unknown as HttpResponse, 60_000, (why) => failures.push(why));
    body.on('error', () => {});
    for (let i = 0; i < 16; i++) body.pushChunk(chunk(i), false);
    assert.deepEqual(failures, ['overflow']);
    assert.equal(body.destroyed, true);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

test('write_timeout holds inside a burst the event loop cannot leave: stall, nothing more spilled', () => {
  const res = new IgnoredPause();
  const failures: BodyFailure[] = [];
  const body = new RequestBody(res as unknown as HttpResponse, 50, (why) => failures.push(why));
  body.on('error', () => {});
  for (let i = 0; i < 8; i++) body.pushChunk(chunk(i), false);
  assert.deepEqual(failures, []);
  // Still inside the same synchronous burst, past write_timeout: the timer cannot fire here.
  const until = Date.now() + 80;
  while (Date.now() < until);
  for (let i = 8; i < 16; i++) body.pushChunk(chunk(i), false);
  assert.deepEqual(failures, ['stall']);
  assert.equal(body.destroyed, true);
  const spilled = body.spilledBytes;
  body.pushChunk(chunk(16), false);
  assert.equal(body.spilledBytes, spilled);
});
