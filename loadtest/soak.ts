/**
 * Soak: a steady request rate for SOAK_MINUTES (30) against a 2-worker gateway, watching the
 * gateway's RSS (what the OOM killer sees), each worker's V8 heap in use and external memory
 * (Buffers, ArrayBuffers; scraped from the admin API's /metrics, which each worker fills from its
 * own isolate: RSS alone cannot say which worker or which kind of memory grows), its fds, errors
 * and latency, minute by minute. It draws the memory series as a PNG (lib/png-plot.ts).
 *
 *   make soak                                        # 30 minutes, 2 workers
 *   SOAK_MINUTES=2 node dist/loadtest/soak.js        # smoke run (not judged: too short)
 *
 * Load: the raw paced client (lib/raw-http.ts), SOAK_CONNECTIONS (64) keep-alive connections,
 * SOAK_RATE (2000) requests per second issued from a 2 ms timer to the next idle connection.
 * autocannon's overallRate is not used on purpose: it sends each second's quota as fast as it
 * can and then waits for the next second (a 1 Hz square wave, not a steady rate).
 *
 * Verdict (runs of at least 6 minutes; shorter ones are reported but not judged):
 *   RSS slope: least squares over the 10 s samples after warm-up (the last 5/6 of the run:
 *   minutes 5..30 of a 30-minute run), in MiB per hour. PASS when |slope| <
 *   SOAK_SLOPE_LIMIT_MIB_H (default 20). The same slope is reported for each worker's heap in use
 *   and external memory (not judged: they say where a failing RSS slope comes from).
 *   Why 20 MiB/h:
 *   - What it must catch: a per-request leak. At 2000 req/s an hour is 7.2 M requests, so
 *     20 MiB/h is ~2.9 bytes per request; a leak that keeps one 32-byte object every ten
 *     requests (~22 MiB/h) fails, one per request (>= 220 MiB/h) fails by a mile.
 *   - What it must tolerate: between GCs the gateway's RSS is flat to the KiB, but it moves in
 *     steps when V8 grows or shrinks a heap or malloc touches a new chunk. Least squares reads a
 *     step of h MiB in the middle of a window of T hours as a slope of ~1.5 h / T: over the
 *     8 judged minutes a single 1 MiB step reads as ~11 MiB/h. 5 or 10 MiB/h would fail on one
 *     such step; 20 MiB/h tolerates a ~1.8 MiB step mid-window (more near its ends).
 *   The report also gives the slope's standard error and a Theil-Sen slope (median of pairwise
 *   slopes, barely moved by one step): least squares high but Theil-Sen flat means a step, not a
 *   trend; rerun longer (SOAK_MINUTES=30) to tell.
 *   Errors: any error or non-2xx response fails the run. Requests the client could not send
 *   because every connection was busy ("client shortfall") are reported, not failed.
 *   fds are reported (a growing count means leaked sockets) with a warning above +50.
 *
 * Env: SOAK_MINUTES (30), SOAK_RATE (2000), SOAK_CONNECTIONS (64), SOAK_SAMPLE_S (10),
 * SOAK_WARMUP_MINUTES (a sixth of the run: 5 of 30), SOAK_SLOPE_LIMIT_MIB_H (20),
 * SOAK_WORKERS (2), LOADTEST_UPSTREAM (nginx|echo).
 */
import { performance } from 'node:perf_hooks';

import { writeFileSync } from 'node:fs';
import {
  MiB,
  countFds,
  freePort,
  envNumber,
  fmtInt,
  fmtMiB,
  fmtMs,
  leastSquares,
  log,
  mdTable,
  newHistogram,
  readCpuSeconds,
  readProcMemory,
  recordMs,
  sleep,
  summarize,
  theilSen,
  type Histogram,
  type LatencySummary,
} from './lib/common';
import { installSafetyNet, startGateway, startUpstream } from './lib/processes';
import { RawPool, diffCounters, type Counters } from './lib/raw-http';
import { describeMachine, machineMarkdown, writeResults } from './lib/report';
import { lineChart, type Rgb, type Series } from './lib/png-plot';

interface RssSample {
  /** Seconds since the load started. */
  t: number;
  rss: number;
  rssAnon: number;
  fds: number;
  /** Per worker id: V8 heap in use and external memory, bytes (missing when the scrape failed). */
  workers: Map<string, WorkerMemory>;
}

interface WorkerMemory {
  heapUsed: number;
  /** V8 heap committed by the isolate (used + free pages it keeps): RSS follows this, not heapUsed. */
  heapTotal: number;
  /** Of which V8's new space (two semi-spaces): the part V8 grows under load. */
  newSpace: number;
  external: number;
}

/**
 * Each worker's heap in use and external memory, from the admin API's /metrics
 * (floodgate_worker_heap_used_bytes / floodgate_worker_external_memory_bytes, one sample per
 * `worker` label; src/metrics/node-collectors.ts). An empty map when the scrape fails.
 */
async function scrapeWorkerMemory(adminPort: number): Promise<Map<string, WorkerMemory>> {
  const out = new Map<string, WorkerMemory>();
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const line = /^(floodgate_worker_heap_used_bytes|floodgate_worker_heap_total_bytes|floodgate_worker_young_generation_bytes|floodgate_worker_external_memory_bytes)\{[^}]*worker="([^"]+)"[^}]*\} (\S+)$/gm;
    for (const m of text.matchAll(line)) {
      const w = out.get(m[2]) ?? { heapUsed: NaN, heapTotal: NaN, newSpace: NaN, external: NaN };
      if (m[1] === 'floodgate_worker_heap_used_bytes') w.heapUsed = Number(m[3]);
      else if (m[1] === 'floodgate_worker_heap_total_bytes') w.heapTotal = Number(m[3]);
      else if (m[1] === 'floodgate_worker_young_generation_bytes') w.newSpace = Number(m[3]);
      else w.external = Number(m[3]);
      out.set(m[2], w);
    }
    // The primary thread's isolate, as "worker 0" (w0): the admin API and the scrapes run there.
    const primary = { heapUsed: NaN, heapTotal: NaN, newSpace: NaN, external: NaN };
    for (const m of text.matchAll(/^floodgate_primary_heap_(used|total)_bytes (\S+)$/gm)) {
      if (m[1] === 'used') primary.heapUsed = Number(m[2]);
      else primary.heapTotal = Number(m[2]);
    }
    if (Number.isFinite(primary.heapTotal)) out.set('0', primary);
  } catch {
    /* reported as gaps */
  }
  return out;
}

interface MemorySlope {
  series: string;
  miBPerHour: number;
  stdErrMiBPerHour: number;
  theilSenMiBPerHour: number;
  first: number;
  last: number;
}

function slopeOf(name: string, points: readonly (readonly [number, number])[]): MemorySlope {
  const xs = points.map((p) => p[0] / 3600);
  const ys = points.map((p) => p[1] / MiB);
  const fit = leastSquares(xs, ys);
  return { series: name, miBPerHour: fit.slope, stdErrMiBPerHour: fit.slopeStdErr, theilSenMiBPerHour: theilSen(xs, ys), first: ys[0] ?? NaN, last: ys[ys.length - 1] ?? NaN };
}

const PALETTE: readonly Rgb[] = [
  [30, 90, 200],
  [20, 150, 160],
  [130, 60, 200],
  [230, 130, 20],
  [90, 90, 90],
  [200, 60, 150],
];

interface MinuteRow {
  minute: number;
  reqPerSec: number;
  rssMiB: number;
  /** "w1 41.2/3.1, w2 ..." heap used / external MiB per worker at the minute's last sample. */
  workerMiB: string;
  fds: number;
  cpuCores: number;
  latency: LatencySummary;
  errors: number;
  non2xx: number;
  shortfall: number;
}

async function main(): Promise<number> {
  const minutes = envNumber('SOAK_MINUTES', 30, 0.1, 24 * 60);
  const rate = envNumber('SOAK_RATE', 2000, 1, 50_000);
  const connections = envNumber('SOAK_CONNECTIONS', 64, 1, 5000);
  const sampleS = envNumber('SOAK_SAMPLE_S', 10, 1, 60);
  const limit = envNumber('SOAK_SLOPE_LIMIT_MIB_H', 20, 0.1, 10_000);
  const warmupMin = envNumber('SOAK_WARMUP_MINUTES', minutes / 6, 0, minutes);
  const workers = envNumber('SOAK_WORKERS', 2, 0, 64);
  const judged = minutes >= 6 && minutes - warmupMin >= 4;

  const durationS = minutes * 60;
  installSafetyNet(durationS + 240);
  const machine = describeMachine();
  const startedAt = new Date();

  const upstream = await startUpstream();
  const adminPort = await freePort();
  const gateway = await startGateway({ upstreamPort: upstream.port, workers, extraArgs: ['--admin-listen', `127.0.0.1:${adminPort}`] });
  const pid = gateway.pid;

  const pool = new RawPool({
    host: '127.0.0.1',
    port: gateway.port,
    localAddresses: [],
    path: '/soak',
    headers: upstream.requestHeaders,
    requestTimeoutMs: 10_000,
  });
  const total = newHistogram();
  let minuteHist: Histogram = newHistogram();
  pool.onComplete = (ms) => {
    recordMs(total, ms);
    recordMs(minuteHist, ms);
  };

  const open = await pool.open(connections, connections, 10_000);
  if (open.failed > 0) log(`warning: ${open.failed} of ${connections} connections failed to open`);
  const c0 = pool.counters();
  const cpuStart = readCpuSeconds(pid);
  const t0 = performance.now();
  pool.setRate(rate, 'next-idle');
  log(`soak: ${minutes} min at ${rate} req/s over ${open.opened} connections; RSS every ${sampleS} s`);

  const samples: RssSample[] = [];
  const rows: MinuteRow[] = [];
  const take = async () => {
    const t = (performance.now() - t0) / 1000;
    const m = readProcMemory(pid);
    const fds = countFds(pid);
    samples.push({ t, rss: m.rss, rssAnon: m.rssAnon, fds, workers: await scrapeWorkerMemory(adminPort) });
  };
  await take();
  let minuteStart = { t: performance.now(), c: pool.counters(), cpu: readCpuSeconds(pid) };
  const endAt = t0 + durationS * 1000;
  let nextSample = t0 + sampleS * 1000;
  let nextMinute = t0 + 60_000;
  while (performance.now() < endAt) {
    const wake = Math.min(nextSample, nextMinute, endAt);
    await sleep(Math.max(0, wake - performance.now()));
    const now = performance.now();
    if (now >= nextSample || now >= endAt) {
      await take();
      nextSample += sampleS * 1000;
    }
    if (now >= nextMinute || now >= endAt) {
      const c = pool.counters();
      const d = diffCounters(minuteStart.c, c);
      const cpu = readCpuSeconds(pid);
      const wall = (now - minuteStart.t) / 1000;
      const last = samples[samples.length - 1]!;
      const row: MinuteRow = {
        minute: Math.round((now - t0) / 6000) / 10,
        reqPerSec: d.completed / wall,
        rssMiB: Math.round((last.rss / MiB) * 10) / 10,
        workerMiB: [...last.workers].sort((a, b) => Number(a[0]) - Number(b[0])).map(([w, v]) => `w${w} ${(v.heapUsed / MiB).toFixed(1)}/${(v.external / MiB).toFixed(1)} (total ${(v.heapTotal / MiB).toFixed(1)}, new ${(v.newSpace / MiB).toFixed(1)})`).join(', '),
        fds: last.fds,
        cpuCores: (cpu - minuteStart.cpu) / wall,
        latency: summarize(minuteHist),
        errors: d.errorsTotal,
        non2xx: d.non2xx,
        shortfall: d.noIdle,
      };
      rows.push(row);
      log(
        `minute ${row.minute}: ${fmtInt(row.reqPerSec)} req/s, RSS ${row.rssMiB} MiB, ${row.fds} fds, ` +
          `heap/external MiB ${row.workerMiB}, p50 ${fmtMs(row.latency.p50Ms)} p99 ${fmtMs(row.latency.p99Ms)}, errors ${row.errors + row.non2xx}`,
      );
      minuteHist = newHistogram();
      minuteStart = { t: now, c, cpu };
      nextMinute += 60_000;
    }
  }
  const wallS = (performance.now() - t0) / 1000;
  const cAll = diffCounters(c0, pool.counters());
  const cpuAll = (readCpuSeconds(pid) - cpuStart) / wallS;
  const hwm = readProcMemory(pid).hwm;
  await pool.closeAll(5000);
  const warnings = gateway.warnings();
  const stopped = await gateway.stop();
  await upstream.stop(5000);

  // -- verdict ------------------------------------------------------------------------------------
  const win = samples.filter((s) => s.t >= warmupMin * 60 - 0.5);
  const fit = leastSquares(
    win.map((s) => s.t / 3600),
    win.map((s) => s.rss / MiB),
  );
  const fitAnon = leastSquares(
    win.map((s) => s.t / 3600),
    win.map((s) => s.rssAnon / MiB),
  );
  const robust = theilSen(
    win.map((s) => s.t / 3600),
    win.map((s) => s.rss / MiB),
  );
  // Per-worker heap and external slopes over the same window: where RSS growth would come from.
  const workerIds = [...new Set(samples.flatMap((s) => [...s.workers.keys()]))].sort((a, b) => Number(a) - Number(b));
  const seriesOf = (list: readonly RssSample[], w: string, k: keyof WorkerMemory) =>
    list.filter((s) => Number.isFinite(s.workers.get(w)?.[k])).map((s) => [s.t, s.workers.get(w)![k]] as const);
  const memorySlopes: MemorySlope[] = [
    slopeOf('RSS (process)', win.map((s) => [s.t, s.rss] as const)),
    ...workerIds.flatMap((w) => {
      const who = w === '0' ? 'primary' : `worker ${w}`;
      return [
        slopeOf(`${who} heap used`, seriesOf(win, w, 'heapUsed')),
        slopeOf(`${who} heap total`, seriesOf(win, w, 'heapTotal')),
        slopeOf(`${who} new space`, seriesOf(win, w, 'newSpace')),
        slopeOf(`${who} external`, seriesOf(win, w, 'external')),
      ];
    }),
  ].filter((m) => Number.isFinite(m.miBPerHour));
  const fdDelta = win.length > 1 ? win[win.length - 1]!.fds - win[0]!.fds : 0;
  const rssDelta = win.length > 1 ? win[win.length - 1]!.rss - win[0]!.rss : 0;
  const slopeOk = Math.abs(fit.slope) < limit;
  const errorsOk = cAll.errorsTotal === 0 && cAll.non2xx === 0;
  const verdict = !judged ? (errorsOk ? 'not judged (too short)' : 'FAIL (errors)') : slopeOk && errorsOk ? 'PASS' : 'FAIL';
  const lat = summarize(total);
  const errText = (c: Counters) =>
    c.errorsTotal + c.non2xx === 0
      ? '0'
      : `${c.errorsTotal + c.non2xx} (${[...Object.entries(c.errors).map(([k, v]) => `${k}: ${v}`), c.non2xx ? `non-2xx: ${c.non2xx}` : '']
          .filter(Boolean)
          .join(', ')})`;

  const result = {
    name: 'soak',
    startedAt: startedAt.toISOString(),
    verdict,
    machine,
    setup: {
      minutes,
      rate,
      connections: open.opened,
      sampleS,
      warmupMinutes: warmupMin,
      slopeLimitMiBPerHour: limit,
      loadGenerator: 'raw paced client (loadtest/lib/raw-http.ts), next idle connection, 2 ms timer',
      gateway: { workers: gateway.workers, args: '--access-log off, defaults otherwise' },
      upstream: { kind: upstream.kind, version: upstream.version },
    },
    rssSlope: {
      miBPerHour: fit.slope,
      stdErrMiBPerHour: fit.slopeStdErr,
      theilSenMiBPerHour: robust,
      r2: fit.r2,
      samples: fit.n,
      anonMiBPerHour: fitAnon.slope,
      windowStartMinute: warmupMin,
      rssDeltaOverWindow: rssDelta,
      judged,
      pass: judged ? slopeOk : null,
    },
    memorySlopes,
    fds: { deltaOverWindow: fdDelta, warning: fdDelta > 50 },
    requests: { ...cAll, seconds: wallS, reqPerSec: cAll.completed / wallS, latency: lat },
    gatewayCpuCores: cpuAll,
    gatewayPeakRss: hwm,
    minutes: rows,
    samples: samples.map((s) => ({
      t: Math.round(s.t),
      rssMiB: Math.round((s.rss / MiB) * 100) / 100,
      fds: s.fds,
      workers: Object.fromEntries([...s.workers].map(([w, v]) => [w, { heapUsedMiB: Math.round((v.heapUsed / MiB) * 100) / 100, heapTotalMiB: Math.round((v.heapTotal / MiB) * 100) / 100, newSpaceMiB: Math.round((v.newSpace / MiB) * 100) / 100, externalMiB: Math.round((v.external / MiB) * 100) / 100 }])),
    })),
    gatewayStop: stopped,
    warnings: warnings.slice(-20),
  };

  const md = [
    '# Soak: steady load, memory over time',
    '',
    `Run ${startedAt.toISOString()} with \`make soak\` (loadtest/soak.ts): ${minutes} min at ${fmtInt(rate)} req/s over ` +
      `${open.opened} keep-alive connections, gateway with ${gateway.workers} workers, ${upstream.version} upstream.`,
    '',
    `**Verdict: ${verdict}.** RSS slope over minutes ${+warmupMin.toFixed(1)}–${minutes}: **${fit.slope.toFixed(1)} ± ${fit.slopeStdErr.toFixed(1)} MiB/h** ` +
      `(limit ±${limit} MiB/h; ${fit.n} samples, ${sampleS} s apart; Theil–Sen ${robust.toFixed(1)} MiB/h; ` +
      `anonymous memory ${fitAnon.slope.toFixed(1)} MiB/h). ` +
      `Errors: ${errText(cAll)}.`,
    '',
    mdTable(
      ['measure', 'value'],
      [
        ['requests', `${fmtInt(cAll.completed)} at ${fmtInt(cAll.completed / wallS)} req/s (client shortfall: ${fmtInt(cAll.noIdle)})`],
        ['latency p50 / p99 / p99.9 / max', `${fmtMs(lat.p50Ms)} / ${fmtMs(lat.p99Ms)} / ${fmtMs(lat.p999Ms)} / ${fmtMs(lat.maxMs)}`],
        ['gateway RSS first → last sample; peak (VmHWM)', `${fmtMiB(samples[0]!.rss)} → ${fmtMiB(samples[samples.length - 1]!.rss)}; ${fmtMiB(hwm)}`],
        ['RSS change over the judged window', fmtMiB(rssDelta, 2)],
        ['gateway fds change over the window', `${fdDelta >= 0 ? '+' : ''}${fdDelta}${fdDelta > 50 ? ' (**warning: growing**)' : ''}`],
        ['gateway CPU', `${cpuAll.toFixed(2)} cores`],
        ['gateway stop (SIGTERM)', `exit ${stopped.code ?? stopped.signal} after ${(stopped.ms / 1000).toFixed(1)} s`],
      ],
    ),
    '',
    `Slope limit: ${limit} MiB/h ≈ ${((limit * MiB) / (3600 * rate)).toFixed(1)} bytes per request at ${fmtInt(rate)} req/s ` +
      `(${fmtInt(rate * 3600)} requests per hour), so a leak that keeps a small object every few requests fails. ` +
      'It is not tighter because RSS moves in steps (V8 heap growth, malloc chunks): least squares reads one step of h MiB in the ' +
      `middle of a window of T hours as ~1.5·h/T MiB/h (here T = ${((minutes - warmupMin) / 60).toFixed(2)} h: ` +
      `~${(1.5 / Math.max(0.01, (minutes - warmupMin) / 60)).toFixed(1)}·h MiB/h). Theil–Sen (median of pairwise slopes) is barely moved by one step: least ` +
      'squares over the limit with Theil–Sen near 0 means a step, not a trend. Runs under 6 minutes are not judged.',
    '',
    '## Memory slopes',
    '',
    `Over minutes ${+warmupMin.toFixed(1)}–${minutes}, least squares (± standard error) and Theil–Sen, MiB/h. Only the RSS slope is judged; ` +
      'the per-worker series say which isolate and which kind of memory a growing RSS comes from. ' +
      'Plot: the `.png` file of the same name as this report.',
    '',
    mdTable(
      ['series', 'first → last (MiB)', 'slope (MiB/h)', 'Theil–Sen (MiB/h)'],
      memorySlopes.map((m) => [m.series, `${m.first.toFixed(1)} → ${m.last.toFixed(1)}`, `${m.miBPerHour.toFixed(1)} ± ${m.stdErrMiBPerHour.toFixed(1)}`, m.theilSenMiBPerHour.toFixed(1)]),
    ),
    '',
    '## Minute by minute',
    '',
    mdTable(
      ['minute', 'req/s', 'RSS (MiB)', 'heap used / external (heap total, new space) per worker (MiB)', 'fds', 'gateway CPU', 'p50', 'p99', 'max', 'errors', 'shortfall'],
      rows.map((r) => [
        r.minute,
        fmtInt(r.reqPerSec),
        r.rssMiB,
        r.workerMiB,
        r.fds,
        r.cpuCores.toFixed(2),
        fmtMs(r.latency.p50Ms),
        fmtMs(r.latency.p99Ms),
        fmtMs(r.latency.maxMs),
        r.errors + r.non2xx,
        r.shortfall,
      ]),
    ),
    '',
    '## Machine',
    '',
    machineMarkdown(machine, { upstream: `${upstream.version} (${upstream.kind})` }),
  ].join('\n');

  const files = writeResults(judged ? 'soak' : 'soak-smoke', result, md);
  const plot = files.md.replace(/\.md$/, '.png');
  const series: Series[] = [
    { name: 'RSS (process)', color: [200, 30, 30], points: samples.map((s) => [s.t / 60, s.rss / MiB] as const) },
    ...workerIds.flatMap((w, i) => [
      { name: `heap used w${w}`, color: PALETTE[(3 * i) % PALETTE.length], points: seriesOf(samples, w, 'heapUsed').map(([t, v]) => [t / 60, v / MiB] as const) },
      { name: `heap total w${w}`, color: PALETTE[(3 * i + 1) % PALETTE.length], points: seriesOf(samples, w, 'heapTotal').map(([t, v]) => [t / 60, v / MiB] as const) },
      { name: `external w${w}`, color: PALETTE[(3 * i + 2) % PALETTE.length], points: seriesOf(samples, w, 'external').map(([t, v]) => [t / 60, v / MiB] as const) },
    ]),
  ];
  writeFileSync(
    plot,
    lineChart({
      title: `Soak ${startedAt.toISOString().slice(0, 16)}: ${fmtInt(rate)} req/s, ${gateway.workers} workers, RSS slope ${fit.slope.toFixed(1)} MiB/h`,
      xLabel: 'minutes since the load started',
      yLabel: 'MiB',
      series,
      marker: { x: warmupMin, label: `slopes from minute ${+warmupMin.toFixed(1)}` },
    }),
  );
  process.stdout.write(`\n${md}\n\nwritten: ${files.json}\n         ${files.md}\n         ${plot}\n`);
  return verdict.startsWith('FAIL') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
