/**
 * What metrics cost (`make bench-metrics`): the same gateway with `--metrics on` and
 * `--metrics off` (1 worker each, both running for the whole benchmark) in front of the bench
 * NGINX upstream, wrk -t1 -c50 on GET /tiny. Rounds are interleaved (on, off, off, on, ...: the
 * order alternates each round), medians; the headline is throughput with metrics on as a ratio to
 * metrics off (target: at least 0.95x). `/metrics` is scraped once per round on the "on" gateway,
 * so rendering is exercised but not measured as load.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 WORKERS=1 ROUTES=1
 *   NGINX=/usr/sbin/nginx WRK=wrk OUT=bench/results/metrics-<date>.md
 *
 * ROUTES > 1 adds that many extra routes (each with its own cell), to show the cost does not grow
 * with the route count (no per-request label lookup).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchOnce } from '../peers/http-check';
import { envInt, envString, fileStamp } from '../peers/env';
import { freePorts } from '../peers/ports';
import { installExitHooks, readLog, startService, stopAll, waitReady, type Service } from '../peers/procs';
import { median } from '../peers/stats';
import { startUpstream } from '../peers/upstream';
import { runWrk, type WrkResult } from '../peers/wrk';


const ROOT = resolve(__dirname, '../../..');
const ROUNDS = envInt('ROUNDS', 5);
const DURATION = envInt('DURATION', 5);
const WARMUP = envInt('WARMUP', 1);
const CONNS = envInt('CONNS', 50);
const THREADS = envInt('THREADS', 1);
const WORKERS = envInt('WORKERS', 1);
const ROUTES = Math.max(1, envInt('ROUTES', 1));
const PAUSE_MS = envInt('PAUSE_MS', 300);
const NGINX = envString('NGINX', '/usr/sbin/nginx');
const WRK = envString('WRK', 'wrk');

const stamp = fileStamp();
const OUT = envString('OUT', join(ROOT, 'bench', 'results', `metrics-${stamp}.md`));
const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

interface Contender {
  readonly id: 'on' | 'off';
  readonly port: number;
  readonly adminPort: number;
  readonly runs: WrkResult[];
  service?: Service;
}

function gatewayYaml(upstreamPort: number): string {
  const extra = Array.from({ length: ROUTES - 1 }, (_, i) => `      - name: extra-${i}\n        paths: [/extra-${i}/]`);
  return `_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}
    routes:
${extra.join('\n')}${extra.length > 0 ? '\n' : ''}      - name: tiny
        paths: [/tiny]
        strip_path: false
`;
}

async function startGateway(dir: string, c: Contender, config: string): Promise<Service> {
  const svc = startService(`floodgate-metrics-${c.id}`, process.execPath, [
    'dist/src/cli.js', 'start', '-c', config,
    '--workers', String(WORKERS),
    '--listen', `127.0.0.1:${c.port}`,
    '--admin-listen', `127.0.0.1:${c.adminPort}`,
    '--access-log', 'off',
    '--drain-timeout', '2000',
    '--metrics', c.id,
  ], { cwd: ROOT, logPrefix: join(dir, `floodgate-${c.id}`) });
  await waitReady(svc, () => readLog(svc.stderrPath).includes('"msg":"admin API listening"') && readLog(svc.stderrPath).includes('"msg":"floodgate listening"'));
  return svc;
}

async function scrapeCount(c: Contender): Promise<number> {
  const res = await fetchOnce({ port: c.adminPort, path: '/metrics' });
  if (res.status !== 200) throw new Error(`/metrics on ${c.id}: ${res.status}`);
  const m = /^floodgate_http_requests_total\{service="bench",route="tiny",code="200"\} (\d+)$/m.exec(res.body.toString());
  return m === null ? 0 : Number(m[1]);
}

async function main(): Promise<void> {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-metrics-'));
  const [upstreamPort, onPort, onAdmin, offPort, offAdmin] = await freePorts(5);
  await startUpstream({ nginx: NGINX, root: ROOT, dir: join(dir, 'upstream'), port: upstreamPort, workers: 1 });
  const config = join(dir, 'floodgate.yaml');
  writeFileSync(config, gatewayYaml(upstreamPort));
  const contenders: Contender[] = [
    { id: 'on', port: onPort, adminPort: onAdmin, runs: [] },
    { id: 'off', port: offPort, adminPort: offAdmin, runs: [] },
  ];
  for (const c of contenders) c.service = await startGateway(dir, c, config);
  for (const c of contenders) {
    const r = await fetchOnce({ port: c.port, path: '/tiny' });
    if (r.status !== 200) throw new Error(`metrics ${c.id}: GET /tiny got ${r.status} ${r.body}`);
  }
  log(`upstream nginx :${upstreamPort}; metrics on :${onPort}, off :${offPort}; ${WORKERS} worker(s), ${ROUTES} route(s)`);

  const load = (c: Contender, seconds: number) => runWrk({ wrk: WRK, threads: THREADS, conns: CONNS, seconds, url: `http://127.0.0.1:${c.port}/tiny` });
  if (WARMUP > 0) for (const c of contenders) await load(c, WARMUP);

  const started = Date.now();
  let counted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      await sleep(PAUSE_MS);
      const r = await load(c, DURATION);
      c.runs.push(r);
      log(`round ${round + 1}/${ROUNDS} metrics ${c.id.padEnd(3)} ${r.rps.toFixed(0).padStart(7)} rps  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}`);
    }
    counted = await scrapeCount(contenders[0]);
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  for (const c of contenders) if (c.service!.exited) throw new Error(`metrics ${c.id} exited during the run: ${c.service!.exitInfo}`);
  await stopAll();
  rmSync(dir, { recursive: true, force: true });

  const med = (c: Contender, f: (r: WrkResult) => number) => median(c.runs.map(f));
  const [on, off] = contenders;
  const ratio = med(on, (r) => r.rps) / med(off, (r) => r.rps);
  const row = (c: Contender) =>
    `| metrics ${c.id} | ${med(c, (r) => r.rps).toFixed(0)} | ${(med(c, (r) => r.rps) / med(off, (r) => r.rps)).toFixed(3)} | ` +
    `${med(c, (r) => r.p50ms).toFixed(2)} | ${med(c, (r) => r.p99ms).toFixed(2)} | ${c.runs.reduce((n, r) => n + r.errors, 0)} | ${c.runs.map((r) => r.rps.toFixed(0)).join(' / ')} |`;
  const md = `# Metrics overhead (${stamp})

Floodgate \`--metrics on\` vs \`--metrics off\`, ${WORKERS} worker(s) each, ${ROUTES} route(s), in front of NGINX
(\`bench/nginx/bench-upstream.conf.tmpl\`, GET /tiny). wrk -t${THREADS} -c${CONNS}, ${DURATION} s per run, ${WARMUP} s warm-up,
${ROUNDS} interleaved rounds (order alternating), medians. /metrics scraped once per round (not under load).
The "on" gateway counted ${counted} requests on the measured route by the last scrape. Measured rounds took ${minutes} min.

Machine: ${availableParallelism()} CPUs, node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.

**Throughput with metrics on / off: ${ratio.toFixed(3)}x** (target >= 0.95x).

| contender | req/s (median) | vs off | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${row(on)}
${row(off)}

Reproduce: \`make bench-metrics\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS ROUTES; see bench/metrics/main.ts).
`;
  process.stdout.write(md);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, md);
  log(`wrote ${OUT}`);
}

main().catch(async (err) => {
  process.stderr.write(`bench-metrics failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
