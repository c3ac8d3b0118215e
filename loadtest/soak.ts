/**
 * Soak: a steady request rate for SOAK_MINUTES (10) against a 2-worker gateway, watching the
 * gateway's RSS (V8 heaps are not visible from outside the process; RSS is what we can measure
 * and what the OOM killer sees), its fds, errors and latency, minute by minute.
 *
 *   make loadtest-soak
 *   SOAK_MINUTES=1 node dist/loadtest/soak.js        # smoke run (not judged: too short)
 *
 * Load: the raw paced client (lib/raw-http.ts), SOAK_CONNECTIONS (64) keep-alive connections,
 * SOAK_RATE (2000) requests per second issued from a 2 ms timer to the next idle connection.
 * autocannon's overallRate is not used on purpose: it sends each second's quota as fast as it
 * can and then waits for the next second (a 1 Hz square wave, not a steady rate).
 *
 * Verdict (runs of at least 6 minutes; shorter ones are reported but not judged):
 *   RSS slope: least squares over the 10 s samples after warm-up (minutes 2..end of a 10-minute
 *   run), in MiB per hour. PASS when |slope| < SOAK_SLOPE_LIMIT_MIB_H (default 20).
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
 * Env: SOAK_MINUTES (10), SOAK_RATE (2000), SOAK_CONNECTIONS (64), SOAK_SAMPLE_S (10),
 * SOAK_WARMUP_MINUTES (2; a fifth of the run when shorter than 6 minutes),
 * SOAK_SLOPE_LIMIT_MIB_H (20), SOAK_WORKERS (gateway default), LOADTEST_UPSTREAM (nginx|echo).
 */
import { performance } from 'node:perf_hooks';

import {
  MiB,
  countFds,
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

interface RssSample {
  /** Seconds since the load started. */
  t: number;
  rss: number;
  rssAnon: number;
  fds: number;
}

interface MinuteRow {
  minute: number;
  reqPerSec: number;
  rssMiB: number;
  fds: number;
  cpuCores: number;
  latency: LatencySummary;
  errors: number;
  non2xx: number;
  shortfall: number;
}

async function main(): Promise<number> {
  const minutes = envNumber('SOAK_MINUTES', 10, 0.1, 24 * 60);
  const rate = envNumber('SOAK_RATE', 2000, 1, 50_000);
  const connections = envNumber('SOAK_CONNECTIONS', 64, 1, 5000);
  const sampleS = envNumber('SOAK_SAMPLE_S', 10, 1, 60);
  const limit = envNumber('SOAK_SLOPE_LIMIT_MIB_H', 20, 0.1, 10_000);
  const warmupMin = envNumber('SOAK_WARMUP_MINUTES', minutes >= 6 ? 2 : minutes / 5, 0, minutes);
  const workersEnv = process.env.SOAK_WORKERS;
  const workers = workersEnv === undefined || workersEnv === '' ? undefined : envNumber('SOAK_WORKERS', 2, 0, 64);
  const judged = minutes >= 6 && minutes - warmupMin >= 4;

  const durationS = minutes * 60;
  installSafetyNet(durationS + 240);
  const machine = describeMachine();
  const startedAt = new Date();

  const upstream = await startUpstream();
  const gateway = await startGateway({ upstreamPort: upstream.port, workers });
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
  const take = () => {
    const m = readProcMemory(pid);
    samples.push({ t: (performance.now() - t0) / 1000, rss: m.rss, rssAnon: m.rssAnon, fds: countFds(pid) });
  };
  take();
  let minuteStart = { t: performance.now(), c: pool.counters(), cpu: readCpuSeconds(pid) };
  const endAt = t0 + durationS * 1000;
  let nextSample = t0 + sampleS * 1000;
  let nextMinute = t0 + 60_000;
  while (performance.now() < endAt) {
    const wake = Math.min(nextSample, nextMinute, endAt);
    await sleep(Math.max(0, wake - performance.now()));
    const now = performance.now();
    if (now >= nextSample || now >= endAt) {
      take();
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
          `p50 ${fmtMs(row.latency.p50Ms)} p99 ${fmtMs(row.latency.p99Ms)}, errors ${row.errors + row.non2xx}`,
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
    fds: { deltaOverWindow: fdDelta, warning: fdDelta > 50 },
    requests: { ...cAll, seconds: wallS, reqPerSec: cAll.completed / wallS, latency: lat },
    gatewayCpuCores: cpuAll,
    gatewayPeakRss: hwm,
    minutes: rows,
    samples: samples.map((s) => ({ t: Math.round(s.t), rssMiB: Math.round((s.rss / MiB) * 100) / 100, fds: s.fds })),
    gatewayStop: stopped,
    warnings: warnings.slice(-20),
  };

  const md = [
    '# Soak: steady load, RSS over time',
    '',
    `Run ${startedAt.toISOString()} with \`make loadtest-soak\` (loadtest/soak.ts): ${minutes} min at ${fmtInt(rate)} req/s over ` +
      `${open.opened} keep-alive connections, gateway with ${gateway.workers} workers, ${upstream.version} upstream.`,
    '',
    `**Verdict: ${verdict}.** RSS slope over minutes ${warmupMin}–${minutes}: **${fit.slope.toFixed(1)} ± ${fit.slopeStdErr.toFixed(1)} MiB/h** ` +
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
      'middle of an 8-minute window as ~11·h MiB/h. Theil–Sen (median of pairwise slopes) is barely moved by one step: least ' +
      'squares over the limit with Theil–Sen near 0 means a step, not a trend. Runs under 6 minutes are not judged.',
    '',
    '## Minute by minute',
    '',
    mdTable(
      ['minute', 'req/s', 'RSS (MiB)', 'fds', 'gateway CPU', 'p50', 'p99', 'max', 'errors', 'shortfall'],
      rows.map((r) => [
        r.minute,
        fmtInt(r.reqPerSec),
        r.rssMiB,
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
  process.stdout.write(`\n${md}\n\nwritten: ${files.json}\n         ${files.md}\n`);
  return verdict.startsWith('FAIL') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
