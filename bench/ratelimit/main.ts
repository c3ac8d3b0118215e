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
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { envInt, envString } from '../peers/env';
import { freePorts } from '../peers/ports';
import { readLog, startService, waitReady } from '../peers/procs';
import type { WrkResult } from '../peers/wrk';
import { benchServiceYaml, expectOk, startGateway } from '../lib/floodgate';
import { benchDir, finish, log, runBench, startBenchUpstream } from '../lib/harness';
import { machineLine, medianRps, publish, resultRow } from '../lib/report';
import { runRounds, wrk } from '../lib/rounds';
import { benchSettings } from '../lib/settings';

const S = benchSettings('ratelimit');
const WORKERS = envInt('WORKERS', 1);
const REDIS = envString('REDIS', ['/usr/bin/redis-server', '/usr/sbin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server');
/** Never reached in a run: the bench measures the cost of counting, not of refusing. */
const NEVER = 1_000_000_000;

interface Cell {
  readonly id: string;
  readonly path: string;
  readonly runs: WrkResult[];
}

function gatewayYaml(upstreamPort: number, redisPort: number): string {
  const redis = `policy: redis, redis: { host: 127.0.0.1, port: ${redisPort} }`;
  return benchServiceYaml(`http://127.0.0.1:${upstreamPort}`, `      - name: plain
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
`);
}

async function main(): Promise<void> {
  const dir = benchDir('ratelimit');
  const [upstreamPort, redisPort, gwPort] = await freePorts(3);
  log(`upstream nginx on ${upstreamPort}; redis on ${redisPort}; gateway (${WORKERS} worker(s)) on ${gwPort}`);
  await startBenchUpstream(S, dir, upstreamPort);
  const redis = startService('redis', REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    logPrefix: join(dir, 'redis'),
  });
  await waitReady(redis, () => readLog(redis.stdoutPath).includes('Ready to accept connections'));
  const gateway = await startGateway({
    name: 'floodgate', root: S.root, dir, file: 'floodgate', yaml: gatewayYaml(upstreamPort, redisPort), workers: WORKERS, port: gwPort,
  });

  const cells: Cell[] = [
    { id: 'plain proxy', path: '/plain/tiny', runs: [] },
    { id: 'local', path: '/local/tiny', runs: [] },
    { id: 'redis sync_rate -1', path: '/redis/tiny', runs: [] },
    { id: 'redis sync_rate 1', path: '/redis-sync/tiny', runs: [] },
  ];
  // Verify: every route answers 200.
  for (const c of cells) await expectOk(c.id, gwPort, c.path);
  log(`verified ${cells.length} routes; warm-up ${S.warmup}s each`);

  const minutes = await runRounds(S, {
    groups: [cells],
    order: { rotate: 1 },
    load: (c, seconds) => wrk(S, `http://127.0.0.1:${gwPort}${c.path}`, seconds),
    label: (c) => c.id.padEnd(20),
  });
  await finish([gateway, redis], [dir]);

  const plainRps = medianRps(cells[0].runs);
  const rows = cells.map((c) => resultRow(c.id, c.runs, [`${(medianRps(c.runs) / plainRps).toFixed(2)}×`]));
  const md = `# Rate limiting under proxy load (${S.stamp})

Floodgate, ${WORKERS} worker(s) (\`--access-log off\`), in front of NGINX (GET /tiny, 1 worker
process); redis-server ${REDIS} on loopback. One gateway, four routes: no plugin, rate-limiting
\`policy: local\`, \`policy: redis\` with \`sync_rate: -1\` and with \`sync_rate: 1\`, each
\`minute: ${NEVER}, limit_by: ip\` (never refuses: this measures counting). wrk -t${S.threads} -c${S.conns},
${S.duration} s per run, ${S.warmup} s warm-up per route, ${S.rounds} interleaved rounds (order rotated per
round), medians. Measured rounds took ${minutes} min. The aim for local is at least 0.90× the plain proxy.

${machineLine()}
wrk, NGINX, redis and the gateway share these CPUs.

| contender | req/s (median) | vs plain proxy | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${rows.join('\n')}
`;
  publish(S.out, md);
}

runBench('ratelimit', main);
