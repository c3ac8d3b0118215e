/**
 * The HTTP/2 downstream design decision (ARCHITECTURE.md "HTTP/2 downstream"), measured: each
 * candidate TLS front answers a tiny local 200 (no upstream), so only the front's cost shows.
 *
 *   a  uWS SSLApp alone: HTTPS/1.1 only (uWS has no HTTP/2), the baseline;
 *   b  node:http2 createSecureServer({ allowHTTP1: true }) serving both protocols;
 *   c  a node `net` front that reads the ClientHello's ALPN (src/h2/client-hello.ts): `h2` goes to
 *      a node:http2 session in the same thread, anything else is piped as raw TLS bytes to a uWS
 *      SSLApp on loopback (what src/h2/front.ts does).
 *
 * HTTPS/1.1: wrk -t1 -cCONNS; h2: one node:http2 client session with STREAMS concurrent streams
 * (a child process). Rounds interleave a b c, medians, ratios to a.
 *
 *   ROUNDS=3 DURATION=3 CONNS=50 STREAMS=50 node dist/bench/h2-design/main.js
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { uws } from '../../src/proxy/uws';
import { PrefixedSocket } from '../../src/h2/prefixed-socket';
import { offersH2, NEED_MORE, OFFERS_H2 } from '../../src/h2/client-hello';
import { envInt } from '../peers/env';
import { freePorts } from '../peers/ports';
import { median } from '../peers/stats';
import { runWrk } from '../peers/wrk';

const ROUNDS = envInt('ROUNDS', 3);
const DURATION = envInt('DURATION', 3);
const CONNS = envInt('CONNS', 50);
const STREAMS = envInt('STREAMS', 50);
const BODY = 'hello\n';

type Design = 'a' | 'b' | 'c';

async function serve(design: Design, port: number, dir: string): Promise<void> {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  if (design === 'b') {
    const server = http2.createSecureServer({ key: readFileSync(key), cert: readFileSync(cert), allowHTTP1: true }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(BODY);
    });
    server.listen(port, '127.0.0.1', () => process.send?.('ready'));
    return;
  }
  const app = uws.SSLApp({ key_file_name: key, cert_file_name: cert }).any('/*', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(BODY));
  });
  if (design === 'a') {
    app.listen('127.0.0.1', port, (s) => {
      if (s) process.send?.('ready');
      else process.exit(1);
    });
    return;
  }
  const inner = await new Promise<number>((resolve) => app.listen('127.0.0.1', 0, (s) => {
    resolve(s ? uws.us_socket_local_port(s) : 0);
  }));
  const h2 = http2.createSecureServer({ key: readFileSync(key), cert: readFileSync(cert) });
  h2.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(BODY);
  });
  const front = net.createServer((socket) => {
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const verdict = offersH2(buf);
      if (verdict === NEED_MORE) return;
      socket.off('data', onData);
      socket.pause();
      if (verdict === OFFERS_H2) {
        h2.emit('connection', new PrefixedSocket(socket, buf));
        return;
      }
      const upstream = net.connect(inner, '127.0.0.1');
      upstream.setNoDelay(true);
      upstream.write(buf);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    };
    socket.setNoDelay(true);
    socket.on('data', onData);
  });
  front.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

/** The h2 load: one session, STREAMS streams always in flight, for DURATION seconds. */
async function h2load(url: string, seconds: number, streams: number): Promise<void> {
  const session = http2.connect(url, { rejectUnauthorized: false });
  let done = 0;
  let errors = 0;
  const until = Date.now() + seconds * 1000;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = session.request({ ':path': '/' });
      req.on('response', (h) => {
        if (h[':status'] !== 200) errors++;
      });
      req.on('data', () => {});
      req.on('end', () => {
        done++;
        resolve();
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const loop = async () => {
    while (Date.now() < until) await one();
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: streams }, loop));
  const elapsed = (Date.now() - started) / 1000;
  session.close();
  process.stdout.write(JSON.stringify({ rps: done / elapsed, errors }) + '\n');
}

function child(args: string[]): ChildProcess {
  return spawn(process.execPath, [__filename, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
}

async function runH2(port: number, seconds = DURATION): Promise<number> {
  const proc = child(['h2load', `https://127.0.0.1:${port}`, String(seconds), String(STREAMS)]);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  await new Promise((r) => proc.once('exit', r));
  return (JSON.parse(out) as { rps: number }).rps;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-h2design-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const ports = await freePorts(3);
    const designs: Design[] = ['a', 'b', 'c'];
    const servers = designs.map((d, i) => child(['serve', d, String(ports[i]), dir]));
    await Promise.all(servers.map((s) => new Promise((r) => s.once('message', r))));
    const h1: Record<Design, number[]> = { a: [], b: [], c: [] };
    const h2r: Record<Design, number[]> = { a: [], b: [], c: [] };
    // Warm every contender (JIT, TLS session setup) before anything is counted.
    for (const [i, d] of designs.entries()) {
      await runWrk({ wrk: 'wrk', threads: 1, conns: CONNS, seconds: 1, url: `https://127.0.0.1:${ports[i]}/` });
      if (d !== 'a') await runH2(ports[i], 1);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? designs : [...designs].reverse();
      for (const d of order) {
        const port = ports[designs.indexOf(d)];
        const r = await runWrk({ wrk: 'wrk', threads: 1, conns: CONNS, seconds: DURATION, url: `https://127.0.0.1:${port}/` });
        if (r.errors > 0) process.stderr.write(`# ${d}: ${r.errors} HTTPS/1.1 errors\n`);
        h1[d].push(r.rps);
        await sleep(200);
        if (d !== 'a') h2r[d].push(await runH2(port));
        await sleep(200);
      }
      process.stderr.write(`# round ${round + 1}/${ROUNDS} done\n`);
    }
    for (const s of servers) s.kill();
    const base = median(h1.a);
    const lines = [
      `h2 design bench, ${new Date().toISOString()}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${ROUNDS} rounds x ${DURATION}s, wrk -t1 -c${CONNS}, h2: 1 session x ${STREAMS} streams`,
      '| design | HTTPS/1.1 req/s (median) | ratio to a | h2 req/s (median) |',
      '|---|---|---|---|',
      ...designs.map((d) => `| ${d} | ${Math.round(median(h1[d]))} | ${(median(h1[d]) / base).toFixed(2)} | ${d === 'a' ? 'n/a (no h2)' : Math.round(median(h2r[d]))} |`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    writeFileSync(join(dir, 'done'), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'serve') void serve(rest[0] as Design, Number(rest[1]), rest[2]);
else if (mode === 'h2load') void h2load(rest[0], Number(rest[1]), Number(rest[2]));
else void main();
