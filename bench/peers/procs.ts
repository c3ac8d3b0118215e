/**
 * Child processes of the harness. Every long-lived service (upstream, contenders) runs in its own
 * process group (detached), so stopping it — and measuring its CPU — covers its workers too
 * (NGINX master + workers, a node:cluster primary + workers). All of them are stopped on normal
 * exit, on SIGINT/SIGTERM, and (SIGKILL, synchronously) if the harness dies on an exception.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Service {
  name: string;
  /** process group id == pid of the process we spawned */
  pgid: number;
  child: ChildProcess;
  stdoutPath: string;
  stderrPath: string;
  exited: boolean;
  exitInfo: string;
}

const live = new Set<Service>();
/** short-lived helpers (wrk): killed by pid if the harness goes away while they run */
const helpers = new Set<ChildProcess>();

export function trackHelper(child: ChildProcess): void {
  helpers.add(child);
  child.on('exit', () => helpers.delete(child));
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** logs go to <logPrefix>.stdout.log / .stderr.log */
  logPrefix: string;
}

export function startService(name: string, cmd: string, args: string[], opts: SpawnOptions): Service {
  const stdoutPath = `${opts.logPrefix}.stdout.log`;
  const stderrPath = `${opts.logPrefix}.stderr.log`;
  const out = openSync(stdoutPath, 'w');
  const err = openSync(stderrPath, 'w');
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', out, err],
    detached: true,
  });
  closeSync(out);
  closeSync(err);
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${cmd}`);
  const svc: Service = { name, pgid: child.pid, child, stdoutPath, stderrPath, exited: false, exitInfo: '' };
  child.on('exit', (code, signal) => {
    svc.exited = true;
    svc.exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
    live.delete(svc);
  });
  child.on('error', (e) => {
    svc.exited = true;
    svc.exitInfo = e.message;
    live.delete(svc);
  });
  live.add(svc);
  return svc;
}

export function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Polls `ready` until it returns true; fails early if the service exits. */
export async function waitReady(svc: Service, ready: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (svc.exited) {
      throw new Error(`${svc.name} exited (${svc.exitInfo}) before it was ready:\n${tail(readLog(svc.stderrPath))}`);
    }
    if (await ready()) return;
    await sleep(100);
  }
  throw new Error(`${svc.name} not ready after ${timeoutMs} ms:\n${tail(readLog(svc.stderrPath))}`);
}

function signalGroup(svc: Service, sig: NodeJS.Signals): void {
  try {
    process.kill(-svc.pgid, sig);
  } catch {
    /* already gone */
  }
}

function groupAlive(svc: Service): boolean {
  try {
    process.kill(-svc.pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the whole group, then SIGKILL after `graceMs`. */
export async function stopService(svc: Service, graceMs = 5_000): Promise<void> {
  signalGroup(svc, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && groupAlive(svc)) await sleep(50);
  if (groupAlive(svc)) signalGroup(svc, 'SIGKILL');
  live.delete(svc);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => stopService(s)));
}

let stopping = false;
/** true once SIGINT/SIGTERM asked the harness to stop (errors after that are expected) */
export function isStopping(): boolean {
  return stopping;
}

let hooked = false;
/** Stop everything we started however the harness ends. */
export function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of helpers) child.kill('SIGKILL');
    for (const svc of live) signalGroup(svc, 'SIGKILL');
  });
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(sig, () => {
      stopping = true;
      process.stderr.write(`\n# ${sig}: stopping everything\n`);
      for (const child of helpers) child.kill('SIGTERM');
      void stopAll().finally(() => process.exit(code));
    });
  }
}
