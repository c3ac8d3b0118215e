/**
 * The engine's pool on its own (src/upstream/pool.ts) against a real loopback upstream: the
 * pending queue's bound, its timeout, leaving the queue on abort, and FIFO hand-over.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { UpstreamEngine } from '../../src/upstream/engine';
import { UpstreamExchange } from '../../src/upstream/exchange';
import { Failure } from '../../src/upstream/failures';
import { ExchangeRecorder } from '../helpers/exchange-recorder';

let server: net.Server;
let port = 0;
/** Each request is answered after `?ms` milliseconds, with its own path as the body. */
before(async () => {
  server = net.createServer((s) => {
    let pending = '';
    s.on('data', (d) => {
      pending += d.toString('latin1');
      let at;
      while ((at = pending.indexOf('\r\n\r\n')) >= 0) {
        const path = pending.slice(0, at).split(' ')[1];
        pending = pending.slice(at + 4);
        const ms = Number(new URL(path, 'http://x').searchParams.get('ms') ?? 0);
        setTimeout(() => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`), ms);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
after(() => server.close());

function send(pool: ReturnType<UpstreamEngine['get']>, path: string): { rec: ExchangeRecorder; ex: UpstreamExchange } {
  const rec = new ExchangeRecorder();
  const ex = new UpstreamExchange(rec);
  assert.equal(ex.prepare('GET', path, ['host', 'up'], null, -1, 5000, 5000), true);
  ex.beginAttempt();
  pool.dispatch(ex);
  return { rec, ex };
}

function engineWith(maxConnections: number, maxPending: number, connectTimeoutMs = 5000) {
  const engine = new UpstreamEngine({ upstreamConnections: 0, upstreamKeepAliveMs: 60_000 });
  const pool = engine.get({ secure: false, host: '127.0.0.1', port, servername: '', tlsVerify: false, connectTimeoutMs, maxConnections, maxPending });
  return { engine, pool };
}

test('beyond max_connections + max_pending a request fails at once with the queue-full reason', async () => {
  const { engine, pool } = engineWith(1, 1);
  const a = send(pool, '/a?ms=100');
  const b = send(pool, '/b');
  const c = send(pool, '/c');
  assert.equal(c.rec.failure, Failure.QueueFull, 'refused synchronously');
  assert.match(c.rec.detail, /^upstream connection pool full: 1 connections to 127\.0\.0\.1:\d+ busy and 1 requests waiting$/);
  await Promise.all([a.rec.done, b.rec.done]);
  assert.equal(a.rec.body, '/a?ms=100');
  assert.equal(b.rec.body, '/b', 'the queued request got the connection when it was free');
  assert.equal(pool.connections.length, 1);
  await engine.closeAll();
});

test('a queued request that waits past the queue timeout fails with the queue-timeout reason', async () => {
  const { engine, pool } = engineWith(1, 10, 150);
  const a = send(pool, '/a?ms=600');
  const b = send(pool, '/b');
  await b.rec.done;
  assert.equal(b.rec.failure, Failure.QueueTimeout);
  assert.match(b.rec.detail, /free within 150 ms/);
  await a.rec.done;
  assert.equal(a.rec.status, 200);
  await engine.closeAll();
});

test('an aborted request leaves the queue; the next one in line gets the connection', async () => {
  const { engine, pool } = engineWith(1, 10);
  const a = send(pool, '/a?ms=80');
  const b = send(pool, '/b');
  const c = send(pool, '/c');
  assert.equal(pool.pendingCount, 2);
  b.ex.abort();
  assert.equal(pool.pendingCount, 1);
  await Promise.all([a.rec.done, c.rec.done]);
  assert.equal(c.rec.body, '/c');
  assert.equal(b.rec.status, 0);
  assert.equal(b.rec.failure, 0, 'an aborted request is not told anything more');
  await engine.closeAll();
});

test('max_pending_requests 0: no queue at all', async () => {
  const { engine, pool } = engineWith(1, 0);
  const a = send(pool, '/a?ms=50');
  const b = send(pool, '/b');
  assert.equal(b.rec.failure, Failure.QueueFull);
  await a.rec.done;
  assert.equal(a.rec.status, 200);
  await engine.closeAll();
});

test('keep-alive: sequential requests share one connection', async () => {
  const { engine, pool } = engineWith(0, -1);
  for (const p of ['/1', '/2', '/3']) {
    const r = send(pool, p);
    await r.rec.done;
    assert.equal(r.rec.body, p);
  }
  assert.equal(pool.connections.length, 1);
  assert.equal(pool.idleCount, 1);
  await engine.closeAll();
});
