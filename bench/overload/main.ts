/**
 * The latency curve past saturation, with load shedding off and on (issue 11, part 3).
 *
 *   make bench-overload
 *   OVERLOAD_DURATION_S=3 OVERLOAD_WARMUP_S=1 OVERLOAD_SAT_S=3 node dist/bench/overload/main.js   # smoke
 *
 * 1. Saturation: the same client as below, asked for far more than anyone can serve (every
 *    connection sends again as soon as it has its answer: closed loop over OVERLOAD_CONNS
 *    connections) against the gateway without any limit: the 2xx/s it completes is S, the most
 *    this gateway, with this client beside it, serves. (A closed-loop autocannon with 100
 *    connections measured less than the paced client then got through, so its S was too low.)
 * 2. For each load level (50%, 90%, 100%, 130% of S) and each contender, interleaved:
 *    - off: the gateway with no admission flag;
 *    - shed: the same with --shed-lag-ms OVERLOAD_SHED_LAG_MS (default 20);
 *    an open-loop paced load (loadtest/lib/raw-http.ts, 'next-idle' over OVERLOAD_CONNS=1000
 *    keep-alive connections, one 2 ms timer) at that rate for OVERLOAD_DURATION_S after
 *    OVERLOAD_WARMUP_S. Open loop matters: a closed-loop generator (wrk, autocannon without a
 *    rate) slows down with the server and never shows the collapse. autocannon's overallRate is
 *    not used because it sends each second's quota in a burst (a 1 Hz square wave).
 * 3. Report per level and contender: offered and served (2xx) req/s, 503s, p50/p99/p99.9/max of
 *    the 2xx answers (µs HDR histogram), and the client shortfall (requests not sent because all
 *    connections were waiting: the point where even 1000 connections are not enough, i.e. the
 *    latency is already unbounded). Medians over OVERLOAD_ROUNDS.
 *
 * The load generator shares the machine with the gateway (2 cores here), so S is what the gateway
 * gets with one core's worth of client next to it; the curve's shape, not S, is the result.
 * Env: OVERLOAD_WORKERS (1), OVERLOAD_ROUNDS (3), OVERLOAD_DURATION_S (10), OVERLOAD_WARMUP_S (2),
 * OVERLOAD_SAT_S (10), OVERLOAD_CONNS (1000), OVERLOAD_SHED_LAG_MS (20),
 * OVERLOAD_LEVELS (0.5,0.9,1,1.3), LOADTEST_UPSTREAM (nginx|echo). Report: stdout and
 * bench/results/overload-<date>.{md,json}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, envNumber, envString, fileStamp, fmtInt, fmtMs, log, mdTable, median, newHistogram, recordMs, sleep, summarize, type LatencySummary } from '../../loadtest/lib/common';
import { installSafetyNet, startGateway, startUpstream, type Gateway } from '../../loadtest/lib/processes';
import { RawPool, diffCounters } from '../../loadtest/lib/raw-http';
import { describeMachine, machineMarkdown } from '../../loadtest/lib/report';

interface Run {
  contender: string;
  level: number;
  round: number;
  offered: number;
  served: number;
  shed: number;
  otherNon2xx: number;
  errors: number;
  shortfall: number;
  latency: LatencySummary;
}

/** Offered far above capacity, the paced client degenerates into a closed loop over its connections. */
const FLOOD_RATE = 1_000_000;

async function paced(gw: Gateway, requestPath: string, headers: Record<string, string>, rate: number, conns: number, warmupS: number, durationS: number): Promise<Omit<Run, 'contender' | 'level' | 'round'>> {
  const pool = new RawPool({ host: '127.0.0.1', port: gw.port, localAddresses: [], path: requestPath, headers, requestTimeoutMs: 30_000 });
  const opened = await pool.open(conns, 200, 15_000);
  if (opened.failed > 0) log(`warning: ${opened.failed} of ${conns} connections failed to open`);
  let measuring = false;
  const hist = newHistogram();
  let shed = 0;
  let other = 0;
  pool.onComplete = (ms, status) => {
    if (!measuring) return;
    if (status >= 200 && status < 300) recordMs(hist, ms);
    else if (status === 503) shed++;
    else other++;
  };
  pool.setRate(rate, 'next-idle');
  await sleep(warmupS * 1000);
  measuring = true;
  const c0 = pool.counters();
  const t0 = performance.now();
  await sleep(durationS * 1000);
  measuring = false;
  const wall = (performance.now() - t0) / 1000;
  const d = diffCounters(c0, pool.counters());
  await pool.closeAll(3000);
  const latency = summarize(hist);
  return { offered: rate, served: latency.count / wall, shed: shed / wall, otherNon2xx: other, errors: d.errorsTotal, shortfall: d.noIdle, latency };
}

async function main(): Promise<number> {
  const workers = envNumber('OVERLOAD_WORKERS', 1, 1, 64);
  const rounds = envNumber('OVERLOAD_ROUNDS', 3, 1, 20);
  const duration = envNumber('OVERLOAD_DURATION_S', 10, 1, 300);
  const warmup = envNumber('OVERLOAD_WARMUP_S', 2, 0, 60);
  const satS = envNumber('OVERLOAD_SAT_S', 10, 1, 120);
  const conns = envNumber('OVERLOAD_CONNS', 1000, 10, 10_000);
  const lagMs = envNumber('OVERLOAD_SHED_LAG_MS', 20, 1, 10_000);
  const levels = envString('OVERLOAD_LEVELS', '0.5,0.9,1,1.3')
    .split(',')
    .map(Number)
    .filter((x) => x > 0);
  installSafetyNet(300 + satS + rounds * levels.length * 2 * (duration + warmup + 8));
  const machine = describeMachine();
  const startedAt = new Date();

  const upstream = await startUpstream();
  const contenders: { name: string; args: string[] }[] = [
    { name: 'off', args: [] },
    { name: 'shed', args: ['--shed-lag-ms', String(lagMs)] },
  ];
  const gateways = new Map<string, Gateway>();
  for (const c of contenders) gateways.set(c.name, await startGateway({ upstreamPort: upstream.port, workers, extraArgs: c.args }));
  const runs: Run[] = [];
  let sat = 0;
  try {
    const flood = await paced(gateways.get('off')!, upstream.requestPath, upstream.requestHeaders, FLOOD_RATE, conns, warmup, satS);
    sat = flood.served;
    log(`saturation: ${fmtInt(sat)} req/s (${conns} connections, each sending again as soon as answered, ${satS} s; p99 ${fmtMs(flood.latency.p99Ms)})`);
    for (let round = 1; round <= rounds; round++) {
      for (const level of levels) {
        for (const c of round % 2 === 1 ? contenders : [...contenders].reverse()) {
          const rate = Math.round(sat * level);
          const r = await paced(gateways.get(c.name)!, upstream.requestPath, upstream.requestHeaders, rate, conns, warmup, duration);
          runs.push({ contender: c.name, level, round, ...r });
          log(
            `round ${round} ${Math.round(level * 100)}% ${c.name}: offered ${fmtInt(rate)}, served ${fmtInt(r.served)} req/s, 503 ${fmtInt(r.shed)}/s, ` +
              `p50 ${fmtMs(r.latency.p50Ms)} p99 ${fmtMs(r.latency.p99Ms)} p99.9 ${fmtMs(r.latency.p999Ms)}, shortfall ${fmtInt(r.shortfall)}, errors ${r.errors}`,
          );
          await sleep(1000);
        }
      }
    }
  } finally {
    for (const g of gateways.values()) await g.stop(10_000);
    await upstream.stop(5000);
  }

  const rows = [];
  for (const level of levels) {
    for (const c of contenders) {
      const rs = runs.filter((r) => r.level === level && r.contender === c.name);
      const med = (f: (r: Run) => number) => median(rs.map(f));
      rows.push([
        `${Math.round(level * 100)}%`,
        c.name,
        fmtInt(med((r) => r.offered)),
        fmtInt(med((r) => r.served)),
        fmtInt(med((r) => r.shed)),
        fmtMs(med((r) => r.latency.p50Ms)),
        fmtMs(med((r) => r.latency.p99Ms)),
        fmtMs(med((r) => r.latency.p999Ms)),
        fmtMs(med((r) => r.latency.maxMs)),
        fmtInt(med((r) => r.shortfall)),
        String(med((r) => r.errors + r.otherNon2xx)),
      ]);
    }
  }
  const md = [
    '# Overload: latency past saturation, shedding off and on',
    '',
    `Run ${startedAt.toISOString()} with \`make bench-overload\` (bench/overload/main.ts). Gateway: ${workers} worker(s), ` +
      `\`--access-log off\`; "shed" adds \`--shed-lag-ms ${lagMs}\`. Upstream: ${upstream.version}. Saturation S = ${fmtInt(sat)} req/s ` +
      `(the paced client flooding ${conns} connections for ${satS} s, i.e. closed loop). Each cell: open-loop paced load over ${conns} keep-alive ` +
      `connections, ${duration} s after ${warmup} s warm-up, median of ${rounds} interleaved round(s). Latency is of 2xx answers.`,
    '',
    mdTable(['load', 'contender', 'offered req/s', 'served 2xx/s', '503/s', 'p50', 'p99', 'p99.9', 'max', 'shortfall', 'errors'], rows),
    '',
    'shortfall = requests the client could not send because all connections were waiting (latency is then unbounded: ' +
      'the queue has moved into the client).',
    '',
    '## Machine',
    '',
    machineMarkdown(machine, { upstream: `${upstream.version} (${upstream.kind})` }),
  ].join('\n');
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const smoke = duration < 5 || rounds < 2;
  const base = path.join(dir, `overload${smoke ? '-smoke' : ''}-${fileStamp()}`);
  writeFileSync(`${base}.md`, md + '\n');
  writeFileSync(`${base}.json`, JSON.stringify({ name: 'overload', startedAt: startedAt.toISOString(), machine, saturation: sat, workers, lagMs, conns, duration, warmup, rounds, runs }, null, 2) + '\n');
  process.stdout.write(`\n${md}\n\nwritten: ${base}.md\n         ${base}.json\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench-overload: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
