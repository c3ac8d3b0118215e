/**
 * Child processes of a load test: the upstream (NGINX or the echo upstream) and the gateway.
 * Every child is registered; a watchdog, SIGINT/SIGTERM and process exit all stop them, so no run
 * leaves a process behind. Everything listens on 127.0.0.1 only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { ROOT, freePort, log, sleep } from './common';
import { NODE_FLAGS } from '../../src/cluster/node-flags';

const children = new Set<ChildProcess>();
const tmpDirs = new Set<string>();

function killAllNow(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  tmpDirs.clear();
}

let installed = false;
/**
 * Installs the safety net: children die with us (exit, SIGINT, SIGTERM), and a watchdog ends the
 * run after `maxSeconds` whatever happens (every run is bounded in time).
 */
export function installSafetyNet(maxSeconds: number): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping children`);
      killAllNow();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  const wd = setTimeout(() => {
    log(`watchdog: run exceeded ${maxSeconds} s, stopping everything`);
    killAllNow();
    process.exit(3);
  }, maxSeconds * 1000);
  wd.unref();
}

export function makeTmpDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `floodgate-${prefix}-`));
  tmpDirs.add(d);
  return d;
}

/** Waits until `host:port` answers an HTTP GET / with any status line (bounded). */
export async function waitHttp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      const t = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 1000);
      s.once('connect', () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
      s.once('data', (d) => {
        clearTimeout(t);
        s.destroy();
        resolve(d.toString('latin1').startsWith('HTTP/1.'));
      });
      s.once('error', () => {
        clearTimeout(t);
        resolve(false);
      });
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing answered HTTP on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** Last lines of stderr (bounded). */
  readonly stderrTail: string[];
  /** Stops the process: SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code/signal. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: string | null; ms: number }>;
}

function track(name: string, child: ChildProcess, port: number, tailLines = 200): Proc {
  children.add(child);
  const stderrTail: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      stderrTail.push(l);
      if (stderrTail.length > tailLines) stderrTail.shift();
    }
  });
  child.stdout?.resume(); // never let a full pipe block the child
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    name,
    child,
    pid: child.pid!,
    port,
    stderrTail,
    async stop(graceMs = 45_000) {
      const start = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(timer);
      return { ...r, ms: Date.now() - start };
    },
  };
}

// ------------------------------------------------------------------------------------------------
// upstream

export interface Upstream extends Proc {
  readonly kind: 'nginx' | 'echo';
  readonly version: string;
  /** Path the load should request (the upstream answers 200 on it). */
  readonly requestPath: string;
  /** Headers the load should send so the upstream answers with a tiny body. */
  readonly requestHeaders: Record<string, string>;
}

function findNginx(): string | null {
  const configured = process.env.NGINX;
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : null;
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) if (existsSync(p)) return p;
  return null;
}

/**
 * LOADTEST_UPSTREAM=nginx (default when nginx is installed): NGINX `return 200 "ok\n"`, one
 * process. LOADTEST_UPSTREAM=echo: the project's Node echo upstream, asked for a 3-byte body.
 */
export async function startUpstream(): Promise<Upstream> {
  const wanted = process.env.LOADTEST_UPSTREAM ?? 'auto';
  const nginx = wanted === 'echo' ? null : findNginx();
  if (wanted === 'nginx' && nginx === null) throw new Error('LOADTEST_UPSTREAM=nginx but no nginx binary (make bench-tools)');
  const port = await freePort();
  if (nginx !== null) {
    const prefix = makeTmpDir('nginx');
    const tmpl = readFileSync(path.join(ROOT, 'loadtest', 'nginx-upstream.conf.tmpl'), 'utf8');
    writeFileSync(path.join(prefix, 'nginx.conf'), tmpl.replaceAll('@PREFIX@', prefix).replaceAll('@PORT@', String(port)));
    for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(prefix, d));
    const v = spawnSync(nginx, ['-v'], { encoding: 'utf8' });
    const vm = /nginx\/\S+/.exec(`${v.stderr ?? ''} ${v.stdout ?? ''}`);
    const child = spawn(nginx, ['-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', path.join(prefix, 'nginx.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = track('upstream', child, port);
    await waitHttp(port, 10_000);
    log(`upstream: ${vm?.[0] ?? 'nginx'} (1 process, return 200 "ok\\n") on 127.0.0.1:${port}, pid ${p.pid}`);
    return { ...p, kind: 'nginx', version: vm?.[0] ?? 'nginx', requestPath: '/', requestHeaders: {} };
  }
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'dev', 'echo-upstream.js'), '--port', String(port), '--name', 'lt'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = track('upstream', child, port);
  await waitHttp(port, 10_000);
  log(`upstream: echo-upstream (Node, 3-byte bodies) on 127.0.0.1:${port}, pid ${p.pid}`);
  return { ...p, kind: 'echo', version: `echo-upstream (node ${process.version})`, requestPath: '/', requestHeaders: { 'x-echo-body-bytes': '3' } };
}

// ------------------------------------------------------------------------------------------------
// gateway

export interface Gateway extends Proc {
  readonly workers: number;
  readonly configPath: string;
  /** stderr lines at level warn (40) or above seen so far. */
  warnings(): string[];
}

export interface GatewayOptions {
  /** undefined = the gateway's default (one worker per core). */
  workers?: number;
  upstreamPort: number;
  extraArgs?: string[];
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const dir = makeTmpDir('gateway');
  const configPath = path.join(dir, 'loadtest.yaml');
  writeFileSync(
    configPath,
    [
      '_format_version: "3.0"',
      'services:',
      '  - name: lt',
      `    url: http://127.0.0.1:${opts.upstreamPort}`,
      '    routes:',
      '      - name: lt',
      '        paths: [/]',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const cli = path.join(ROOT, 'dist', 'src', 'cli.js');
  const args = [...NODE_FLAGS, cli, 'start', '-c', configPath, '--listen', `127.0.0.1:${port}`, '--access-log', 'off'];
  if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
  if (opts.extraArgs) args.push(...opts.extraArgs);
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = track('gateway', child, port, 400);

  const deadline = Date.now() + 30_000;
  let workers = NaN;
  while (Date.now() < deadline) {
    const ready = p.stderrTail.find((l) => l.includes('"msg":"floodgate listening"'));
    if (ready !== undefined) {
      try {
        workers = Number((JSON.parse(ready) as { workers?: number }).workers);
      } catch {
        /* keep NaN */
      }
      break;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`gateway exited (${child.exitCode ?? child.signalCode}) before listening:\n${p.stderrTail.join('\n')}`);
    }
    await sleep(100);
  }
  if (!Number.isFinite(workers) && !p.stderrTail.some((l) => l.includes('"msg":"floodgate listening"'))) {
    await p.stop(5_000);
    throw new Error(`gateway not ready within 30 s:\n${p.stderrTail.join('\n')}`);
  }
  await waitHttp(port, 10_000);
  log(`gateway: ${Number.isFinite(workers) ? workers : '?'} worker(s) on 127.0.0.1:${port}, pid ${p.pid}`);
  return {
    ...p,
    workers,
    configPath,
    warnings: () => p.stderrTail.filter((l) => /"level":(4|5|6)\d/.test(l)),
  };
}
