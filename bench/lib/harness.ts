/**
 * The life of one bench process: exit hooks that stop every child however it ends, a private temp
 * directory, the bench NGINX upstream, and the one failure message (`bench-<name> failed: ...`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installExitHooks, stopAll, type Service } from '../peers/procs';
import { startUpstream } from '../peers/upstream';
import type { BenchSettings } from './settings';

/** Progress lines on stderr (stdout carries only the report). */
export function log(msg: string): void {
  process.stderr.write(`# ${msg}\n`);
}

/** Runs `main` with exit hooks installed; a failure stops every child and exits 1. */
export function runBench(name: string, main: () => Promise<void>): void {
  installExitHooks();
  main().catch(async (err) => {
    process.stderr.write(`bench-${name} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await stopAll();
    process.exit(1);
  });
}

/** A fresh directory for configs and logs: floodgate-bench-<name>-XXXXXX under the temp dir. */
export function benchDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `floodgate-bench-${name}-`));
}

/** The bench NGINX upstream (bench/nginx/bench-upstream.conf.tmpl, 1 worker) in `dir`/`name`. */
export async function startBenchUpstream(s: BenchSettings, dir: string, port: number, name = 'upstream'): Promise<Service> {
  return startUpstream({ nginx: s.nginx, root: s.root, dir: join(dir, name), port, workers: 1 });
}

/** After the rounds: fails if a service died meanwhile (its numbers would be of a restart), else stops all and cleans up. */
export async function finish(services: readonly Service[], dirs: readonly string[]): Promise<void> {
  for (const svc of services) if (svc.exited) throw new Error(`${svc.name} exited during the run: ${svc.exitInfo}`);
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
