/**
 * What each load-balancing algorithm and the health checks cost, as throughput ratios to plain
 * round-robin measured in the same run (GUIDE §6): Floodgate (1 worker) in front of three NGINX
 * upstreams (bench/nginx/bench-upstream.conf.tmpl, GET /tiny), one gateway per contender, all
 * started up front; wrk rounds interleaved A B C D E F A B C ...; medians of the rounds.
 *
 *   make bench-balancer                      (ROUNDS=5 DURATION=10 WARMUP=2 CONNS=50 by default)
 *   ROUNDS=1 DURATION=1 WARMUP=0 make bench-balancer     (a smoke run, proves the harness works)
 *   also CONNS THREADS NGINX WRK OUT (bench/lib/settings.ts)
 *
 * Report: stdout and bench/results/balancer-<date>.md.
 */
import { join } from 'node:path';
import { freePorts } from '../peers/ports';
import { readLog, type Service } from '../peers/procs';
import type { WrkResult } from '../peers/wrk';
import { startGateway } from '../lib/floodgate';
import { benchDir, finish, runBench, startBenchUpstream } from '../lib/harness';
import { medianOf, medianRps, publish } from '../lib/report';
import { wrk } from '../lib/rounds';
import { benchSettings } from '../lib/settings';

const S = benchSettings('balancer', { duration: 10, warmup: 2 });
const ROTATE = join(S.root, 'bench', 'balancer', 'rotate-user.lua');

interface Contender {
  readonly id: string;
  readonly what: string;
  /** The upstream block's extra lines (after `- name: pool`). */
  readonly upstream: string;
  readonly rotateUsers?: boolean;
}

const CONTENDERS: Contender[] = [
  { id: 'round-robin', what: 'algorithm: round-robin (the baseline)', upstream: 'algorithm: round-robin' },
  { id: 'least-connections', what: 'algorithm: least-connections', upstream: 'algorithm: least-connections' },
  {
    id: 'consistent-hashing',
    what: 'consistent-hashing, hash_on header X-User (1000 users rotating)',
    upstream: 'algorithm: consistent-hashing\n    hash_on: header\n    hash_on_header: x-user',
    rotateUsers: true,
  },
  { id: 'latency', what: 'algorithm: latency (EWMA + power of two choices)', upstream: 'algorithm: latency' },
  {
    id: 'rr+active',
    what: 'round-robin + active checks (GET /tiny every 0.1 s per target)',
    upstream:
      'healthchecks:\n      active:\n        http_path: /tiny\n        healthy: { interval: 0.1, successes: 1 }\n        unhealthy: { interval: 0.1, http_failures: 2, tcp_failures: 2 }',
  },
  {
    id: 'rr+passive',
    what: 'round-robin + passive checks (every response classified and counted)',
    upstream: 'healthchecks:\n      passive:\n        healthy: { successes: 2 }\n        unhealthy: { http_failures: 5, tcp_failures: 2, timeouts: 2 }',
  },
];

function gatewayYaml(c: Contender, upstreamPorts: readonly number[]): string {
  return `_format_version: "3.0"
services:
  - name: bench
    host: pool
    routes:
      - name: all
        paths: [/]
        strip_path: false
upstreams:
  - name: pool
    ${c.upstream}
    targets:
${upstreamPorts.map((p) => `      - target: 127.0.0.1:${p}`).join('\n')}
`;
}

async function main(): Promise<void> {
  const dir = benchDir('balancer');
  const ports = await freePorts(3 + CONTENDERS.length * 2);
  const upstreamPorts = ports.slice(0, 3);
  for (const [i, port] of upstreamPorts.entries()) await startBenchUpstream(S, dir, port, `upstream-${i}`);
  const gateways = new Map<string, number>();
  const services: Service[] = [];
  for (const [i, c] of CONTENDERS.entries()) {
    const port = ports[3 + i * 2];
    services.push(await startGateway({
      name: c.id, root: S.root, dir, file: c.id, yaml: gatewayYaml(c, upstreamPorts), workers: 1, port, adminPort: ports[4 + i * 2],
      extraArgs: ['--log-level', 'warn'], readyPath: '/tiny',
    }));
    gateways.set(c.id, port);
  }
  // Not bench/lib's runRounds: this bench has always warmed up before every run and kept the
  // order A B C ... in every round; changing that would make old and new reports incomparable.
  const results = new Map<string, WrkResult[]>(CONTENDERS.map((c) => [c.id, []]));
  for (let round = 1; round <= S.rounds; round++) {
    for (const c of CONTENDERS) {
      const url = `http://127.0.0.1:${gateways.get(c.id)}/tiny`;
      const script = c.rotateUsers ? { script: ROTATE, scriptArgs: ['1000'] } : {};
      if (S.warmup > 0) await wrk(S, url, S.warmup, script);
      const r = await wrk(S, url, S.duration, script);
      results.get(c.id)!.push(r);
      process.stdout.write(`round ${round}/${S.rounds} ${c.id.padEnd(20)} ${Math.round(r.rps)} req/s p99 ${r.p99ms} ms errors ${r.errors}\n`);
    }
  }
  const base = medianRps(results.get('round-robin')!);
  const lines = [
    `# Balancer cost (${new Date().toISOString()})`,
    '',
    `Floodgate 1 worker -> 3 NGINX upstreams (GET /tiny), wrk -t${S.threads} -c${S.conns}, ${S.rounds} interleaved rounds of ${S.duration} s (warm-up ${S.warmup} s), medians.`,
    'Ratios are to plain round-robin measured in the same run. A shared or noisy machine makes the absolute numbers meaningless; read the ratios.',
    '',
    '| contender | what | req/s (median) | ratio to round-robin | p50 ms | p99 ms | errors |',
    '|---|---|---|---|---|---|---|',
    ...CONTENDERS.map((c) => {
      const rs = results.get(c.id)!;
      const rps = medianRps(rs);
      return `| ${c.id} | ${c.what} | ${Math.round(rps)} | ${(rps / base).toFixed(3)} | ${medianOf(rs, (r) => r.p50ms).toFixed(2)} | ${medianOf(rs, (r) => r.p99ms).toFixed(2)} | ${rs.reduce((n, r) => n + r.errors, 0)} |`;
    }),
    '',
  ];
  process.stdout.write('\n');
  publish(S.out, lines.join('\n'));
  process.stdout.write(`\nreport: ${S.out}\n`);
  for (const c of CONTENDERS) {
    const log = readLog(join(dir, `${c.id}.stderr.log`));
    if (log.includes('"level":50')) process.stdout.write(`warning: ${c.id} logged errors:\n${log.slice(-2000)}\n`);
  }
  await finish(services, [dir]);
}

runBench('balancer', main);
