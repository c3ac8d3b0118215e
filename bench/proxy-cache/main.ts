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
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchOnce } from '../peers/http-check';
import { envInt } from '../peers/env';
import { startNginx } from '../peers/nginx-process';
import { freePorts } from '../peers/ports';
import type { WrkResult } from '../peers/wrk';
import { benchServiceYaml, startGateway } from '../lib/floodgate';
import { benchDir, finish, log, runBench, startBenchUpstream } from '../lib/harness';
import { machineLine, medianRps, publish, resultRow } from '../lib/report';
import { runRounds, wrk } from '../lib/rounds';
import { benchSettings } from '../lib/settings';

const S = benchSettings('proxy-cache');
const WORKERS = envInt('WORKERS', 1);

type Id = 'fg-cache' | 'nginx-cache' | 'fg-plain' | 'fg-rt';

interface Contender {
  readonly id: Id;
  readonly port: number;
  readonly path: string;
  readonly runs: WrkResult[];
}

function gatewayYaml(upstreamPort: number): string {
  return benchServiceYaml(`http://127.0.0.1:${upstreamPort}/tiny`, `      - name: cached
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
`);
}

async function main(): Promise<void> {
  const dir = benchDir('proxy-cache');
  const [upstreamPort, gwPort, nginxPort] = await freePorts(3);
  await startBenchUpstream(S, dir, upstreamPort);
  const gw = await startGateway({
    name: 'floodgate-proxy-cache', root: S.root, dir, file: 'floodgate', yaml: gatewayYaml(upstreamPort), workers: WORKERS, port: gwPort,
  });
  // NGINX workers may run as another user (nobody when started as root): the cache directory sits
  // outside the private temp dir and is open to them.
  const cacheDir = mkdtempSync(join(tmpdir(), 'floodgate-bench-nginx-cache-'));
  chmodSync(cacheDir, 0o777);
  await startNginx({
    name: 'nginx-cache',
    nginx: S.nginx,
    template: join(S.root, 'bench', 'nginx', 'proxy-cache.conf.tmpl'),
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

  const minutes = await runRounds(S, {
    groups: [contenders],
    order: { rotate: 1 },
    load: (c, seconds) => wrk(S, `http://127.0.0.1:${c.port}${c.path}`, seconds),
    label: (c) => c.id.padEnd(11),
  });
  await finish([gw], [dir, cacheDir]);

  const rps = (id: Id) => medianRps(contenders.find((c) => c.id === id)!.runs);
  const cacheRatio = rps('fg-cache') / rps('nginx-cache');
  const rtRatio = rps('fg-rt') / rps('fg-plain');
  const md = `# proxy-cache and request-transformer (${S.stamp})

${WORKERS} worker(s) for Floodgate and for NGINX, GET of a 3-byte body from the bench NGINX upstream.
wrk -t${S.threads} -c${S.conns}, ${S.duration} s per run, ${S.warmup} s warm-up, ${S.rounds} interleaved rounds (order rotating), medians.
Measured rounds took ${minutes} min.

${machineLine()}

**proxy-cache hit / NGINX proxy_cache hit: ${cacheRatio.toFixed(3)}x**
**request-transformer (headers + query) / no plugin: ${rtRatio.toFixed(3)}x**

| contender | req/s (median) | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---|
${contenders.map((c) => resultRow(c.id, c.runs)).join('\n')}

Reproduce: \`make bench-proxy-cache\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS; see bench/proxy-cache/main.ts).
`;
  publish(S.out, md);
}

runBench('proxy-cache', main);
