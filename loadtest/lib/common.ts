/**
 * Small helpers shared by the load tests: env parsing, /proc readers, statistics, histograms.
 * Nothing here touches the network.
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import * as hdr from 'hdr-histogram-js';
import { parseProcLimits } from '../../src/util/file-limits';
import { processCpuSeconds } from '../../src/util/proc-stat';

/** Repository root (this file is compiled to dist/loadtest/lib/common.js). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const RESULTS_DIR = path.join(ROOT, 'loadtest', 'results');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// env

/** A numeric env var with bounds; an invalid value is a hard error (better than a silent default). */
export function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new Error(`${name}=${raw}: expected a number in [${min}, ${max}]`);
  }
  return v;
}

export function envString(name: string, fallback: string): string {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

// ------------------------------------------------------------------------------------------------
// /proc

export interface ProcMemory {
  /** VmRSS in bytes. */
  rss: number;
  rssAnon: number;
  rssFile: number;
  /** VmHWM (peak RSS) in bytes. */
  hwm: number;
  threads: number;
}

function kbField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
  return m === null ? NaN : Number(m[1]) * 1024;
}

export function readProcMemory(pid: number): ProcMemory {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const threads = /^Threads:\s+(\d+)/m.exec(text);
  return {
    rss: kbField(text, 'VmRSS'),
    rssAnon: kbField(text, 'RssAnon'),
    rssFile: kbField(text, 'RssFile'),
    hwm: kbField(text, 'VmHWM'),
    threads: threads === null ? NaN : Number(threads[1]),
  };
}

/** Number of open file descriptors of a process (entries of /proc/<pid>/fd). */
export function countFds(pid: number | 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export interface NofileLimits {
  soft: number;
  hard: number;
}

export function readNofile(pid: number | 'self'): NofileLimits {
  return parseProcLimits(readFileSync(`/proc/${pid}/limits`, 'utf8'));
}

/** User + system CPU seconds the process (all its threads) has used so far. */
export const readCpuSeconds = processCpuSeconds;

/** Kernel-side numbers, system wide (both ends of every loopback connection, and other tenants). */
export interface KernelMemory {
  /** /proc/meminfo Slab, bytes. */
  slab: number;
  /** /proc/meminfo SUnreclaim, bytes. */
  slabUnreclaimable: number;
  /** /proc/net/sockstat "TCP: inuse". */
  tcpInuse: number;
  /** /proc/net/sockstat "TCP: mem" (pages, buffer memory charged to TCP) in bytes. */
  tcpBufferBytes: number;
  tcpTimeWait: number;
}

export function readKernelMemory(): KernelMemory {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const sockstat = readFileSync('/proc/net/sockstat', 'utf8');
  const tcp = /^TCP: inuse (\d+) orphan \d+ tw (\d+) alloc \d+ mem (\d+)/m.exec(sockstat);
  return {
    slab: kbField(meminfo, 'Slab'),
    slabUnreclaimable: kbField(meminfo, 'SUnreclaim'),
    tcpInuse: tcp === null ? NaN : Number(tcp[1]),
    tcpTimeWait: tcp === null ? NaN : Number(tcp[2]),
    tcpBufferBytes: tcp === null ? NaN : Number(tcp[3]) * 4096,
  };
}

// ------------------------------------------------------------------------------------------------
// ports

/** A free TCP port on 127.0.0.1 (bound, read, released; good enough on a loopback-only box). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------------------------------------
// statistics

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export interface LinearFit {
  slope: number;
  intercept: number;
  /** Standard error of the slope (NaN with fewer than 3 points). */
  slopeStdErr: number;
  r2: number;
  n: number;
}

/** Ordinary least squares y = intercept + slope * x. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): LinearFit {
  const n = xs.length;
  if (n < 2) return { slope: NaN, intercept: NaN, slopeStdErr: NaN, r2: NaN, n };
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i]!;
    my += ys[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const r = ys[i]! - (intercept + slope * xs[i]!);
    sse += r * r;
  }
  const slopeStdErr = n > 2 && sxx > 0 ? Math.sqrt(sse / (n - 2) / sxx) : NaN;
  const r2 = syy === 0 ? 1 : 1 - sse / syy;
  return { slope, intercept, slopeStdErr, r2, n };
}

// ------------------------------------------------------------------------------------------------
// latency histograms (microseconds, 3 significant digits, up to 60 s)

export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Records a latency given in milliseconds (float) as whole microseconds. */
export function recordMs(h: Histogram, ms: number): void {
  const us = Math.round(ms * 1000);
  h.recordValue(us < 1 ? 1 : us > 60_000_000 ? 60_000_000 : us);
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, p50Ms: NaN, p90Ms: NaN, p99Ms: NaN, p999Ms: NaN, maxMs: NaN, meanMs: NaN };
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
  };
}

// ------------------------------------------------------------------------------------------------
// formatting

export const MiB = 1024 * 1024;

export function fmtMiB(bytes: number, digits = 1): string {
  return Number.isFinite(bytes) ? `${(bytes / MiB).toFixed(digits)} MiB` : 'n/a';
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? `${ms.toFixed(ms < 10 ? 2 : 1)} ms` : 'n/a';
}

/** Local timestamp for file names: 2026-11-22-004112. */
export function fileStamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Markdown table from a header row and data rows. */
export function mdTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Logs a progress line to stderr with the seconds since the run started. */
const t0 = Date.now();
export function log(msg: string): void {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

/**
 * Theil-Sen slope: the median of the slopes of all pairs of points. Unlike least squares it is
 * barely moved by one step in the data (a heap that grows once), so it tells a step from a
 * trend. O(n²): at most 400 evenly spaced points are used.
 */
export function theilSen(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const stride = Math.max(1, Math.ceil(n / 400));
  const px: number[] = [];
  const py: number[] = [];
  for (let i = 0; i < n; i += stride) {
    px.push(xs[i]!);
    py.push(ys[i]!);
  }
  const slopes: number[] = [];
  for (let i = 0; i < px.length; i++) {
    for (let j = i + 1; j < px.length; j++) {
      const dx = px[j]! - px[i]!;
      if (dx !== 0) slopes.push((py[j]! - py[i]!) / dx);
    }
  }
  return median(slopes);
}
