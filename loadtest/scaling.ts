/**
 * Scaling: proxy throughput of the gateway with 1 worker and with 2 workers, measured with
 * autocannon (programmatic, keep-alive, no pipelining) against the same NGINX upstream.
 *
 *   make loadtest-scaling
 *   SCALING_ROUNDS=1 SCALING_DURATION_S=3 SCALING_WARMUP_S=1 node dist/loadtest/scaling.js  # smoke
 *
 * Both gateways run side by side (the idle one costs no CPU). Every round runs, back to back:
 *   direct  autocannon straight at the upstream: the ceiling of this load generator on this
 *           machine, and the canary for machine drift (if it moves, the machine moved)
 *   1w      the gateway with --workers 1
 *   2w      the gateway with --workers 2
 * and the report gives medians over rounds (robust to one noisy round), every round's value, and
 * the 2w/1w ratio of the medians.
 *
 * The load generator competes for the same 2 cores: autocannon is one Node thread that needs
 * most of a core at these rates, and NGINX needs some too. A 2-worker gateway therefore gets
 * well under 2 cores, and the 2w/1w ratio here is a lower bound of what it gains on dedicated
 * cores. The report shows the CPU each party used, so the split is visible.
 *
 * Env: SCALING_CONNECTIONS (100), SCALING_DURATION_S (15), SCALING_ROUNDS (3), SCALING_WARMUP_S (3),
 * SCALING_DIRECT (1: include the direct canary), LOADTEST_UPSTREAM (nginx|echo).
 */
import { performance } from 'node:perf_hooks';

import autocannon from 'autocannon';

import {
  envNumber,
  fmtInt,
  fmtMs,
  log,
  mdTable,
  median,
  newHistogram,
  readCpuSeconds,
  recordMs,
  summarize,
  type LatencySummary,
} from './lib/common';
import { installSafetyNet, startGateway, startUpstream, type Gateway } from './lib/processes';
import { describeMachine, machineMarkdown, writeResults } from './lib/report';

interface Contender {
  name: 'direct' | '1w' | '2w';
  port: number;
  /** Process whose CPU is "the proxy" (the upstream for direct). */
  pid: number;
  gateway: Gateway | null;
}

interface RunResult {
  contender: string;
  round: number;
  reqPerSec: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: LatencySummary;
  /** CPU cores used during the run (CPU seconds / wall seconds). */
  cpu: { proxy: number; upstream: number; client: number };
}

function runAutocannon(
  url: string,
  connections: number,
  duration: number,
  headers: Record<string, string>,
): Promise<{ result: autocannon.Result; latency: LatencySummary }> {
  const hist = newHistogram();
  return new Promise((resolve, reject) => {
    const inst = autocannon({ url, connections, duration, pipelining: 1, timeout: 10, headers }, (err, result) => {
      if (err) reject(err);
      else resolve({ result, latency: summarize(hist) });
    });
    // autocannon's own latency histogram has 1 ms resolution; keep a µs one.
    inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) recordMs(hist, ms);
    });
  });
}

async function main(): Promise<number> {
  const connections = envNumber('SCALING_CONNECTIONS', 100, 1, 5000);
  const duration = envNumber('SCALING_DURATION_S', 15, 1, 300);
  const rounds = envNumber('SCALING_ROUNDS', 3, 1, 20);
  const warmup = envNumber('SCALING_WARMUP_S', 3, 0, 60);
  const withDirect = envNumber('SCALING_DIRECT', 1, 0, 1) === 1;

  const perRound = (withDirect ? 3 : 2) * (duration + 2);
  installSafetyNet(180 + rounds * perRound + 3 * (warmup + 2));
  const machine = describeMachine();
  const startedAt = new Date();

  const upstream = await startUpstream();
  const gw1 = await startGateway({ upstreamPort: upstream.port, workers: 1 });
  const gw2 = await startGateway({ upstreamPort: upstream.port, workers: 2 });
  const contenders: Contender[] = [
    ...(withDirect ? [{ name: 'direct' as const, port: upstream.port, pid: upstream.pid, gateway: null }] : []),
    { name: '1w', port: gw1.port, pid: gw1.pid, gateway: gw1 },
    { name: '2w', port: gw2.port, pid: gw2.pid, gateway: gw2 },
  ];
  const url = (c: Contender) => `http://127.0.0.1:${c.port}${upstream.requestPath}`;

  if (warmup > 0) {
    for (const c of contenders) {
      const w = await runAutocannon(url(c), connections, warmup, upstream.requestHeaders);
      log(`warm-up ${c.name}: ${fmtInt(w.result['2xx'] / w.result.duration)} req/s`);
    }
  }

  const runs: RunResult[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (const c of contenders) {
      const cpuProxy0 = readCpuSeconds(c.pid);
      const cpuUp0 = readCpuSeconds(upstream.pid);
      const cpuClient0 = process.cpuUsage();
      const t0 = performance.now();
      const { result, latency } = await runAutocannon(url(c), connections, duration, upstream.requestHeaders);
      const wall = (performance.now() - t0) / 1000;
      const cpuClient = process.cpuUsage(cpuClient0);
      const run: RunResult = {
        contender: c.name,
        round: r,
        reqPerSec: result['2xx'] / result.duration,
        ok2xx: result['2xx'],
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        latency,
        cpu: {
          proxy: c.name === 'direct' ? 0 : (readCpuSeconds(c.pid) - cpuProxy0) / wall,
          upstream: (readCpuSeconds(upstream.pid) - cpuUp0) / wall,
          client: (cpuClient.user + cpuClient.system) / 1e6 / wall,
        },
      };
      runs.push(run);
      log(
        `round ${r}/${rounds} ${c.name.padEnd(6)} ${fmtInt(run.reqPerSec).padStart(7)} req/s  p50 ${fmtMs(latency.p50Ms)}  p99 ${fmtMs(latency.p99Ms)}` +
          `  cpu gw ${run.cpu.proxy.toFixed(2)} up ${run.cpu.upstream.toFixed(2)} client ${run.cpu.client.toFixed(2)}` +
          (run.non2xx + run.errors > 0 ? `  non2xx ${run.non2xx} errors ${run.errors}` : ''),
      );
    }
  }

  const warnings = [...gw1.warnings(), ...gw2.warnings()];
  const stop1 = await gw1.stop();
  const stop2 = await gw2.stop();
  await upstream.stop(5000);

  // -- report --------------------------------------------------------------------------------------
  const summary = contenders.map((c) => {
    const rs = runs.filter((x) => x.contender === c.name);
    const med = (f: (x: RunResult) => number) => median(rs.map(f));
    const rps = med((x) => x.reqPerSec);
    const proxyCpu = med((x) => x.cpu.proxy);
    return {
      contender: c.name,
      medianReqPerSec: rps,
      p50Ms: med((x) => x.latency.p50Ms),
      p99Ms: med((x) => x.latency.p99Ms),
      cpu: { proxy: proxyCpu, upstream: med((x) => x.cpu.upstream), client: med((x) => x.cpu.client) },
      reqPerProxyCpuSecond: c.name === 'direct' ? NaN : median(rs.map((x) => x.reqPerSec / x.cpu.proxy)),
      rounds: rs.map((x) => Math.round(x.reqPerSec)),
      errors: rs.reduce((a, x) => a + x.errors + x.non2xx, 0),
    };
  });
  const get = (name: string) => summary.find((s) => s.contender === name);
  const s1 = get('1w')!;
  const s2 = get('2w')!;
  const direct = get('direct');
  const ratio = s2.medianReqPerSec / s1.medianReqPerSec;
  const roundRatios = Array.from({ length: rounds }, (_, i) => {
    const a = runs.find((x) => x.contender === '1w' && x.round === i + 1)!;
    const b = runs.find((x) => x.contender === '2w' && x.round === i + 1)!;
    return Math.round((b.reqPerSec / a.reqPerSec) * 100) / 100;
  });
  const totalErrors = summary.reduce((a, s) => a + s.errors, 0);
  const caveat =
    `The load generator competes for the same ${machine.cpus} cores: autocannon (one Node thread) used ` +
    `${s2.cpu.client.toFixed(2)} cores and the NGINX upstream ${s2.cpu.upstream.toFixed(2)} during the 2-worker runs, ` +
    `leaving the 2-worker gateway ${s2.cpu.proxy.toFixed(2)} cores. The 2w/1w ratio is therefore a lower bound of the ` +
    `gain on dedicated cores, not the gateway's scaling itself.` +
    (direct !== undefined
      ? ` "direct" (autocannon straight at the upstream, ${fmtInt(direct.medianReqPerSec)} req/s) is this load generator's ceiling here` +
        (s2.medianReqPerSec > 0.8 * direct.medianReqPerSec ? '; 2w is close to it, so the client is (part of) the bottleneck.' : '.')
      : '');

  const result = {
    name: 'scaling',
    startedAt: startedAt.toISOString(),
    machine,
    setup: {
      loadGenerator: `autocannon 9 (programmatic, 1 thread), ${connections} connections, pipelining 1, ${duration} s per run, ${warmup} s warm-up per contender`,
      rounds,
      order: contenders.map((c) => c.name),
      upstream: { kind: upstream.kind, version: upstream.version },
      gateway: '--access-log off, --workers 1 and --workers 2, defaults otherwise',
    },
    summary,
    ratio2wOver1w: ratio,
    roundRatios2wOver1w: roundRatios,
    runs,
    caveat,
    gatewayStops: [stop1, stop2],
    warnings: warnings.slice(-20),
  };

  const md = [
    '# Scaling: 1 worker vs 2 workers',
    '',
    `Run ${startedAt.toISOString()} with \`make loadtest-scaling\` (loadtest/scaling.ts): autocannon, ${connections} connections, ` +
      `${duration} s per run, ${rounds} interleaved round(s) of ${contenders.map((c) => c.name).join(', ')}; medians over rounds.`,
    '',
    mdTable(
      ['contender', 'median req/s', 'p50', 'p99', 'proxy CPU (cores)', 'upstream CPU', 'client CPU', 'req per proxy CPU-s', 'rounds req/s', 'errors'],
      summary.map((s) => [
        s.contender,
        fmtInt(s.medianReqPerSec),
        fmtMs(s.p50Ms),
        fmtMs(s.p99Ms),
        s.contender === 'direct' ? '–' : s.cpu.proxy.toFixed(2),
        s.cpu.upstream.toFixed(2),
        s.cpu.client.toFixed(2),
        s.contender === 'direct' ? '–' : fmtInt(s.reqPerProxyCpuSecond),
        s.rounds.map(fmtInt).join(', '),
        s.errors,
      ]),
    ),
    '',
    `**2w / 1w = ${ratio.toFixed(2)}×** (median 2w / median 1w; per round: ${roundRatios.join(', ')}). Errors: ${totalErrors}.`,
    '',
    `> ${caveat}`,
    '',
    'p50/p99: medians over rounds of each run\'s own HDR histogram (µs resolution, 2xx responses). CPU: (utime+stime) of each process over the run / wall time.',
    '',
    '## Machine',
    '',
    machineMarkdown(machine, { upstream: `${upstream.version} (${upstream.kind})` }),
  ].join('\n');

  const smoke = rounds < 3 || duration < 10;
  const files = writeResults(smoke ? 'scaling-smoke' : 'scaling', result, md);
  process.stdout.write(`\n${md}\n\nwritten: ${files.json}\n         ${files.md}\n`);
  return totalErrors === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`scaling: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
