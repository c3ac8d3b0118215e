/**
 * What TLS costs (`make bench-tls`): Floodgate's HTTPS listener against NGINX terminating TLS,
 * 1 worker each, both in front of the bench NGINX upstream, the same ECDSA P-256 certificate
 * (made by openssl for the run), protocols and TLS 1.2 suites. Floodgate's plain listener (same
 * process) is the reference for what TLS itself costs.
 *
 * Two scenarios, wrk -t1 -cCONNS on GET /tiny:
 *   - keepalive: HTTPS/1.1 requests on kept-alive connections (throughput);
 *   - handshake: `Connection: close`, so every request is a new TCP + TLS connection (full
 *     handshakes: wrk does not resume sessions), i.e. new connections per second.
 * Rounds are interleaved (contender order alternating), medians; ratios to NGINX.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 NGINX=/usr/sbin/nginx WRK=wrk OUT=bench/results/tls-<date>.md
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TLS12_CIPHERS } from '../../src/tls/listener';
import { envInt, envString, fileStamp } from '../peers/env';
import { fetchOnce } from '../peers/http-check';
import { startNginx } from '../peers/nginx-process';
import { freePorts } from '../peers/ports';
import { installExitHooks, readLog, startService, stopAll, waitReady } from '../peers/procs';
import { median } from '../peers/stats';
import { startUpstream } from '../peers/upstream';
import { runWrk, type WrkResult } from '../peers/wrk';

const ROOT = resolve(__dirname, '../../..');
const ROUNDS = envInt('ROUNDS', 5);
const DURATION = envInt('DURATION', 5);
const WARMUP = envInt('WARMUP', 1);
const CONNS = envInt('CONNS', 50);
const THREADS = envInt('THREADS', 1);
const PAUSE_MS = envInt('PAUSE_MS', 300);
const NGINX = envString('NGINX', '/usr/sbin/nginx');
const WRK = envString('WRK', 'wrk');
const stamp = fileStamp();
const OUT = envString('OUT', join(ROOT, 'bench', 'results', `tls-${stamp}.md`));
const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

type Scenario = 'keepalive' | 'handshake';
interface Contender {
  readonly id: string;
  readonly url: string;
  readonly runs: Record<Scenario, WrkResult[]>;
}

async function main(): Promise<void> {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-tls-'));
  const [upstreamPort, fgPort, fgTls, fgAdmin, ngPort, ngTls] = await freePorts(6);
  await startUpstream({ nginx: NGINX, root: ROOT, dir: join(dir, 'upstream'), port: upstreamPort, workers: 1 });

  const cert = join(dir, 'bench.crt');
  const key = join(dir, 'bench.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-keyout', key, '-out', cert, '-subj', '/CN=localhost'], { stdio: 'ignore' });

  const config = join(dir, 'floodgate.yaml');
  writeFileSync(config, `_format_version: "3.0"\nservices:\n  - name: bench\n    url: http://127.0.0.1:${upstreamPort}\n    routes:\n      - name: tiny\n        paths: [/tiny]\n        strip_path: false\n`);
  const fg = startService('floodgate-tls', process.execPath, [
    'dist/src/cli.js', 'start', '-c', config, '--workers', '1',
    '--listen', `127.0.0.1:${fgPort}`, '--listen-tls', `127.0.0.1:${fgTls}`, '--tls-cert', cert, '--tls-key', key,
    '--admin-listen', `127.0.0.1:${fgAdmin}`, '--access-log', 'off', '--drain-timeout', '2000',
  ], { cwd: ROOT, logPrefix: join(dir, 'floodgate') });
  await waitReady(fg, () => readLog(fg.stderrPath).includes('"msg":"floodgate listening"'));
  await startNginx({
    name: 'nginx-tls', nginx: NGINX, template: join(ROOT, 'bench', 'nginx', 'tls-proxy.conf.tmpl'), dir: join(dir, 'nginx'),
    values: { PORT: ngPort, TLS_PORT: ngTls, UPSTREAM_PORT: upstreamPort, CERT: cert, KEY: key, CIPHERS: TLS12_CIPHERS },
    readyPath: '/tiny',
  });
  const r = await fetchOnce({ port: fgPort, path: '/tiny' });
  if (r.status !== 200) throw new Error(`floodgate GET /tiny got ${r.status}`);

  const empty = () => ({ keepalive: [], handshake: [] });
  const contenders: Contender[] = [
    { id: 'nginx https', url: `https://127.0.0.1:${ngTls}/tiny`, runs: empty() },
    { id: 'floodgate https', url: `https://127.0.0.1:${fgTls}/tiny`, runs: empty() },
    { id: 'floodgate http', url: `http://127.0.0.1:${fgPort}/tiny`, runs: empty() },
  ];
  const load = (c: Contender, s: Scenario, seconds: number) =>
    runWrk({ wrk: WRK, threads: THREADS, conns: CONNS, seconds, url: c.url, headers: s === 'handshake' ? { Connection: 'close' } : undefined });
  if (WARMUP > 0) for (const c of contenders) for (const s of ['keepalive', 'handshake'] as const) await load(c, s, WARMUP);

  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of ['keepalive', 'handshake'] as const) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) {
        await sleep(PAUSE_MS);
        const res = await load(c, s, DURATION);
        c.runs[s].push(res);
        log(`round ${round + 1}/${ROUNDS} ${s.padEnd(9)} ${c.id.padEnd(15)} ${res.rps.toFixed(0).padStart(7)} rps  p50 ${res.p50ms.toFixed(2)} ms  p99 ${res.p99ms.toFixed(2)} ms  errors ${res.errors}`);
      }
    }
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (fg.exited) throw new Error(`floodgate exited during the run: ${fg.exitInfo}`);
  await stopAll();
  rmSync(dir, { recursive: true, force: true });

  const med = (c: Contender, s: Scenario, f: (r: WrkResult) => number) => median(c.runs[s].map(f));
  const table = (s: Scenario) => {
    const base = med(contenders[0], s, (x) => x.rps);
    return contenders
      .map((c) => `| ${c.id} | ${med(c, s, (x) => x.rps).toFixed(0)} | ${(med(c, s, (x) => x.rps) / base).toFixed(2)} | ${med(c, s, (x) => x.p50ms).toFixed(2)} | ${med(c, s, (x) => x.p99ms).toFixed(2)} | ${c.runs[s].reduce((n, x) => n + x.errors, 0)} | ${c.runs[s].map((x) => x.rps.toFixed(0)).join(' / ')} |`)
      .join('\n');
  };
  const head = '| contender | req/s (median) | vs NGINX https | p50 ms | p99 ms | errors | req/s per round |\n|---|---:|---:|---:|---:|---:|---|';
  const md = `# TLS termination (${stamp})

Floodgate (1 worker) and NGINX (1 worker) terminating TLS in front of the bench NGINX upstream, ECDSA P-256,
TLS 1.2/1.3 with the same TLS 1.2 suites (wrk negotiates TLS 1.3). wrk -t${THREADS} -c${CONNS}, ${DURATION} s per run, ${WARMUP} s warm-up,
${ROUNDS} interleaved rounds, medians. Measured rounds took ${minutes} min.
Machine: ${availableParallelism()} CPUs, node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.

## HTTPS/1.1, kept-alive connections (GET /tiny)

${head}
${table('keepalive')}

## New connection per request (\`Connection: close\`: TCP + full TLS handshake each)

${head}
${table('handshake')}

In the second table, Floodgate's "errors" are wrk read errors, not failed requests: uWS v20.30 closes the connection
after answering a \`Connection: close\` request without saying so in the response, so wrk writes its next request on
the closing socket, sees EOF and reconnects. Every request still costs one new connection.

Reproduce: \`make bench-tls\` (env: ROUNDS DURATION WARMUP CONNS THREADS; see bench/tls/main.ts).
`;
  process.stdout.write(md);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, md);
  log(`wrote ${OUT}`);
}

main().catch(async (err) => {
  process.stderr.write(`bench-tls failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
