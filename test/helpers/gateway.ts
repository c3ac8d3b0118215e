/**
 * Starts the real gateway (the built CLI, real worker threads, real uWS listener) on a free port
 * with a config written to a temp file, and gives tests its log lines and signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';
import { NODE_FLAGS } from '../../src/cluster/node-flags';
import type { UpstreamEngineKind } from '../../src/settings';
import { nativeKernel, nativeKernelUnavailableReason } from '../../src/upstream/native-kernel';

const CLI = path.resolve(__dirname, '../../src/cli.js');

export interface GatewayOptions {
  readonly config: string;
  readonly workers?: number;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** File extension of the config file (yaml or json). */
  readonly ext?: string;
  /** --upstream-engine; default: FLOODGATE_TEST_UPSTREAM_ENGINE, else the gateway's default. */
  readonly engine?: UpstreamEngineKind;
}

/**
 * The upstream engine the integration suite runs on: FLOODGATE_TEST_UPSTREAM_ENGINE (js or
 * native; `make test-integration` runs the suite once with each), or null for the default.
 */
export function envEngine(): UpstreamEngineKind | null {
  const v = process.env.FLOODGATE_TEST_UPSTREAM_ENGINE;
  if (v === undefined || v === '') return null;
  if (v !== 'js' && v !== 'native') throw new Error(`FLOODGATE_TEST_UPSTREAM_ENGINE must be js or native, got "${v}"`);
  return v;
}

/** Engines a test written for both runs on: the one the environment names, else both. */
export function testEngines(): UpstreamEngineKind[] {
  const v = envEngine();
  return v === null ? ['js', 'native'] : [v];
}

export interface Gateway {
  readonly port: number;
  /** The admin API's port (always on loopback, on its own free port). */
  readonly adminPort: number;
  readonly proc: ChildProcess;
  readonly configPath: string;
  /** stderr lines (system log, JSON). */
  readonly logs: string[];
  /** stdout lines (access log, JSON, when enabled). */
  readonly out: string[];
  url(p: string): string;
  adminUrl(p: string): string;
  waitForLog(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Write a new config and send SIGHUP; resolves once every worker applied it. */
  reload(config: string): Promise<void>;
  /** How the process ended, for diagnostics: null while it runs. */
  exitInfo(): string | null;
  /** Send a signal and wait for the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const engine = opts.engine ?? envEngine();
  // A native run must really be native: the gateway would fall back to js (with a warning).
  if (engine === 'native' && nativeKernel === null) {
    throw new Error(`--upstream-engine native asked for, but ${nativeKernelUnavailableReason}; build it with \`sh native/build.sh\``);
  }
  const port = await freePort();
  const adminPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-test-'));
  const configPath = path.join(dir, `gateway.${opts.ext ?? 'yaml'}`);
  fs.writeFileSync(configPath, opts.config);
  // As deployed (deploy/floodgate.service): the same node flags.
  const args = [
    ...NODE_FLAGS, CLI, 'start', '-c', configPath,
    '--listen', `127.0.0.1:${port}`,
    '--workers', String(opts.workers ?? 2),
    '--access-log', 'off',
    '--admin-listen', `127.0.0.1:${adminPort}`,
    ...(engine === null ? [] : ['--upstream-engine', engine]),
    ...(opts.args ?? []),
  ];
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const out: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (into: string[]) => {
    let partial = '';
    return (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop()!;
      into.push(...lines.filter((l) => l !== ''));
      for (const w of waiters) w();
    };
  };
  proc.stderr!.on('data', collect(logs));
  proc.stdout!.on('data', collect(out));
  let exited = false;
  let exitCode: number | null = null;
  let exitSignal: string | null = null;
  const exitPromise = new Promise<number | null>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      for (const w of waiters) w();
      resolve(code);
    }),
  );

  const waitForLog = (pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < logs.length; i++) {
          if (pattern.test(logs[i])) {
            cleanup();
            resolve(logs[i]);
            return true;
          }
        }
        if (exited) {
          cleanup();
          reject(new Error(`gateway exited (${exitCode}) before logging ${pattern}:\n${logs.join('\n')}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${pattern}; logs:\n${logs.join('\n')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      if (!check()) waiters.add(check);
    });

  const gateway: Gateway = {
    port,
    proc,
    configPath,
    logs,
    out,
    adminPort,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    adminUrl: (p) => `http://127.0.0.1:${adminPort}${p}`,
    exitInfo: () => (exited ? `exited with code ${exitCode}, signal ${exitSignal}` : null),
    waitForLog,
    async reload(config) {
      const from = logs.length;
      fs.writeFileSync(configPath, config);
      proc.kill('SIGHUP');
      await waitForLog(/"msg":"(config reloaded|config reload rejected)/, 15_000, from);
    },
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (exited) return exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exitPromise;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  try {
    await waitForLog(/"msg":"floodgate listening"/);
    await waitForLog(/"msg":"admin API (listening|cannot listen)"/);
  } catch (err) {
    // A gateway that never came up must not outlive the test file and hang the run.
    proc.kill('SIGKILL');
    throw err;
  }
  return gateway;
}
