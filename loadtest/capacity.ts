/**
 * Capacity: how many keep-alive connections one gateway process holds under this machine's
 * open-file limit, what each costs in memory, and how requests fare while they are all open.
 *
 *   make loadtest-capacity                       # full size: sized automatically under RLIMIT_NOFILE
 *   CAP_CONNECTIONS=300 CAP_TRICKLE_S=10 node dist/loadtest/capacity.js   # smoke run
 *
 * Phases (one gateway, its default worker count, one upstream):
 *   baseline  CAP_BASE_CONNECTIONS (64) connections carry the hold rate (N / 6 s requests per
 *             second) for at least CAP_BASE_S (30 s) and until gateway RSS is steady (the last 8
 *             one-second samples span < max(2 MiB, 1.5%); at most 120 s); RSS and fds are the
 *             median-RSS sample of the last 5. A fresh gateway's RSS falls for ~20 s. Measuring the baseline under the same request rate as
 *             the held phase matters: an idle gateway's V8 heaps shrink (tens of MiB), which
 *             would swamp the per-connection signal.
 *   open      N connections from 127.0.0.2..127.0.0.9 in CAP_STEPS (4) equal steps, each
 *             connection sends one request when connected (CAP_OPEN_CONCURRENCY, 64, waiting for
 *             their first response at a time); the baseline connections are closed once the
 *             first step starts. After each step: wait for steady RSS, sample.
 *   held      every connection sends one request per CAP_HOLD_PERIOD_S (6 s): the least traffic
 *             that keeps a connection open, since uWS closes an HTTP connection idle for 10 s
 *             (8-12 s with its 4 s timer granularity). Truly idle connections cannot be held.
 *             Same request rate as the baseline; RSS and fds once steady (>= CAP_SETTLE_S, 10 s)
 *   trickle   CAP_TRICKLE_S (60 s) at CAP_TRICKLE_RATE (5000 req/s) spread round-robin over all
 *             connections; latency into an HDR histogram
 *   after     back to the hold rate, RSS again; then all connections closed, RSS and fds again
 *
 * Memory per connection = (RSS held - RSS baseline) / (connections held - baseline connections),
 * and, sturdier, the slope of a least-squares line through (connections, RSS) at the baseline and
 * after each step, with its R²: V8 heap sizes move by tens of MiB on their own (they follow the
 * allocation rate, and shrink a while after it drops), the same order as the whole signal.
 *
 * Sizing: the gateway is one process (its workers are threads), so its one fd table holds one fd
 * per client connection plus upstream sockets, listeners, epoll/eventfds and files. The client
 * needs one fd per connection too. N = min over both processes of
 * (soft RLIMIT_NOFILE - fds already open - headroom), headroom = max(1000, 10% of the limit),
 * rounded down to a multiple of 100. CAP_CONNECTIONS can lower N, never raise it past that.
 *
 * Env: CAP_CONNECTIONS, CAP_HEADROOM_FDS, CAP_TRICKLE_S (60), CAP_TRICKLE_RATE (5000),
 * CAP_HOLD_PERIOD_S (6), CAP_OPEN_CONCURRENCY (64), CAP_SOURCE_ADDRS (8, more if the
 * ephemeral port range needs it), CAP_SETTLE_S (10),
 * CAP_BASE_CONNECTIONS (64), CAP_BASE_S (30), CAP_STEPS (4),
 * CAP_WORKERS (gateway default), LOADTEST_UPSTREAM (nginx|echo).
 */
import { readFileSync } from 'node:fs';
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
  median,
  newHistogram,
  readCpuSeconds,
  readKernelMemory,
  readNofile,
  readProcMemory,
  recordMs,
  sleep,
  summarize,
  type Histogram,
  type KernelMemory,
  type ProcMemory,
} from './lib/common';
import { installSafetyNet, startGateway, startUpstream } from './lib/processes';
import { RawPool, diffCounters, type Counters } from './lib/raw-http';
import { describeMachine, machineMarkdown, writeResults } from './lib/report';

interface Sample {
  t: number;
  mem: ProcMemory;
  fds: number;
  kernel: KernelMemory;
  clientRss: number;
}

async function main(): Promise<number> {
  const trickleS = envNumber('CAP_TRICKLE_S', 60, 1, 600);
  const trickleRate = envNumber('CAP_TRICKLE_RATE', 5000, 1, 50_000);
  const holdPeriodS = envNumber('CAP_HOLD_PERIOD_S', 6, 0.5, 7);
  const openConcurrency = envNumber('CAP_OPEN_CONCURRENCY', 64, 1, 2048);
  const baseConns = envNumber('CAP_BASE_CONNECTIONS', 64, 1, 1000);
  // A fresh gateway's RSS falls in steps for ~20 s after start (startup garbage being collected);
  // a shorter baseline can be "steady" for 8 s and still be inside that fall.
  const baseS = envNumber('CAP_BASE_S', 30, 25, 300);
  const baseMaxS = Math.max(baseS, 120);
  const sourceAddrsEnv = envNumber('CAP_SOURCE_ADDRS', 0, 0, 250);
  const settleS = envNumber('CAP_SETTLE_S', 10, 8, 60);
  const steps = envNumber('CAP_STEPS', 4, 1, 10);
  const settleMaxS = Math.max(settleS, 60);
  const workersEnv = process.env.CAP_WORKERS;
  const workers = workersEnv === undefined || workersEnv === '' ? undefined : envNumber('CAP_WORKERS', 2, 1, 64);
  const requestedN = envNumber('CAP_CONNECTIONS', 0, 0, 1_000_000);

  // Bounded: open (<= 30 s + 10 ms per connection at 20k) + trickle + fixed phases + stop.
  installSafetyNet(600 + trickleS + baseMaxS + settleMaxS * (steps + 1));
  const machine = describeMachine();
  const startedAt = new Date();

  const upstream = await startUpstream();
  const gateway = await startGateway({ upstreamPort: upstream.port, workers });
  const pid = gateway.pid;

  // Source addresses: each gives its own ephemeral port range towards the gateway's ip:port.
  // Default: 127.0.0.2..127.0.0.9, more when N would use over 70% of the range on each.
  const portRange = (() => {
    try {
      const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
      return hi! - lo! + 1;
    } catch {
      return 28_232;
    }
  })();
  const sourceAddrsFor = (conns: number) =>
    sourceAddrsEnv > 0 ? sourceAddrsEnv : Math.min(250, Math.max(8, Math.ceil(conns / (0.7 * portRange))));
  const poolOpts = {
    host: '127.0.0.1',
    port: gateway.port,
    path: '/capacity',
    headers: upstream.requestHeaders,
    requestTimeoutMs: 10_000,
  };

  const sample = (): Sample => ({
    t: performance.now(),
    mem: readProcMemory(pid),
    fds: countFds(pid),
    kernel: readKernelMemory(),
    clientRss: readProcMemory(process.pid).rss,
  });
  /**
   * Samples every second until gateway RSS is steady: the last 8 samples span less than
   * max(2 MiB, 1.5%) (V8 heaps shrink for a while after start and after bursts), at least `minS`
   * and at most `maxS` seconds. Returns the sample with the median RSS of the last 5.
   */
  const steadySample = async (minS: number, maxS: number): Promise<{ s: Sample; waitedS: number; steady: boolean }> => {
    const start = performance.now();
    const win: Sample[] = [];
    let steady = false;
    for (;;) {
      win.push(sample());
      if (win.length > 8) win.shift();
      const waited = (performance.now() - start) / 1000;
      if (win.length === 8 && waited >= minS) {
        const rss = win.map((x) => x.mem.rss);
        const span = Math.max(...rss) - Math.min(...rss);
        if (span < Math.max(2 * MiB, 0.015 * median(rss))) {
          steady = true;
          break;
        }
      }
      if (waited >= maxS) break;
      await sleep(1000);
    }
    const last = win.slice(-5);
    const m = median(last.map((x) => x.mem.rss));
    const s = last.reduce((best, x) => (Math.abs(x.mem.rss - m) < Math.abs(best.mem.rss - m) ? x : best), last[0]!);
    return { s, waitedS: (performance.now() - start) / 1000, steady };
  };

  // -- sizing --------------------------------------------------------------------------------------
  const startFds = countFds(pid);
  const gwLimit = readNofile(pid);
  const clientLimit = readNofile('self');
  const clientFdsBase = countFds('self');
  const headroomFor = (soft: number) => envNumber('CAP_HEADROOM_FDS', Math.max(1000, Math.ceil(soft * 0.1)), 0, 1_000_000);
  const gwAvail = gwLimit.soft - startFds - headroomFor(gwLimit.soft);
  const clientAvail = clientLimit.soft - clientFdsBase - headroomFor(clientLimit.soft);
  const safeN = Math.max(0, Math.floor(Math.min(gwAvail, clientAvail) / 100) * 100);
  const n = requestedN > 0 ? Math.min(requestedN, safeN) : safeN;
  if (requestedN > safeN) log(`CAP_CONNECTIONS=${requestedN} is above the safe maximum ${safeN}; using ${safeN}`);
  log(
    `fd limits: gateway ${gwLimit.soft}/${gwLimit.hard} (${startFds} open), client ${clientLimit.soft}/${clientLimit.hard} ` +
      `(${clientFdsBase} open), headroom ${headroomFor(gwLimit.soft)} -> ${fmtInt(n)} connections`,
  );
  if (n === 0) throw new Error('no room for connections under the open-file limits');
  const holdRate = n / holdPeriodS;
  const sourceAddrs = sourceAddrsFor(n);
  const localAddresses = Array.from({ length: sourceAddrs }, (_, i) => `127.0.0.${2 + i}`);

  // -- baseline: a few connections carrying the hold rate ------------------------------------------
  const basePool = new RawPool({ ...poolOpts, localAddresses });
  const baseHist = newHistogram();
  basePool.onComplete = (ms) => recordMs(baseHist, ms);
  basePool.setRate(holdRate, 'next-idle');
  const baseOpen = await basePool.open(baseConns, baseConns, 10_000);
  const baseSteady = await steadySample(baseS, baseMaxS);
  const base = baseSteady.s;
  const baseHeld = basePool.held;
  const baseCounters = basePool.counters();
  log(
    `baseline: ${baseOpen.opened} connections at ${fmtInt(holdRate)} req/s for ${baseSteady.waitedS.toFixed(0)} s` +
      `${baseSteady.steady ? '' : ' (RSS NOT steady)'}: gateway RSS ${fmtMiB(base.mem.rss)}, ` +
      `${base.fds} fds, ${baseCounters.completed} responses, ${baseCounters.errorsTotal} errors`,
  );

  // The trickle visits each connection every n / rate s; never less often than the hold period.
  const trickleRateEff = Math.max(trickleRate, holdRate);

  const pool = new RawPool({ ...poolOpts, localAddresses });
  const hists: Record<'open' | 'held' | 'trickle', Histogram> = { open: newHistogram(), held: newHistogram(), trickle: newHistogram() };
  let current = hists.open;
  pool.onComplete = (ms) => recordMs(current, ms);

  // -- open, in steps -------------------------------------------------------------------------------
  // Opening in CAP_STEPS increments, with a steady RSS sample after each, gives RSS as a function
  // of connections: the slope of a least-squares line through those points (and the baseline) is
  // the per-connection cost, and its R² says how much V8 heap noise there was.
  const c0 = pool.counters();
  pool.setRate(holdRate, 'strict');
  const stepRows: { connections: number; rss: number; rssAnon: number; fds: number; settledS: number; steady: boolean }[] = [
    { connections: baseHeld, rss: base.mem.rss, rssAnon: base.mem.rssAnon, fds: base.fds, settledS: baseSteady.waitedS, steady: baseSteady.steady },
  ];
  const openRes = { requested: n, opened: 0, failed: 0, seconds: 0 };
  let held = base;
  let heldSteady = baseSteady;
  for (let k = 1; k <= steps; k++) {
    const want = Math.round((n * k) / steps) - openRes.opened - openRes.failed;
    current = hists.open;
    const p = pool.open(want, openConcurrency, 30_000 + want * 10);
    if (k === 1) await basePool.closeAll(5000);
    const r = await p;
    current = hists.held;
    openRes.opened += r.opened;
    openRes.failed += r.failed;
    openRes.seconds += r.seconds;
    heldSteady = await steadySample(settleS, settleMaxS);
    held = heldSteady.s;
    stepRows.push({
      connections: pool.held,
      rss: held.mem.rss,
      rssAnon: held.mem.rssAnon,
      fds: held.fds,
      settledS: heldSteady.waitedS,
      steady: heldSteady.steady,
    });
    log(
      `step ${k}/${steps}: +${fmtInt(r.opened)} in ${r.seconds.toFixed(1)} s${r.failed ? ` (${r.failed} failed)` : ''}, ` +
        `${fmtInt(pool.held)} held, gateway RSS ${fmtMiB(held.mem.rss)} (delta ${fmtMiB(held.mem.rss - base.mem.rss)}), ` +
        `${fmtInt(held.fds)} fds, settled in ${heldSteady.waitedS.toFixed(0)} s${heldSteady.steady ? '' : ' (NOT steady)'}`,
    );
  }
  const c1 = pool.counters();
  const heldConns = pool.held;
  const fit = leastSquares(
    stepRows.map((r) => r.connections),
    stepRows.map((r) => r.rss),
  );
  log(`fit over ${stepRows.length} points: ${fmtInt(fit.slope)} B per connection (R² ${fit.r2.toFixed(3)})`);
  const c2 = pool.counters();

  // -- trickle -------------------------------------------------------------------------------------
  current = hists.trickle;
  const series: { s: number; rssMiB: number; fds: number; held: number; completed: number }[] = [];
  const cpu0 = readCpuSeconds(pid);
  const trickleStart = performance.now();
  pool.setRate(trickleRateEff, 'strict');
  let aborted: string | null = null;
  const trickleEnd = trickleStart + trickleS * 1000;
  while (performance.now() < trickleEnd) {
    await sleep(Math.min(5000, Math.max(0, trickleEnd - performance.now())));
    const s = sample();
    series.push({
      s: Math.round((s.t - trickleStart) / 100) / 10,
      rssMiB: Math.round((s.mem.rss / MiB) * 10) / 10,
      fds: s.fds,
      held: pool.held,
      completed: pool.counters().completed - c2.completed,
    });
    if (s.fds > gwLimit.soft - 200) {
      aborted = `gateway fds ${s.fds} came within 200 of its limit ${gwLimit.soft}`;
      break;
    }
  }
  const trickleSeconds = (performance.now() - trickleStart) / 1000;
  const trickleCpu = readCpuSeconds(pid) - cpu0;
  const c3 = pool.counters();
  const heldAfterTrickle = pool.held;
  if (aborted !== null) log(`trickle aborted: ${aborted}`);

  // -- after ---------------------------------------------------------------------------------------
  current = hists.held;
  pool.setRate(holdRate, 'strict');
  const afterSteady = await steadySample(settleS, settleMaxS);
  const after = afterSteady.s;
  const c4 = pool.counters();
  log(`after trickle: gateway RSS ${fmtMiB(after.mem.rss)}, ${fmtInt(after.fds)} fds, ${fmtInt(pool.held)} held`);

  await pool.closeAll(15_000);
  await sleep(5000);
  const closed = sample();
  log(`closed all: gateway RSS ${fmtMiB(closed.mem.rss)}, ${fmtInt(closed.fds)} fds`);

  const stopped = await gateway.stop();
  await upstream.stop(5000);
  log(`gateway stopped: exit ${stopped.code ?? stopped.signal} after ${(stopped.ms / 1000).toFixed(1)} s`);

  // -- report --------------------------------------------------------------------------------------
  // The baseline already had `baseHeld` connections open.
  const perConn = (a: Sample, b: Sample, conns: number) => (conns > baseHeld ? (b.mem.rss - a.mem.rss) / (conns - baseHeld) : NaN);
  const perConnAnon = (a: Sample, b: Sample, conns: number) =>
    conns > baseHeld ? (b.mem.rssAnon - a.mem.rssAnon) / (conns - baseHeld) : NaN;
  /** Gateway fds that are not client connections: upstream pool sockets, listeners, epoll, files. */
  const otherFds = (x: Sample, conns: number) => x.fds - conns;
  const heldPerConn = perConn(base, held, heldConns);
  const afterPerConn = perConn(base, after, heldAfterTrickle);
  const trickle = diffCounters(c2, c3);
  const allPhases = diffCounters(c0, c4);
  const lat = { open: summarize(hists.open), held: summarize(hists.held), trickle: summarize(hists.trickle) };
  const kernelSlabPerSocket = heldConns > baseHeld ? (held.kernel.slab - base.kernel.slab) / (2 * (heldConns - baseHeld)) : NaN;
  const lost = openRes.opened - heldAfterTrickle;
  const ok =
    openRes.failed === 0 &&
    lost <= 0 &&
    allPhases.errorsTotal + allPhases.non2xx === 0 &&
    baseCounters.errorsTotal + baseCounters.non2xx === 0 &&
    aborted === null;
  const memoryConclusive = heldPerConn > 0 && fit.slope > 0 && fit.r2 >= 0.5 && heldConns - baseHeld >= 5000;
  const kib = (b: number) => (Number.isFinite(b) ? `${(b / 1024).toFixed(2)} KiB` : 'n/a');

  const result = {
    name: 'capacity',
    startedAt: startedAt.toISOString(),
    verdict: ok ? 'ok' : 'errors',
    machine,
    setup: {
      gateway: { workers: gateway.workers, args: '--access-log off (defaults otherwise)', nofile: gwLimit },
      upstream: { kind: upstream.kind, version: upstream.version },
      client: { nofile: clientLimit, fdsBeforeOpen: clientFdsBase, sourceAddresses: localAddresses, openConcurrency },
      sizing: { gatewayFdsAtStart: startFds, headroomFds: headroomFor(gwLimit.soft), safeMaximum: safeN, requested: requestedN || null, used: n },
      holdPeriodS,
      holdRate: Math.round(holdRate),
      trickle: { seconds: trickleS, rate: Math.round(trickleRateEff), perConnectionPeriodS: Math.round((n / trickleRateEff) * 100) / 100 },
    },
    open: { ...openRes, perSecond: openRes.opened / openRes.seconds },
    connectionsHeld: { afterOpen: heldConns, afterTrickle: heldAfterTrickle },
    gateway: {
      baseline: {
        connections: baseHeld,
        seconds: baseSteady.waitedS,
        rssSteady: baseSteady.steady,
        rss: base.mem.rss,
        rssAnon: base.mem.rssAnon,
        fds: base.fds,
        nonClientFds: otherFds(base, baseHeld),
        threads: base.mem.threads,
      },
      held: {
        rss: held.mem.rss,
        rssAnon: held.mem.rssAnon,
        fds: held.fds,
        nonClientFds: otherFds(held, heldConns),
        settledS: heldSteady.waitedS,
        rssSteady: heldSteady.steady,
      },
      afterTrickle: {
        rss: after.mem.rss,
        rssAnon: after.mem.rssAnon,
        fds: after.fds,
        nonClientFds: otherFds(after, heldAfterTrickle),
        hwm: after.mem.hwm,
        rssSteady: afterSteady.steady,
      },
      afterClose: { rss: closed.mem.rss, rssAnon: closed.mem.rssAnon, fds: closed.fds },
      perConnection: {
        rssBytesHeld: heldPerConn,
        rssAnonBytesHeld: perConnAnon(base, held, heldConns),
        rssBytesAfterTrickle: afterPerConn,
        fit: { bytesPerConnection: fit.slope, stdErr: fit.slopeStdErr, r2: fit.r2, points: fit.n },
        conclusive: memoryConclusive,
      },
      steps: stepRows,
      trickleCpuCores: trickleCpu / trickleSeconds,
      stop: stopped,
      warnings: gateway.warnings().slice(-20),
    },
    kernel: {
      note: 'system wide (both ends of each loopback connection, plus whatever else runs): indicative only',
      baseline: base.kernel,
      held: held.kernel,
      slabBytesPerSocketEnd: kernelSlabPerSocket,
    },
    client: { rssBaseline: base.clientRss, rssHeld: held.clientRss },
    requests: {
      baseline: { ...baseCounters, latency: summarize(baseHist) },
      trickle: { ...trickle, seconds: trickleSeconds, reqPerSec: trickle.completed / trickleSeconds, latency: lat.trickle, aborted },
      open: { ...diffCounters(c0, c1), latency: lat.open },
      allPhases,
      latencyHeld: lat.held,
    },
    trickleSeries: series,
  };

  const errorText = (c: Counters) =>
    c.errorsTotal === 0 && c.non2xx === 0
      ? '0'
      : `${c.errorsTotal + c.non2xx} (${[...Object.entries(c.errors).map(([k, v]) => `${k}: ${v}`), c.non2xx ? `non-2xx: ${c.non2xx}` : '']
          .filter(Boolean)
          .join(', ')})`;

  const md = [
    `# Capacity: keep-alive connections held by one gateway process`,
    '',
    `Run ${startedAt.toISOString()} with \`make loadtest-capacity\` (loadtest/capacity.ts). Verdict: **${ok ? 'ok, no errors' : 'ERRORS'}**.`,
    '',
    mdTable(
      ['measure', 'value'],
      [
        ['connections held (after open / after trickle)', `${fmtInt(heldConns)} / ${fmtInt(heldAfterTrickle)} of ${fmtInt(n)} targeted`],
        ['gateway', `${gateway.workers} workers (default), ${upstream.version} upstream`],
        [
          'baseline',
          `${baseHeld} connections carrying the hold rate (${fmtInt(holdRate)} req/s) for ${baseSteady.waitedS.toFixed(0)} s` +
            (baseSteady.steady ? ' (RSS steady)' : ' (**RSS not steady**)'),
        ],
        ['gateway RSS: baseline → held → after trickle → after close', `${fmtMiB(base.mem.rss)} → ${fmtMiB(held.mem.rss)} → ${fmtMiB(after.mem.rss)} → ${fmtMiB(closed.mem.rss)}`],
        ['**memory per connection** (RSS delta / added connections, all held)', `**${fmtInt(heldPerConn)} B = ${kib(heldPerConn)}**`],
        [
          `**memory per connection, fit** (slope of RSS vs connections over ${stepRows.length} points)`,
          `**${fmtInt(fit.slope)} B = ${kib(fit.slope)}** (± ${fmtInt(fit.slopeStdErr)} B, R² ${fit.r2.toFixed(3)})`,
        ],
        ['anonymous memory per connection (RssAnon delta / added connections)', `${fmtInt(perConnAnon(base, held, heldConns))} B`],
        [
          'RSS after the trickle minus held (V8 heaps follow the request rate; not connection memory)',
          `${after.mem.rss >= held.mem.rss ? '+' : ''}${fmtMiB(after.mem.rss - held.mem.rss)} (per connection from baseline: ${fmtInt(afterPerConn)} B)`,
        ],
        ['gateway fds: baseline → held → after trickle → after close', `${fmtInt(base.fds)} → ${fmtInt(held.fds)} → ${fmtInt(after.fds)} → ${fmtInt(closed.fds)} (limit ${gwLimit.soft})`],
        [
          'gateway fds that are not client connections (upstream pool, listeners, epoll, files): baseline / held / after trickle',
          `${otherFds(base, baseHeld)} / ${otherFds(held, heldConns)} / ${otherFds(after, heldAfterTrickle)}`,
        ],
        [
          'open rate',
          `${fmtInt(openRes.opened / openRes.seconds)} connections/s (${steps} steps, ${openRes.seconds.toFixed(1)} s opening in all, ` +
            `${openConcurrency} in flight, ${sourceAddrs} source addresses)`,
        ],
        ['trickle', `${trickleSeconds.toFixed(0)} s at ${fmtInt(trickle.completed / trickleSeconds)} req/s (each connection every ${(n / trickleRateEff).toFixed(1)} s)`],
        ['trickle latency p50 / p99 / max', `${fmtMs(lat.trickle.p50Ms)} / ${fmtMs(lat.trickle.p99Ms)} / ${fmtMs(lat.trickle.maxMs)}`],
        ['trickle errors', errorText(trickle)],
        ['errors over all phases', errorText(allPhases)],
        ['gateway CPU during the trickle', `${(trickleCpu / trickleSeconds).toFixed(2)} cores`],
        ['kernel slab per socket end (system wide, indicative)', kib(kernelSlabPerSocket)],
        ['client RSS held', fmtMiB(held.clientRss)],
        ['gateway stop (SIGTERM)', `exit ${stopped.code ?? stopped.signal} after ${(stopped.ms / 1000).toFixed(1)} s`],
      ],
    ),
    '',
    memoryConclusive
      ? 'Memory figures: conclusive (positive, R² ≥ 0.5, at least 5,000 connections added).'
      : '**Memory figures: inconclusive** — V8 heap noise (tens of MiB) is larger than what these connections cost; ' +
        'use at least 5,000 connections (the full-size run) for a per-connection figure.',
    '',
    'Held = every connection sends one request each ' +
      `${holdPeriodS} s (uWS closes HTTP connections idle for 10 s, so idle connections cannot be held without traffic). ` +
      `Baseline and held run at the same request rate, so the RSS delta is what the extra connections cost. RSS is VmRSS of the gateway process (primary + worker threads): sampled every second until the last 8 samples span under max(2 MiB, 1.5%) (at least ${settleS} s, baseline at least ${baseS} s), then the median of the last 5. Held settled in ${heldSteady.waitedS.toFixed(0)} s${heldSteady.steady ? '' : ' (**not steady**)'}.`,
    '',
    '## RSS by connections held',
    '',
    mdTable(
      ['connections', 'gateway RSS (MiB)', 'delta from baseline (MiB)', 'fds', 'settled in (s)'],
      stepRows.map((r) => [
        fmtInt(r.connections),
        (r.rss / MiB).toFixed(1),
        ((r.rss - base.mem.rss) / MiB).toFixed(1),
        fmtInt(r.fds),
        `${r.settledS.toFixed(0)}${r.steady ? '' : ' (not steady)'}`,
      ]),
    ),
    '',
    '## Trickle timeline',
    '',
    mdTable(
      ['t (s)', 'RSS (MiB)', 'fds', 'held', 'responses so far'],
      series.map((r) => [r.s, r.rssMiB, r.fds, r.held, r.completed]),
    ),
    '',
    '## Machine',
    '',
    machineMarkdown(machine, {
      'gateway RLIMIT_NOFILE': `${gwLimit.soft} soft / ${gwLimit.hard} hard`,
      upstream: `${upstream.version} (${upstream.kind})`,
    }),
  ].join('\n');

  const files = writeResults(n < safeN / 2 || trickleS < 30 ? 'capacity-smoke' : 'capacity', result, md);
  process.stdout.write(`\n${md}\n\nwritten: ${files.json}\n         ${files.md}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`capacity: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
