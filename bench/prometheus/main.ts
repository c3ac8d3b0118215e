/**
 * What Kong's prometheus plugin costs (`make bench-prometheus`): the same gateway without and
 * with a global `prometheus` entry (status_code_metrics, latency_metrics, bandwidth_metrics and
 * upstream_health_metrics on; per_consumer off, as no consumer authenticates here), 1 worker
 * each, both running for the whole benchmark, in front of the bench NGINX upstream, wrk -t1 -c50
 * on GET /tiny. Rounds are interleaved (on, off, off, on, ...: the order alternates each round),
 * medians; the headline is throughput with the plugin on as a ratio to off. `/metrics` is scraped
 * once per round on the "on" gateway (not under load), and must show Kong's counter.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 WORKERS=1
 *   NGINX=/usr/sbin/nginx WRK=wrk OUT=bench/results/prometheus-<date>.md
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
const PAUSE_MS = envInt('PAUSE_MS', 300);
const NGINX = envString('NGINX', '/usr/sbin/nginx');
const WRK = envString('WRK', 'wrk');

const stamp = fileStamp();
const OUT = envString('OUT', join(ROOT, 'bench', 'results', `prometheus-${stamp}.md`));
const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

interface Contender {
  readonly id: 'on' | 'off';
  readonly port: number;
  readonly adminPort: number;
  readonly runs: WrkResult[];
  service?: Service;
}

function gatewayYaml(upstreamPort: number, prometheus: boolean): string {
  const plugin = `plugins:
  - name: prometheus
    config: { status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true }
`;
  return `_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: tiny
        paths: [/tiny]
        strip_path: false
${prometheus ? plugin : ''}`;
}

async function startGateway(dir: string, c: Contender, config: string): Promise<Service> {
  const svc = startService(`floodgate-prometheus-${c.id}`, process.execPath, [
    'dist/src/cli.js', 'start', '-c', config,
    '--workers', String(WORKERS),
    '--listen', `127.0.0.1:${c.port}`,
    '--admin-listen', `127.0.0.1:${c.adminPort}`,
    '--access-log', 'off',
    '--drain-timeout', '2000',
  ], { cwd: ROOT, logPrefix: join(dir, `floodgate-${c.id}`) });
  await waitReady(svc, () => readLog(svc.stderrPath).includes('"msg":"admin API listening"') && readLog(svc.stderrPath).includes('"msg":"floodgate listening"'));
  return svc;
}

async function scrapeCount(c: Contender): Promise<number> {
  const res = await fetchOnce({ port: c.adminPort, path: '/metrics' });
  if (res.status !== 200) throw new Error(`/metrics on ${c.id}: ${res.status}`);
  const m = /^kong_http_requests_total\{service="bench",route="tiny",code="200",source="service",workspace="default",consumer=""\} (\d+)$/m.exec(res.body.toString());
  return m === null ? 0 : Number(m[1]);
}

async function main(): Promise<void> {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-prometheus-'));
  const [upstreamPort, onPort, onAdmin, offPort, offAdmin] = await freePorts(5);
  await startUpstream({ nginx: NGINX, root: ROOT, dir: join(dir, 'upstream'), port: upstreamPort, workers: 1 });
  const configs = { on: join(dir, 'prometheus-on.yaml'), off: join(dir, 'prometheus-off.yaml') };
  writeFileSync(configs.on, gatewayYaml(upstreamPort, true));
  writeFileSync(configs.off, gatewayYaml(upstreamPort, false));
  const contenders: Contender[] = [
    { id: 'on', port: onPort, adminPort: onAdmin, runs: [] },
    { id: 'off', port: offPort, adminPort: offAdmin, runs: [] },
  ];
  for (const c of contenders) c.service = await startGateway(dir, c, configs[c.id]);
  for (const c of contenders) {
    const r = await fetchOnce({ port: c.port, path: '/tiny' });
    if (r.status !== 200) throw new Error(`prometheus ${c.id}: GET /tiny got ${r.status} ${r.body}`);
  }
  log(`upstream nginx :${upstreamPort}; prometheus on :${onPort}, off :${offPort}; ${WORKERS} worker(s)`);

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
      log(`round ${round + 1}/${ROUNDS} prometheus ${c.id.padEnd(3)} ${r.rps.toFixed(0).padStart(7)} rps  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}`);
    }
    counted = await scrapeCount(contenders[0]);
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (counted === 0) throw new Error('the "on" gateway shows no kong_http_requests_total for the measured route');
  for (const c of contenders) if (c.service!.exited) throw new Error(`prometheus ${c.id} exited during the run: ${c.service!.exitInfo}`);
  await stopAll();
  rmSync(dir, { recursive: true, force: true });

  const med = (c: Contender, f: (r: WrkResult) => number) => median(c.runs.map(f));
  const [on, off] = contenders;
  const ratio = med(on, (r) => r.rps) / med(off, (r) => r.rps);
  const row = (c: Contender) =>
    `| prometheus ${c.id} | ${med(c, (r) => r.rps).toFixed(0)} | ${(med(c, (r) => r.rps) / med(off, (r) => r.rps)).toFixed(3)} | ` +
    `${med(c, (r) => r.p50ms).toFixed(2)} | ${med(c, (r) => r.p99ms).toFixed(2)} | ${c.runs.reduce((n, r) => n + r.errors, 0)} | ${c.runs.map((r) => r.rps.toFixed(0)).join(' / ')} |`;
  const md = `# prometheus plugin overhead (${stamp})

Floodgate with a global \`prometheus\` entry (status code, latency, bandwidth and upstream health
metrics on) vs without, ${WORKERS} worker(s) each, \`--metrics on\` for both, in front of NGINX
(\`bench/nginx/bench-upstream.conf.tmpl\`, GET /tiny). wrk -t${THREADS} -c${CONNS}, ${DURATION} s per run, ${WARMUP} s warm-up,
${ROUNDS} interleaved rounds (order alternating), medians. /metrics scraped once per round (not under load).
The "on" gateway's kong_http_requests_total counted ${counted} requests on the measured route by the last scrape. Measured rounds took ${minutes} min.

Machine: ${availableParallelism()} CPUs, node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.

**Throughput with the prometheus plugin on / off: ${ratio.toFixed(3)}x**.

| contender | req/s (median) | vs off | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${row(on)}
${row(off)}

Reproduce: \`make bench-prometheus\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS; see bench/prometheus/main.ts).
`;
  process.stdout.write(md);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, md);
  log(`wrote ${OUT}`);
}

main().catch(async (err) => {
  process.stderr.write(`bench-prometheus failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
