/**
 * Old vs new for the response-head optimization in proxy/request-context.ts.
 *
 * Old: the upstream head is written in its own `res.cork()` when it arrives, and the body in a
 * second cork, so uWS flushes twice and a small response costs two send(2) calls.
 * New: the head waits and goes out in the same cork as the first body chunk: one send(2).
 *
 * Both servers answer every request from a callback outside uWS's handler (as undici's callbacks
 * are), with the same 3 headers and a small body. wrk drives each in turn, interleaved over
 * ROUNDS rounds, and we report the median req/s and the gateway thread's CPU per request.
 *
 *   node dist/bench/micro/head-coalescing.js     (needs wrk; ROUNDS, DURATION env)
 */
import { execFile, execFileSync } from 'node:child_process';
import { uws, type HttpResponse } from '../../src/proxy/uws';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION = Number(process.env.DURATION ?? 5);
const BODY = Buffer.from('ok\n');
const HEADERS: [string, string][] = [
  ['content-type', 'text/plain'],
  ['x-upstream', 'bench'],
  ['cache-control', 'no-store'],
];

function writeHead(res: HttpResponse): void {
  res.writeStatus('200 OK');
  for (const [k, v] of HEADERS) res.writeHeader(k, v);
}

type Mode = 'two-corks' | 'one-cork';

function serve(mode: Mode, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    uws
      .App()
      .any('/*', (res) => {
        let aborted = false;
        res.onAborted(() => (aborted = true));
        // Leave the uWS handler, as an upstream response would arrive later.
        setImmediate(() => {
          if (aborted) return;
          if (mode === 'two-corks') {
            res.cork(() => writeHead(res));
            res.cork(() => res.tryEnd(BODY, BODY.length));
          } else {
            res.cork(() => {
              writeHead(res);
              res.tryEnd(BODY, BODY.length);
            });
          }
        });
      })
      .listen('127.0.0.1', port, (token) => (token ? resolve() : reject(new Error(`cannot listen on ${port}`))));
  });
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function wrk(port: number): Promise<{ rps: number; requests: number }> {
  // wrk runs in its own process; the event loop here must stay free to serve, so run it async.
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', '-c50', `-d${DURATION}s`, `http://127.0.0.1:${port}/`], (err, stdout) => {
      if (err) return reject(err);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
      const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
      resolve({ rps, requests });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    // wrk --version exits 1 after printing; only a missing binary matters here.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('wrk is not installed (make bench-tools)');
  }
  const ports: Record<Mode, number> = { 'two-corks': 19201, 'one-cork': 19202 };
  await serve('two-corks', ports['two-corks']);
  await serve('one-cork', ports['one-cork']);
  const results: Record<Mode, { rps: number[]; cpuUs: number[] }> = { 'two-corks': { rps: [], cpuUs: [] }, 'one-cork': { rps: [], cpuUs: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['two-corks', 'one-cork'] as Mode[]) {
      const before = cpuSeconds();
      const r = await wrk(ports[mode]);
      const cpu = cpuSeconds() - before;
      results[mode].rps.push(r.rps);
      results[mode].cpuUs.push((cpu * 1e6) / r.requests);
    }
  }
  console.log(`head coalescing, ${ROUNDS} interleaved rounds x ${DURATION}s, wrk -t1 -c50`);
  console.log('mode        median req/s   CPU µs/request (median)');
  for (const mode of ['two-corks', 'one-cork'] as Mode[]) {
    console.log(`${mode.padEnd(10)} ${median(results[mode].rps).toFixed(0).padStart(13)}   ${median(results[mode].cpuUs).toFixed(2).padStart(10)}`);
  }
  const gain = median(results['one-cork'].rps) / median(results['two-corks'].rps);
  console.log(`one-cork / two-corks throughput: ${gain.toFixed(2)}x`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
