/**
 * The upstream engine alone (src/upstream/), as each engine (`--upstream-engine js`: the
 * TypeScript parser on net.Socket; `native`: the C parser on the addon's sockets), against bare
 * undici `Pool.dispatch`, in the same run.
 *
 * 1. Sockets: each contender keeps CONCURRENCY requests in flight against the same local upstream
 *    (a raw `net` server in its own process answering a fixed response), for DURATION seconds,
 *    in interleaved rounds whose order rotates (native, js, undici; js, undici, native; ...).
 *    Reported: median req/s, this process's CPU µs per request, and the ratios. All send the same
 *    10-header request a proxied GET carries and read the body to the end, over one keep-alive
 *    pool capped at CONCURRENCY connections.
 * 2. Parser only: the same response bytes parsed in-process by each kernel (no sockets), so the
 *    part the addon takes over is measured without the syscalls around it: ns per response,
 *    interleaved rounds, medians.
 *
 *   node dist/bench/micro/engine.js   (env: ROUNDS, DURATION s, CONCURRENCY; PARSE_ROUNDS, PARSE_MS;
 *                                      PARTS=sockets|parser|sockets,parser)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { UpstreamEngine } from '../../src/upstream/engine';
import { UpstreamExchange, type ExchangeHandler } from '../../src/upstream/exchange';
import type { Failure } from '../../src/upstream/failures';
import type { ResponseHead } from '../../src/upstream/response-head';
import type { UpstreamPool } from '../../src/upstream/pool';
import { ResponseParser, type ParserSink } from '../../src/upstream/response-parser';
import { jsKernel, type ParserKernel } from '../../src/upstream/parser-kernel';
import { nativeKernel, nativeKernelUnavailableReason } from '../../src/upstream/native-kernel';
import type { ParseError } from '../../src/upstream/failures';
import { nativeProbe } from '../../src/util/native';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION = Number(process.env.DURATION ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
/** Milliseconds per kernel per parser-only round, and how many rounds (short and many: medians). */
const PARSE_MS = Number(process.env.PARSE_MS ?? 200);
const PARSE_ROUNDS = Number(process.env.PARSE_ROUNDS ?? 15);
/** `sockets`, `parser` or both (default). */
const PARTS = process.env.PARTS ?? 'sockets,parser';

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

const NGINX_HEAD =
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 03 Dec 2026 07:30:00 GMT\r\nContent-Type: application/json\r\n' +
  'Content-Length: 2\r\nConnection: keep-alive\r\nLast-Modified: Wed, 02 Dec 2026 10:00:00 GMT\r\nETag: "6756-2"\r\n' +
  'Accept-Ranges: bytes\r\nCache-Control: max-age=60\r\nVary: Accept-Encoding\r\n\r\nok';

const TINY_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';

/** What the upstream answers: RESPONSE=tiny (3 headers, the default) or nginx (10 headers). */
const UPSTREAM_RESPONSE = process.env.RESPONSE === 'nginx' ? NGINX_HEAD : TINY_RESPONSE;

/** The upstream: a raw net server in a child process, one fixed response per request head. */
const UPSTREAM_SOURCE = `
const net = require('net');
const RESPONSE = Buffer.from(process.env.BENCH_RESPONSE, 'latin1');
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
    const proc = spawn(process.execPath, ['-e', UPSTREAM_SOURCE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, BENCH_RESPONSE: UPSTREAM_RESPONSE } });
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

/**
 * The floor: a bare net.Socket per slot that writes the same request head and counts responses
 * by their known length, parsing nothing. What the engine costs above this is its own JS; what
 * this costs is the socket layer a libuv port in the addon would replace.
 */
function bareSockets(port: number, loop: Loop): void {
  const request = requestBytes();
  const size = Buffer.byteLength(UPSTREAM_RESPONSE, 'latin1');
  for (let i = 0; i < CONCURRENCY; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    let got = 0;
    s.on('connect', () => s.write(request));
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got < size) return;
      got -= size;
      loop.done++;
      if (loop.stopped) s.destroy();
      else s.write(request);
    });
    s.on('error', () => undefined);
  }
}

function requestBytes(): Buffer {
  return Buffer.from(`GET /bench HTTP/1.1\r\n${HEADERS.map((h, i) => (i % 2 === 0 ? `${h}: ` : `${h}\r\n`)).join('')}\r\n`, 'latin1');
}

/**
 * What socket I/O in the addon could cost (native/src/uv_probe.c): the same loop as the
 * net.Socket floor, on this thread's libuv loop; mode 0 crosses into JS never, mode 1 parses
 * each head in C and calls JS once per response, as a native engine would.
 */
async function runUvProbe(port: number, mode: 0 | 1): Promise<Sample> {
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  let ticks = 0;
  const tick = () => void ticks++;
  const [completed, errors] = await new Promise<[number, number]>((resolve) =>
    nativeProbe!.uvRequestLoop(port, CONCURRENCY, requestBytes(), Buffer.byteLength(UPSTREAM_RESPONSE, 'latin1'), DURATION * 1000, mode, tick, (c, e) => resolve([c, e])),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMicros() - cpu0;
  if (errors > 0) throw new Error(`uv probe: ${errors} errors`);
  if (mode === 1 && ticks !== completed) throw new Error(`uv probe: ${ticks} JS calls for ${completed} responses`);
  await new Promise((r) => setTimeout(r, 200));
  return { rps: completed / seconds, cpuPerRequestUs: cpu / Math.max(1, completed) };
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

type Sample = { rps: number; cpuPerRequestUs: number };

function enginePoolFor(engine: UpstreamEngine, port: number): UpstreamPool {
  return engine.get({
    secure: false,
    host: '127.0.0.1',
    port,
    servername: '',
    tlsVerify: false,
    connectTimeoutMs: 5_000,
    maxConnections: 0,
    maxPending: -1,
  });
}

// ------------------------------------------------------------------ parser only

/** Counts what a proxy's handler would see, touching nothing else. */
class CountingSink implements ParserSink {
  heads = 0;
  bytes = 0;
  done = 0;
  onInformational(): void {}
  onHead(): void {
    this.heads++;
  }
  onBody(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return true;
  }
  onComplete(): void {
    this.done++;
  }
  onParseError(error: ParseError): void {
    throw new Error(`parse error ${error}`);
  }
}

function chunkedResponse(total: number, chunk: number): string {
  let s = 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let n = 0; n < total; n += chunk) s += chunk.toString(16) + '\r\n' + 'c'.repeat(chunk) + '\r\n';
  return s + '0\r\n\r\n';
}

const PARSE_CASES: Array<{ name: string; bytes: Buffer }> = [
  { name: 'tiny (3 headers, 2-byte body)', bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok', 'latin1') },
  { name: 'NGINX-like (10 headers)', bytes: Buffer.from(NGINX_HEAD, 'latin1') },
  { name: 'chunked 64 KiB in 1 KiB chunks', bytes: Buffer.from(chunkedResponse(65536, 1024), 'latin1') },
];

/** ns per response for one kernel on one case, over PARSE_MS. */
function parseRound(kernel: ParserKernel, bytes: Buffer): number {
  const sink = new CountingSink();
  const parser = new ResponseParser(sink, 32 * 1024, kernel);
  const t0 = performance.now();
  let n = 0;
  do {
    for (let k = 0; k < 256; k++) {
      parser.reset(false);
      parser.execute(bytes);
    }
    n += 256;
  } while (performance.now() - t0 < PARSE_MS);
  const ns = ((performance.now() - t0) * 1e6) / n;
  if (sink.done !== n) throw new Error(`${kernel.name}: ${sink.done} of ${n} responses completed`);
  return ns;
}

function parserOnly(kernels: ParserKernel[]): void {
  console.log(`\nparser only (no sockets): ${PARSE_ROUNDS} interleaved rounds of ${PARSE_MS} ms per kernel, medians`);
  console.log(`| response | ${kernels.map((k) => `${k.name} ns/response`).join(' | ')} |${kernels.length > 1 ? ' native / js |' : ''}`);
  console.log(`|---|${kernels.map(() => '---').join('|')}|${kernels.length > 1 ? '---|' : ''}`);
  for (const c of PARSE_CASES) {
    const samples = kernels.map(() => [] as number[]);
    for (let round = 0; round < PARSE_ROUNDS; round++) {
      for (let j = 0; j < kernels.length; j++) {
        const k = (j + round) % kernels.length;
        samples[k].push(parseRound(kernels[k], c.bytes));
      }
    }
    const med = samples.map(median);
    const ratio = kernels.length > 1 ? ` ${(med[0] / med[1]).toFixed(2)}x time |` : '';
    console.log(`| ${c.name} | ${med.map((m) => m.toFixed(0)).join(' | ')} |${ratio}`);
  }
}

async function main(): Promise<void> {
  if (PARTS.includes('sockets')) await sockets();
  if (PARTS.includes('parser')) parserOnly(nativeKernel === null ? [jsKernel] : [nativeKernel, jsKernel]);
}

async function sockets(): Promise<void> {
  const upstream = await startUpstream();
  if (nativeKernel === null) process.stderr.write(`native kernel unavailable (${nativeKernelUnavailableReason}): measuring js and undici only\n`);
  const engines: Array<{ name: string; engine: UpstreamEngine; pool: UpstreamPool }> = [];
  for (const kind of nativeKernel === null ? (['js'] as const) : (['native', 'js'] as const)) {
    const engine = new UpstreamEngine({ upstreamConnections: CONCURRENCY, upstreamKeepAliveMs: 60_000, upstreamEngine: kind });
    engines.push({ name: kind === 'native' ? 'engine, native (C parser, addon sockets)' : 'engine, js (TS parser, net.Socket)', engine, pool: enginePoolFor(engine, upstream.port) });
  }
  const undiciPool = new Pool(`http://127.0.0.1:${upstream.port}`, { connections: CONCURRENCY, pipelining: 1 });

  const contenders: Array<{ name: string; start?: () => Loop; sample?: () => Promise<Sample> }> = [
    ...engines.map((e) => ({
      name: e.name,
      start: () => {
        const loop: Loop = { done: 0, stopped: false };
        for (let i = 0; i < CONCURRENCY; i++) new EngineSlot(e.pool, loop).send();
        return loop;
      },
    })),
    {
      name: 'bare net.Socket, no parsing (floor)',
      start: () => {
        const loop: Loop = { done: 0, stopped: false };
        bareSockets(upstream.port, loop);
        return loop;
      },
    },
    ...(nativeProbe === null
      ? []
      : [
          { name: 'libuv in the addon, no JS (floor)', sample: () => runUvProbe(upstream.port, 0) },
          { name: 'libuv in the addon, C parse + 1 JS call per response', sample: () => runUvProbe(upstream.port, 1) },
        ]),
    {
      name: 'undici Pool.dispatch',
      start: () => {
        const loop: Loop = { done: 0, stopped: false };
        for (let i = 0; i < CONCURRENCY; i++) new UndiciSlot(undiciPool, loop).send();
        return loop;
      },
    },
  ];
  const results: Sample[][] = contenders.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so no contender always runs first (warm caches, a neighbour's burst).
    for (let j = 0; j < contenders.length; j++) {
      const k = (j + round) % contenders.length;
      const c = contenders[k];
      results[k].push(c.sample !== undefined ? await c.sample() : await runFor(c.start!));
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS}: ${contenders.map((c, k) => `${c.name} ${results[k][round].rps.toFixed(0)} req/s`).join(', ')}\n`);
  }

  const rps = results.map((r) => median(r.map((x) => x.rps)));
  const cpu = results.map((r) => median(r.map((x) => x.cpuPerRequestUs)));
  console.log(`upstream engine (per kernel) vs undici Pool.dispatch: ${ROUNDS} interleaved rounds of ${DURATION}s, ${CONCURRENCY} in flight, ${process.env.RESPONSE === 'nginx' ? 'NGINX-like 10-header' : 'tiny 3-header'} response, medians`);
  console.log('| contender | req/s | CPU µs/request |');
  console.log('|---|---|---|');
  contenders.forEach((c, k) => console.log(`| ${c.name} | ${rps[k].toFixed(0)} | ${cpu[k].toFixed(1)} |`));
  const u = contenders.length - 1;
  for (let k = 0; k < u; k++) console.log(`${contenders[k].name} / undici: ${(rps[k] / rps[u]).toFixed(2)}x req/s, ${(cpu[k] / cpu[u]).toFixed(2)}x CPU per request`);
  if (engines.length === 2) console.log(`native / js engine: ${(rps[0] / rps[1]).toFixed(3)}x req/s, ${(cpu[0] / cpu[1]).toFixed(3)}x CPU per request`);

  for (const e of engines) await e.engine.closeAll();
  await undiciPool.destroy();
  upstream.proc.kill();
}

void main();
