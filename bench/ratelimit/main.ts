/**
 * What rate limiting costs under proxy load (`make bench-ratelimit`): one gateway in front of the
 * bench NGINX upstream, with four routes in the same process: no plugin (the plain proxy), the
 * local policy (node-wide shared table), the redis policy counting every request (sync_rate -1)
 * and the redis policy with batched sync (sync_rate 1), all with a limit high enough never to
 * refuse. wrk -t1 -c50 on each route in turn, ROUNDS interleaved rounds (the order rotates each
 * round), medians and ratios to the plain proxy of the same run.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 WORKERS=1
 *   NGINX=/usr/sbin/nginx WRK=wrk REDIS=redis-server OUT=bench/results/ratelimit-<date>.md
 *
 * All requests come from one client address, so every rate-limited request hits the same counter:
 * the most contended case for the shared table (with WORKERS=2, both workers lock the same bucket).
 */
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
const REDIS = envString('REDIS', ['/usr/bin/redis-server', '/usr/sbin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server');
/** Never reached in a run: the bench measures the cost of counting, not of refusing. */
const NEVER = 1_000_000_000;

const stamp = fileStamp();
const OUT = envString('OUT', join(ROOT, 'bench', 'results', `ratelimit-${stamp}.md`));

const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

interface Cell {
  readonly id: string;
  readonly path: string;
  readonly runs: WrkResult[];
}

function gatewayYaml(upstreamPort: number, redisPort: number): string {
  const redis = `policy: redis, redis: { host: 127.0.0.1, port: ${redisPort} }`;
  return `_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: plain
        paths: [/plain/]
        strip_path: true
      - name: local
        paths: [/local/]
        strip_path: true
        plugins: [{ name: rate-limiting, config: { minute: ${NEVER}, limit_by: ip } }]
      - name: redis
        paths: [/redis/]
        strip_path: true
        plugins: [{ name: rate-limiting, config: { minute: ${NEVER}, limit_by: ip, ${redis} } }]
      - name: redis-sync
        paths: [/redis-sync/]
        strip_path: true
        plugins: [{ name: rate-limiting, config: { minute: ${NEVER}, limit_by: ip, sync_rate: 1, ${redis} } }]
`;
}

async function main(): Promise<void> {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-ratelimit-'));
  const [upstreamPort, redisPort, gwPort] = await freePorts(3);
  log(`upstream nginx on ${upstreamPort}; redis on ${redisPort}; gateway (${WORKERS} worker(s)) on ${gwPort}`);
  await startUpstream({ nginx: NGINX, root: ROOT, dir: join(dir, 'upstream'), port: upstreamPort, workers: 1 });
  const redis = startService('redis', REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    logPrefix: join(dir, 'redis'),
  });
  await waitReady(redis, () => readLog(redis.stdoutPath).includes('Ready to accept connections'));

  const config = join(dir, 'floodgate.yaml');
  writeFileSync(config, gatewayYaml(upstreamPort, redisPort));
  const gateway: Service = startService('floodgate', process.execPath, [
    'dist/src/cli.js', 'start', '-c', config,
    '--workers', String(WORKERS),
    '--listen', `127.0.0.1:${gwPort}`,
    '--admin-listen', 'off',
    '--access-log', 'off',
    '--drain-timeout', '2000',
  ], { cwd: ROOT, logPrefix: join(dir, 'floodgate') });
  await waitReady(gateway, () => readLog(gateway.stderrPath).includes('"msg":"floodgate listening"'));

  const cells: Cell[] = [
    { id: 'plain proxy', path: '/plain/tiny', runs: [] },
    { id: 'local', path: '/local/tiny', runs: [] },
    { id: 'redis sync_rate -1', path: '/redis/tiny', runs: [] },
    { id: 'redis sync_rate 1', path: '/redis-sync/tiny', runs: [] },
  ];
  // Verify: every route answers 200, the limited ones with the rate-limit headers.
  for (const c of cells) {
    const r = await fetchOnce({ port: gwPort, path: c.path, headers: {} });
    if (r.status !== 200) throw new Error(`${c.id}: expected 200, got ${r.status} ${r.body}`);
  }
  log(`verified ${cells.length} routes; warm-up ${WARMUP}s each`);

  const load = (c: Cell, seconds: number) => runWrk({ wrk: WRK, threads: THREADS, conns: CONNS, seconds, url: `http://127.0.0.1:${gwPort}${c.path}` });
  if (WARMUP > 0) for (const c of cells) await load(c, WARMUP);

  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const order = cells.map((_, i) => cells[(i + round) % cells.length]);
    for (const c of order) {
      await sleep(PAUSE_MS);
      const r = await load(c, DURATION);
      c.runs.push(r);
      log(`round ${round + 1}/${ROUNDS} ${c.id.padEnd(20)} ${r.rps.toFixed(0).padStart(7)} rps  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}`);
    }
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (gateway.exited) throw new Error(`the gateway exited during the run: ${gateway.exitInfo}`);
  await stopAll();
  rmSync(dir, { recursive: true, force: true });

  const med = (c: Cell, f: (r: WrkResult) => number) => median(c.runs.map(f));
  const plainRps = med(cells[0], (r) => r.rps);
  const rows = cells.map((c) => {
    const rps = med(c, (r) => r.rps);
    return `| ${c.id} | ${rps.toFixed(0)} | ${(rps / plainRps).toFixed(2)}× | ${med(c, (r) => r.p50ms).toFixed(2)} | ${med(c, (r) => r.p99ms).toFixed(2)} | ` +
      `${c.runs.reduce((n, r) => n + r.errors, 0)} | ${c.runs.map((r) => r.rps.toFixed(0)).join(' / ')} |`;
  });
  const md = `# Rate limiting under proxy load (${stamp})

Floodgate, ${WORKERS} worker(s) (\`--access-log off\`), in front of NGINX (GET /tiny, 1 worker
process); redis-server ${REDIS} on loopback. One gateway, four routes: no plugin, rate-limiting
\`policy: local\`, \`policy: redis\` with \`sync_rate: -1\` and with \`sync_rate: 1\`, each
\`minute: ${NEVER}, limit_by: ip\` (never refuses: this measures counting). wrk -t${THREADS} -c${CONNS},
${DURATION} s per run, ${WARMUP} s warm-up per route, ${ROUNDS} interleaved rounds (order rotated per
round), medians. Measured rounds took ${minutes} min. The aim for local is at least 0.90× the plain proxy.

Machine: ${availableParallelism()} CPUs, node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.
wrk, NGINX, redis and the gateway share these CPUs.

| contender | req/s (median) | vs plain proxy | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${rows.join('\n')}
`;
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, md);
  process.stdout.write(md);
  log(`report: ${OUT}`);
}

main().catch(async (err) => {
  process.stderr.write(`bench-ratelimit failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
