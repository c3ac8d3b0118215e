/**
 * What proxy-cache and request-transformer cost (`make bench-proxy-cache`), four contenders in one
 * run, all in front of the bench NGINX upstream (GET /tiny, 3 bytes), wrk -t1 -c50:
 *   fg-cache     Floodgate, proxy-cache on the route: every measured request is a Hit
 *   nginx-cache  NGINX proxy_cache (bench/nginx/proxy-cache.conf.tmpl): every measured request a HIT
 *   fg-plain     Floodgate, the same route without plugins
 *   fg-rt        Floodgate, request-transformer adding/removing headers and a query argument
 * One gateway process (WORKERS workers) serves the three Floodgate routes; NGINX gets as many
 * workers. Rounds are interleaved (the order rotates each round), medians. Headlines: fg-cache /
 * nginx-cache (a cache hit against NGINX's) and fg-rt / fg-plain (what the transform costs).
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 WORKERS=1 NGINX=/usr/sbin/nginx WRK=wrk
 *   OUT=bench/results/proxy-cache-<date>.md
 */
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchOnce } from '../peers/http-check';
import { envInt, envString, fileStamp } from '../peers/env';
import { startNginx } from '../peers/nginx-process';
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
const OUT = envString('OUT', join(ROOT, 'bench', 'results', `proxy-cache-${stamp}.md`));
const log = (msg: string) => process.stderr.write(`# ${msg}\n`);

type Id = 'fg-cache' | 'nginx-cache' | 'fg-plain' | 'fg-rt';

interface Contender {
  readonly id: Id;
  readonly port: number;
  readonly path: string;
  readonly runs: WrkResult[];
}

function gatewayYaml(upstreamPort: number): string {
  return `_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}/tiny
    routes:
      - name: cached
        paths: [/cached]
        plugins: [{ name: proxy-cache, config: { strategy: memory, cache_ttl: 3600 } }]
      - name: plain
        paths: [/plain]
      - name: transformed
        paths: [/rt]
        plugins:
          - name: request-transformer
            config:
              remove: { headers: [x-unwanted] }
              add: { headers: ["x-added:1", "x-tenant:bench"], querystring: ["source:gw"] }
`;
}

async function main(): Promise<void> {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-proxy-cache-'));
  const [upstreamPort, gwPort, nginxPort] = await freePorts(3);
  await startUpstream({ nginx: NGINX, root: ROOT, dir: join(dir, 'upstream'), port: upstreamPort, workers: 1 });
  const config = join(dir, 'floodgate.yaml');
  writeFileSync(config, gatewayYaml(upstreamPort));
  const gw: Service = startService('floodgate-proxy-cache', process.execPath, [
    'dist/src/cli.js', 'start', '-c', config,
    '--workers', String(WORKERS),
    '--listen', `127.0.0.1:${gwPort}`,
    '--admin-listen', 'off',
    '--access-log', 'off',
    '--drain-timeout', '2000',
  ], { cwd: ROOT, logPrefix: join(dir, 'floodgate') });
  await waitReady(gw, () => readLog(gw.stderrPath).includes('"msg":"floodgate listening"'));
  // NGINX workers may run as another user (nobody when started as root): the cache directory sits
  // outside the private temp dir and is open to them.
  const cacheDir = mkdtempSync(join(tmpdir(), 'floodgate-bench-nginx-cache-'));
  chmodSync(cacheDir, 0o777);
  await startNginx({
    name: 'nginx-cache',
    nginx: NGINX,
    template: join(ROOT, 'bench', 'nginx', 'proxy-cache.conf.tmpl'),
    dir: join(dir, 'nginx-cache'),
    values: { PORT: nginxPort, UPSTREAM_PORT: upstreamPort, WORKERS, CACHE_DIR: cacheDir },
    readyPath: '/',
  });
  const contenders: Contender[] = [
    { id: 'fg-cache', port: gwPort, path: '/cached', runs: [] },
    { id: 'nginx-cache', port: nginxPort, path: '/', runs: [] },
    { id: 'fg-plain', port: gwPort, path: '/plain', runs: [] },
    { id: 'fg-rt', port: gwPort, path: '/rt', runs: [] },
  ];
  // Fill both caches (each worker has its own store: a few requests reach every worker), then
  // check the hit is a hit.
  for (const c of contenders) for (let i = 0; i < 4 * WORKERS; i++) await fetchOnce({ port: c.port, path: c.path });
  for (const c of contenders) {
    const r = await fetchOnce({ port: c.port, path: c.path });
    if (r.status !== 200 || r.body.toString() !== 'ok\n') throw new Error(`${c.id}: GET ${c.path} got ${r.status} ${r.body}`);
    const status = String(r.headers['x-cache-status'] ?? '');
    if (c.id === 'fg-cache' && status !== 'Hit') throw new Error(`fg-cache: expected a Hit, got "${status}"`);
    if (c.id === 'nginx-cache' && status !== 'HIT') throw new Error(`nginx-cache: expected a HIT, got "${status}"`);
  }
  log(`upstream nginx :${upstreamPort}; floodgate :${gwPort} (${WORKERS} worker(s)); nginx-cache :${nginxPort}`);

  const load = (c: Contender, seconds: number) => runWrk({ wrk: WRK, threads: THREADS, conns: CONNS, seconds, url: `http://127.0.0.1:${c.port}${c.path}` });
  if (WARMUP > 0) for (const c of contenders) await load(c, WARMUP);

  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const shift = round % contenders.length;
    const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
    for (const c of order) {
      await sleep(PAUSE_MS);
      const r = await load(c, DURATION);
      c.runs.push(r);
      log(`round ${round + 1}/${ROUNDS} ${c.id.padEnd(11)} ${r.rps.toFixed(0).padStart(7)} rps  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}`);
    }
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (gw.exited) throw new Error(`floodgate exited during the run: ${gw.exitInfo}`);
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });

  const byId = (id: Id) => contenders.find((c) => c.id === id)!;
  const rps = (c: Contender) => median(c.runs.map((r) => r.rps));
  const cacheRatio = rps(byId('fg-cache')) / rps(byId('nginx-cache'));
  const rtRatio = rps(byId('fg-rt')) / rps(byId('fg-plain'));
  const row = (c: Contender) =>
    `| ${c.id} | ${rps(c).toFixed(0)} | ${median(c.runs.map((r) => r.p50ms)).toFixed(2)} | ${median(c.runs.map((r) => r.p99ms)).toFixed(2)} | ` +
    `${c.runs.reduce((n, r) => n + r.errors, 0)} | ${c.runs.map((r) => r.rps.toFixed(0)).join(' / ')} |`;
  const md = `# proxy-cache and request-transformer (${stamp})

${WORKERS} worker(s) for Floodgate and for NGINX, GET of a 3-byte body from the bench NGINX upstream.
wrk -t${THREADS} -c${CONNS}, ${DURATION} s per run, ${WARMUP} s warm-up, ${ROUNDS} interleaved rounds (order rotating), medians.
Measured rounds took ${minutes} min.

Machine: ${availableParallelism()} CPUs, node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.

**proxy-cache hit / NGINX proxy_cache hit: ${cacheRatio.toFixed(3)}x**
**request-transformer (headers + query) / no plugin: ${rtRatio.toFixed(3)}x**

| contender | req/s (median) | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---|
${contenders.map(row).join('\n')}

Reproduce: \`make bench-proxy-cache\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS; see bench/proxy-cache/main.ts).
`;
  process.stdout.write(md);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, md);
  log(`wrote ${OUT}`);
}

main().catch(async (err) => {
  process.stderr.write(`bench-proxy-cache failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
