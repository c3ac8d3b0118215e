/** Runs wrk once and parses what the report needs out of its text output. */
import { spawn } from 'node:child_process';
import { trackHelper } from './procs';

export interface WrkLoad {
  wrk: string;
  threads: number;
  conns: number;
  seconds: number;
  url: string;
  /** optional lua script (the upload scenario) */
  script?: string;
  /** arguments for the script (after `--`) */
  scriptArgs?: string[];
  /** -H 'name: value' on every request */
  headers?: Record<string, string>;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** non-2xx/3xx + all socket errors */
  errors: number;
  raw: string;
}

export function wrkArgs(load: WrkLoad): string[] {
  const args = [`-t${load.threads}`, `-c${load.conns}`, `-d${load.seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(load.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (load.script) args.push('-s', load.script);
  args.push(load.url);
  if (load.script && load.scriptArgs?.length) args.push('--', ...load.scriptArgs);
  return args;
}

export function runWrk(load: WrkLoad): Promise<WrkResult> {
  return runLoadTool('wrk', load.wrk, wrkArgs(load), parseWrk);
}

/**
 * Run a load generator (wrk, h2load) to its end and parse its combined output; a failed parse
 * rejects with the tool's exit code and whole output.
 */
export function runLoadTool(name: string, bin: string, args: string[], parse: (out: string) => WrkResult): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackHelper(child);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal) return reject(new Error(`${name} killed by ${signal}`));
      try {
        resolve(parse(out));
      } catch (e) {
        reject(new Error(`${name} (exit ${code}): ${(e as Error).message}\n${out}`));
      }
    });
  });
}

/** "1.23ms" | "456.00us" | "1.02s" | "2.00m" -> milliseconds */
export function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

export function parseWrk(out: string): WrkResult {
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!done) throw new Error('no "N requests in T" line');
  const requests = Number(done[1]);
  const seconds = toMs(`${done[2]}${done[3]}`) / 1000;
  const rpsLine = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? toMs(m[1]) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock
    ? { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = non2xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout;
  return {
    requests,
    seconds,
    rps: rpsLine ? Number(rpsLine[1]) : requests / seconds,
    p50ms: pct('50'),
    p99ms: pct('99'),
    non2xx,
    socketErrors,
    errors,
    raw: out,
  };
}
