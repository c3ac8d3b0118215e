/**
 * One h2load run (nghttp2-client), parsed into the same shape as a wrk run so the harness's rounds
 * and report rows take it unchanged. h2load prints no percentiles, so every request's time comes
 * from its --log-file (tab-separated: start µs since epoch, status, µs to the end of the response)
 * and p50/p99 are taken over those.
 */
import { readFileSync, rmSync } from 'node:fs';
import { percentile } from '../peers/stats';
import { runLoadTool, type WrkResult } from '../peers/wrk';

export interface H2Load {
  /** the h2load binary */
  h2load: string;
  url: string;
  /** -c: connections */
  clients: number;
  /** -m: concurrent streams per connection */
  streams: number;
  seconds: number;
  /** where the per-request log goes (removed after parsing) */
  logFile: string;
  /** -H 'name: value' on every request */
  headers?: Record<string, string>;
  /** -d: POST this file as every request's body */
  bodyFile?: string;
}

export function h2loadArgs(load: H2Load): string[] {
  const args = ['-t1', `-c${load.clients}`, `-m${load.streams}`, `-D${load.seconds}`, `--log-file=${load.logFile}`];
  for (const [name, value] of Object.entries(load.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (load.bodyFile) args.push('-d', load.bodyFile);
  args.push(load.url);
  return args;
}

export function runH2load(load: H2Load): Promise<WrkResult> {
  return runLoadTool('h2load', load.h2load, h2loadArgs(load), (out) => {
    const durations = readDurationsMs(load.logFile);
    rmSync(load.logFile, { force: true });
    return parseH2load(out, durations);
  });
}

/** The third column of h2load's --log-file, in ms. */
export function readDurationsMs(logFile: string): number[] {
  const text = readFileSync(logFile, 'latin1');
  const out: number[] = [];
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    const end = nl < 0 ? text.length : nl;
    const tab = text.lastIndexOf('\t', end);
    if (tab > at) out.push(Number(text.slice(tab + 1, end)) / 1000);
    at = end + 1;
  }
  return out;
}

/**
 * "finished in 5.00s, 12345.60 req/s, ..." and "requests: T total, S started, D done, OK succeeded,
 * F failed, E errored, X timeout"; errors = failed + errored + timeout + non-2xx answers.
 */
export function parseH2load(out: string, durationsMs: number[]): WrkResult {
  const fin = /finished in ([\d.]+)(us|ms|s), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!fin || !req || !codes) throw new Error('no "finished in", "requests:" or "status codes:" line');
  const seconds = Number(fin[1]) / (fin[2] === 'us' ? 1e6 : fin[2] === 'ms' ? 1e3 : 1);
  const succeeded = Number(req[4]);
  const non2xx = Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
  const failed = Number(req[5]) + Number(req[6]) + Number(req[7]);
  const sorted = durationsMs.sort((a, b) => a - b);
  return {
    requests: succeeded,
    seconds,
    rps: Number(fin[3]),
    p50ms: percentile(sorted, 50),
    p99ms: percentile(sorted, 99),
    non2xx,
    socketErrors: { connect: 0, read: 0, write: 0, timeout: Number(req[7]) },
    errors: failed + non2xx,
    raw: out,
  };
}
