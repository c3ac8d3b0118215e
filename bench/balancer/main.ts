/**
 * What each load-balancing algorithm and the health checks cost, as throughput ratios to plain
 * round-robin measured in the same run (GUIDE §6): Floodgate (1 worker) in front of three NGINX
 * upstreams (bench/nginx/bench-upstream.conf.tmpl, GET /tiny), one gateway per contender, all
 * started up front; wrk rounds interleaved A B C D E F A B C ...; medians of the rounds.
 *
 *   make bench-balancer                      (ROUNDS=5 DURATION=10 WARMUP=2 CONNS=50 by default)
 *   ROUNDS=1 DURATION=1 WARMUP=0 make bench-balancer     (a smoke run, proves the harness works)
 *
 * Report: stdout and bench/results/balancer-<date>.md.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePorts } from '../peers/ports';
import { installExitHooks, readLog, startService, stopAll, waitReady, type Service } from '../peers/procs';
import { median } from '../peers/stats';
import { startUpstream } from '../peers/upstream';
import { runWrk, type WrkResult } from '../peers/wrk';

const ROOT = resolve(__dirname, '../../..');
const env = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
const ROUNDS = env('ROUNDS', 5);
const DURATION = env('DURATION', 10);
const WARMUP = env('WARMUP', 2);
const CONNS = env('CONNS', 50);
const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
const WRK = process.env.WRK ?? 'wrk';
const ROTATE = join(ROOT, 'bench', 'balancer', 'rotate-user.lua');

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

async function startGateway(c: Contender, dir: string, port: number, adminPort: number, upstreamPorts: readonly number[]): Promise<Service> {
  const config = join(dir, `${c.id}.yaml`);
  writeFileSync(config, gatewayYaml(c, upstreamPorts));
  const args = [
    'dist/src/cli.js', 'start', '-c', config,
    '--listen', `127.0.0.1:${port}`,
    '--admin-listen', `127.0.0.1:${adminPort}`,
    '--workers', '1',
    '--access-log', 'off',
    '--log-level', 'warn',
  ];
  const svc = startService(c.id, process.execPath, args, { cwd: ROOT, logPrefix: join(dir, c.id) });
  await waitReady(svc, async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/tiny`);
      return res.status === 200;
    } catch {
      return false;
    }
  });
  return svc;
}

async function main(): Promise<void> {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-balancer-'));
  const ports = await freePorts(3 + CONTENDERS.length * 2);
  const upstreamPorts = ports.slice(0, 3);
  for (const [i, port] of upstreamPorts.entries()) {
    await startUpstream({ nginx: NGINX, root: ROOT, dir: join(dir, `upstream-${i}`), port, workers: 1 });
  }
  const gateways = new Map<string, number>();
  for (const [i, c] of CONTENDERS.entries()) {
    const port = ports[3 + i * 2];
    await startGateway(c, dir, port, ports[4 + i * 2], upstreamPorts);
    gateways.set(c.id, port);
  }
  const results = new Map<string, WrkResult[]>(CONTENDERS.map((c) => [c.id, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const c of CONTENDERS) {
      const url = `http://127.0.0.1:${gateways.get(c.id)}/tiny`;
      const load = { wrk: WRK, threads: 1, conns: CONNS, url, ...(c.rotateUsers ? { script: ROTATE, scriptArgs: ['1000'] } : {}) };
      if (WARMUP > 0) await runWrk({ ...load, seconds: WARMUP });
      const r = await runWrk({ ...load, seconds: DURATION });
      results.get(c.id)!.push(r);
      process.stdout.write(`round ${round}/${ROUNDS} ${c.id.padEnd(20)} ${Math.round(r.rps)} req/s p99 ${r.p99ms} ms errors ${r.errors}\n`);
    }
  }
  const base = median(results.get('round-robin')!.map((r) => r.rps));
  const lines = [
    `# Balancer cost (${new Date().toISOString()})`,
    '',
    `Floodgate 1 worker -> 3 NGINX upstreams (GET /tiny), wrk -t1 -c${CONNS}, ${ROUNDS} interleaved rounds of ${DURATION} s (warm-up ${WARMUP} s), medians.`,
    'Ratios are to plain round-robin measured in the same run. A shared or noisy machine makes the absolute numbers meaningless; read the ratios.',
    '',
    '| contender | what | req/s (median) | ratio to round-robin | p50 ms | p99 ms | errors |',
    '|---|---|---|---|---|---|---|',
    ...CONTENDERS.map((c) => {
      const rs = results.get(c.id)!;
      const rps = median(rs.map((r) => r.rps));
      return `| ${c.id} | ${c.what} | ${Math.round(rps)} | ${(rps / base).toFixed(3)} | ${median(rs.map((r) => r.p50ms)).toFixed(2)} | ${median(rs.map((r) => r.p99ms)).toFixed(2)} | ${rs.reduce((n, r) => n + r.errors, 0)} |`;
    }),
    '',
  ];
  const report = lines.join('\n');
  process.stdout.write('\n' + report);
  const out = join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `balancer-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, (m) => (m === 'T' ? '-' : ''))}.md`);
  writeFileSync(file, report);
  process.stdout.write(`\nreport: ${file}\n`);
  for (const c of CONTENDERS) {
    const log = readLog(join(dir, `${c.id}.stderr.log`));
    if (log.includes('"level":50')) process.stdout.write(`warning: ${c.id} logged errors:\n${log.slice(-2000)}\n`);
  }
}

main()
  .catch((err) => {
    process.stderr.write(`bench-balancer failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
