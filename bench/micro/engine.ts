/**
 * The upstream engine alone (src/upstream/) against bare undici `Pool.dispatch`, in the same
 * run: each keeps CONCURRENCY requests in flight against the same local upstream (a raw `net`
 * server in its own process answering a fixed 2-byte response), for DURATION seconds, in
 * interleaved rounds (engine, undici, engine, ...). Reported: median req/s and this process's
 * CPU microseconds per request, and the engine/undici ratio.
 *
 * Both send the same 10-header request a proxied GET carries and read the body to the end; both
 * use one keep-alive pool capped at CONCURRENCY connections.
 *
 *   node dist/bench/micro/engine.js        (ROUNDS, DURATION seconds, CONCURRENCY env)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Pool, type Dispatcher } from 'undici';
import { UpstreamEngine } from '../../src/upstream/engine';
import { UpstreamExchange, type ExchangeHandler } from '../../src/upstream/exchange';
import type { Failure } from '../../src/upstream/failures';
import type { ResponseHead } from '../../src/upstream/response-head';
import type { UpstreamPool } from '../../src/upstream/pool';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION = Number(process.env.DURATION ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);

const HEADERS: string[] = [
  'host', '127.0.0.1',
  'user-agent', 'bench/1.0',
  'accept', '*/*',
  'x-forwarded-for', '127.0.0.1',
  'x-forwarded-proto', 'http',
  'x-forwarded-host', 'localhost',
  'x-forwarded-port', '8000',
  'x-forwarded-path', '/bench',
  'x-real-ip', '127.0.0.1',
  'via', '1.1 floodgate',
];

/** The upstream: a raw net server in a child process, one fixed response per request head. */
const UPSTREAM_SOURCE = `
const net = require('net');
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\n\\r\\nok');
net.createServer((s) => {
  s.setNoDelay(true);
  let pending = '';
  s.on('data', (d) => {
    pending += d.toString('latin1');
    let at;
    while ((at = pending.indexOf('\\r\\n\\r\\n')) >= 0) { pending = pending.slice(at + 4); s.write(RESPONSE); }
  });
  s.on('error', () => {});
}).listen(0, '127.0.0.1', function () { process.send(this.address().port); });
`;

function startUpstream(): Promise<{ port: number; proc: ChildProcess }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['-e', UPSTREAM_SOURCE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    proc.once('message', (port) => resolve({ port: Number(port), proc }));
  });
}

interface Loop {
  /** Completed requests; each slot sends its next request when one ends. */
  done: number;
  stopped: boolean;
}

class EngineSlot implements ExchangeHandler {
  readonly exchange: UpstreamExchange;
  constructor(
    readonly pool: UpstreamPool,
    readonly loop: Loop,
  ) {
    this.exchange = new UpstreamExchange(this);
  }
  send(): void {
    const ex = this.exchange;
    ex.prepare('GET', '/bench', HEADERS, null, -1, 60_000, 60_000);
    ex.beginAttempt();
    this.pool.dispatch(ex);
  }
  onResponseHead(_head: ResponseHead): void {}
  onResponseData(_chunk: Buffer): boolean {
    return true;
  }
  onResponseEnd(): void {
    this.loop.done++;
    if (!this.loop.stopped) this.send();
  }
  onExchangeFailed(failure: Failure, detail: string): void {
    throw new Error(`engine request failed: ${failure} ${detail}`);
  }
}

class UndiciSlot implements Dispatcher.DispatchHandler {
  constructor(
    readonly pool: Pool,
    readonly loop: Loop,
  ) {}
  send(): void {
    this.pool.dispatch({ method: 'GET', path: '/bench', headers: HEADERS }, this);
  }
  onConnect(): void {}
  onHeaders(): boolean {
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {
    this.loop.done++;
    if (!this.loop.stopped) this.send();
  }
  onError(err: Error): void {
    throw err;
  }
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function runFor(start: () => Loop): Promise<{ rps: number; cpuPerRequestUs: number }> {
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  const loop = start();
  await new Promise((r) => setTimeout(r, DURATION * 1000));
  loop.stopped = true;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMicros() - cpu0;
  // Let the requests in flight finish before the next contender starts.
  await new Promise((r) => setTimeout(r, 200));
  return { rps: loop.done / seconds, cpuPerRequestUs: cpu / Math.max(1, loop.done) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const engine = new UpstreamEngine({ upstreamConnections: CONCURRENCY, upstreamKeepAliveMs: 60_000 });
  const enginePool = engine.get({
    secure: false,
    host: '127.0.0.1',
    port: upstream.port,
    servername: '',
    tlsVerify: false,
    connectTimeoutMs: 5_000,
    maxConnections: 0,
    maxPending: -1,
  });
  const undiciPool = new Pool(`http://127.0.0.1:${upstream.port}`, { connections: CONCURRENCY, pipelining: 1 });

  const results = { engine: [] as Array<{ rps: number; cpuPerRequestUs: number }>, undici: [] as Array<{ rps: number; cpuPerRequestUs: number }> };
  for (let round = 0; round < ROUNDS; round++) {
    results.engine.push(
      await runFor(() => {
        const loop: Loop = { done: 0, stopped: false };
        for (let i = 0; i < CONCURRENCY; i++) new EngineSlot(enginePool, loop).send();
        return loop;
      }),
    );
    results.undici.push(
      await runFor(() => {
        const loop: Loop = { done: 0, stopped: false };
        for (let i = 0; i < CONCURRENCY; i++) new UndiciSlot(undiciPool, loop).send();
        return loop;
      }),
    );
    process.stderr.write(`round ${round + 1}/${ROUNDS}: engine ${results.engine[round].rps.toFixed(0)} req/s, undici ${results.undici[round].rps.toFixed(0)} req/s\n`);
  }

  const e = median(results.engine.map((r) => r.rps));
  const u = median(results.undici.map((r) => r.rps));
  const ec = median(results.engine.map((r) => r.cpuPerRequestUs));
  const uc = median(results.undici.map((r) => r.cpuPerRequestUs));
  console.log(`upstream engine vs undici Pool.dispatch: ${ROUNDS} interleaved rounds of ${DURATION}s, ${CONCURRENCY} in flight, medians`);
  console.log('| contender | req/s | CPU µs/request |');
  console.log('|---|---|---|');
  console.log(`| src/upstream engine | ${e.toFixed(0)} | ${ec.toFixed(1)} |`);
  console.log(`| undici Pool.dispatch | ${u.toFixed(0)} | ${uc.toFixed(1)} |`);
  console.log(`engine / undici: ${(e / u).toFixed(2)}x req/s, ${(ec / uc).toFixed(2)}x CPU per request`);

  await engine.closeAll();
  await undiciPool.destroy();
  upstream.proc.kill();
}

void main();
