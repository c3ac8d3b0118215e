/**
 * A real redis-server for tests: started on a free loopback port, no persistence, in its own temp
 * dir. Tests can kill it (SIGKILL, as a crash) and start it again on the same port, to check what
 * the gateway does while redis is gone and after it is back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

export interface RedisServer {
  readonly port: number;
  /** Kill the server (SIGKILL) and wait until it is gone. */
  kill(): Promise<void>;
  /** Start it again on the same port (after kill). */
  restart(): Promise<void>;
  /** Stop for good and remove the temp dir. */
  stop(): Promise<void>;
}

/** redis-server on PATH, else in /usr/sbin or /usr/bin (where Debian puts it). */
export function redisServerBinary(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'redis-server');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('redis-server not found (make test installs it: apt-get install redis-server)');
}

function launch(bin: string, port: number, dir: string): Promise<ChildProcess> {
  const proc = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`redis-server did not start on port ${port}:\n${out}`));
    }, 20_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        proc.stderr!.resume();
        resolve(proc);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} before it was ready:\n${out}`));
    });
  });
}

function waitExit(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

export async function startRedis(): Promise<RedisServer> {
  const bin = redisServerBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-redis-'));
  const port = await freePort();
  let proc: ChildProcess | null = await launch(bin, port, dir);
  const kill = async (): Promise<void> => {
    if (proc === null) return;
    const p = proc;
    proc = null;
    p.kill('SIGKILL');
    await waitExit(p);
  };
  return {
    port,
    kill,
    async restart() {
      if (proc !== null) throw new Error('redis-server is running');
      // The port was ours a moment ago; retry briefly in case the kernel has not released it.
      for (let attempt = 0; ; attempt++) {
        try {
          proc = await launch(bin, port, dir);
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    async stop() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
