/**
 * The addon's upstream sockets (src/upstream/native-socket.ts, native/src/tcp_transport.c)
 * against real loopback servers: what an UpstreamConnection relies on from a net.Socket (connect,
 * ordered writes and writev, backpressure and 'drain', pause/resume, EOF, errors with node's
 * codes, no event after destroy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { NativeSocket, nativeSocketsAvailable } from '../../src/upstream/native-socket';
import { Failure, failureForSocketError } from '../../src/upstream/failures';

test('the addon has native sockets (make builds it; without them --upstream-engine native falls back to js)', () => {
  assert.equal(nativeSocketsAvailable, true);
});

async function listen(onSocket: (s: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A NativeSocket whose reads are collected (the shared buffer is copied, as the parser does). */
function open(port: number, host = '127.0.0.1') {
  const socket = new NativeSocket(host, port);
  const got: Buffer[] = [];
  const events: string[] = [];
  let onRead: (() => void) | null = null;
  socket.reader = {
    onBorrowedRead(bytes: number, shared: Buffer) {
      got.push(Buffer.from(shared.subarray(0, bytes)));
      onRead?.();
    },
  };
  const connected = new Promise<void>((resolve, reject) => {
    socket.on('connect', () => {
      events.push('connect');
      resolve();
    });
    socket.on('error', (err: Error) => {
      events.push(`error:${(err as NodeJS.ErrnoException).code}`);
      reject(err);
    });
  });
  connected.catch(() => undefined);
  socket.on('end', () => events.push('end'));
  socket.on('close', () => events.push('close'));
  socket.on('drain', () => events.push('drain'));
  const received = (bytes: number) =>
    new Promise<Buffer>((resolve) => {
      const check = () => {
        const all = Buffer.concat(got);
        if (all.length >= bytes) resolve(all);
      };
      onRead = check;
      check();
    });
  return { socket, got, events, connected, received };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('connects, writes latin1 strings and Buffers in order (cork: one writev), reads the answer, then EOF ends and closes it', { timeout: 10_000 }, async () => {
  const { server, port } = await listen((s) => {
    let seen = '';
    s.on('data', (d) => {
      seen += d.toString('latin1');
      if (seen.endsWith('END')) s.end(Buffer.from(`echo:${seen}`, 'latin1'));
    });
  });
  const c = open(port);
  await c.connected;
  assert.equal(c.socket.write('GET / HTTP/1.1\r\nX: \u00e9\r\n'), true);
  c.socket.cork();
  c.socket.write('a');
  c.socket.write(Buffer.from('bb'));
  c.socket.write('ccc');
  c.socket.write(Buffer.from('dddd'));
  c.socket.write('END');
  c.socket.uncork();
  const expected = 'echo:GET / HTTP/1.1\r\nX: \u00e9\r\nabbcccddddEND';
  const answer = await c.received(Buffer.byteLength(expected, 'latin1'));
  assert.equal(answer.toString('latin1'), expected);
  await tick(50);
  assert.deepEqual(c.events, ['connect', 'end', 'close']);
  assert.equal(c.socket.destroyed, true);
  server.close();
});

test('a refused connection is an error event with node\'s code, which the engine reads as Refused', { timeout: 10_000 }, async () => {
  const { server, port } = await listen(() => undefined);
  await new Promise<void>((r) => server.close(() => r()));
  const c = open(port);
  const err = await c.connected.then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err !== null);
  assert.equal((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.equal(failureForSocketError(err), Failure.Refused);
  assert.deepEqual(c.events, ['error:ECONNREFUSED', 'close']);
});

test('an address that is not an IP fails asynchronously, after the listeners are attached', { timeout: 10_000 }, async () => {
  const c = open(80, 'not-an-ip');
  const err = await c.connected.then(
    () => null,
    (e: Error) => e,
  );
  assert.equal((err as NodeJS.ErrnoException | null)?.code, 'EINVAL');
});

test('backpressure: write returns false when the kernel is full, the rest is queued in order, drain follows', { timeout: 10_000 }, async () => {
  let upstream: net.Socket | null = null;
  const hash = createHash('sha256');
  let received = 0;
  const { server, port } = await listen((s) => {
    upstream = s;
    s.pause();
    s.on('data', (d) => {
      hash.update(d);
      received += d.length;
    });
  });
  const c = open(port);
  await c.connected;
  const sent = createHash('sha256');
  const chunk = Buffer.alloc(1024 * 1024);
  let total = 0;
  let full = false;
  for (let i = 0; i < 64 && !full; i++) {
    chunk.fill(i & 0xff);
    sent.update(chunk);
    total += chunk.length;
    full = !c.socket.write(chunk);
  }
  assert.equal(full, true, 'a paused reader fills the socket buffers within 64 MiB');
  assert.ok(!c.events.includes('drain'));
  while (upstream === null) await tick(5);
  (upstream as net.Socket).resume();
  while (!c.events.includes('drain')) await tick(10);
  while (received < total) await tick(10);
  assert.equal(received, total);
  assert.equal(hash.digest('hex'), sent.digest('hex'));
  c.socket.destroy();
  server.close();
});

test('pause stops reads until resume; nothing is lost', { timeout: 10_000 }, async () => {
  let upstream: net.Socket | null = null;
  const { server, port } = await listen((s) => {
    upstream = s;
  });
  const c = open(port);
  await c.connected;
  while (upstream === null) await tick(5);
  c.socket.pause();
  (upstream as net.Socket).write('first');
  await tick(100);
  assert.equal(c.got.length, 0, 'no read while paused');
  c.socket.resume();
  const all = await c.received(5);
  assert.equal(all.toString(), 'first');
  c.socket.destroy();
  server.close();
});

test('after destroy: no event, the peer sees the close, and the slot serves a new socket', { timeout: 10_000 }, async () => {
  const closed: boolean[] = [];
  const { server, port } = await listen((s) => {
    s.on('close', () => closed.push(true));
    s.on('error', () => undefined);
    s.write('late bytes');
  });
  const a = open(port);
  await a.connected;
  const readsBefore = a.got.length;
  a.socket.destroy();
  await tick(100);
  assert.deepEqual(a.events, ['connect']);
  assert.equal(a.got.length, readsBefore, 'no read after destroy');
  assert.equal(closed.length, 1);
  assert.equal(a.socket.write('x'), false);
  const b = open(port);
  await b.connected;
  assert.equal((await b.received(10)).toString(), 'late bytes');
  b.socket.destroy();
  server.close();
});

test('cork past its high-water mark: write says wait, and drain follows the uncork even when the kernel takes everything', { timeout: 10_000 }, async () => {
  let received = 0;
  const { server, port } = await listen((s) => {
    s.on('data', (d) => (received += d.length));
  });
  const c = open(port);
  await c.connected;
  c.socket.cork();
  const chunk = Buffer.alloc(16 * 1024, 1);
  const results: boolean[] = [];
  for (let i = 0; i < 5; i++) results.push(c.socket.write(chunk));
  assert.deepEqual(results, [true, true, true, false, false]);
  c.socket.uncork();
  while (!c.events.includes('drain')) await tick(5);
  while (received < 5 * chunk.length) await tick(5);
  assert.equal(received, 5 * chunk.length);
  c.socket.destroy();
  server.close();
});

test('a worker thread that ends with native sockets open exits cleanly (terminated, or by process.exit)', { timeout: 20_000 }, async () => {
  const { server, port } = await listen((s) => {
    s.on('data', () => s.write('x'));
    s.on('error', () => undefined);
  });
  const modulePath = require.resolve('../../src/upstream/native-socket');
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { NativeSocket } = require(workerData.modulePath);
    let connected = 0;
    for (let i = 0; i < 3; i++) {
      const s = new NativeSocket('127.0.0.1', workerData.port);
      s.reader = { onBorrowedRead() {} };
      s.on('connect', () => {
        s.write('hello');
        if (++connected === 3) {
          if (workerData.how === 'exit') setTimeout(() => process.exit(0), 20);
          else parentPort.postMessage('connected');
        }
      });
    }`;
  for (const how of ['terminate', 'exit', 'terminate']) {
    const worker = new Worker(code, { eval: true, workerData: { port, modulePath, how } });
    worker.on('message', () => void worker.terminate());
    const exitCode = await new Promise<number>((resolve, reject) => {
      worker.on('exit', resolve);
      worker.on('error', reject);
    });
    assert.equal(exitCode, how === 'exit' ? 0 : 1);
  }
  server.close();
});

test('string pieces larger than the scratch buffer, several in one writev, arrive whole and in order', { timeout: 10_000 }, async () => {
  const { server, port } = await listen((s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
  });
  const c = open(port);
  await c.connected;
  // 10 KiB, then 40 KiB (the scratch grows while the first piece is in it), then a Buffer, then 70 KiB.
  const a = 'a'.repeat(10 * 1024);
  const b = 'b'.repeat(40 * 1024) + '\u00ff';
  const buf = Buffer.from('middle');
  const d = 'd'.repeat(70 * 1024);
  c.socket.cork();
  c.socket.write(a);
  c.socket.write(b);
  c.socket.write(buf);
  c.socket.write(d);
  c.socket.uncork();
  const expected = Buffer.concat([Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'), buf, Buffer.from(d, 'latin1')]);
  const echoed = await c.received(expected.length);
  assert.equal(echoed.length, expected.length);
  assert.ok(echoed.equals(expected), 'the echo is byte for byte what was written');
  c.socket.destroy();
  server.close();
});
