/**
 * The environment knobs every single-gateway bench shares (bench/metrics, prometheus, proxy-cache,
 * ratelimit, tls, offload, balancer), read once:
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 PAUSE_MS=300 NGINX=/usr/sbin/nginx WRK=wrk
 *   OUT=bench/results/<name>-<date>.md
 *
 * A bench's own knobs (WORKERS, ROUTES, TOKENS, ...) stay in its main.ts, next to their meaning.
 */
import { join, resolve } from 'node:path';
import { envInt, envString, fileStamp } from '../peers/env';

export interface BenchSettings {
  /** repository root (holds dist/ and bench/) */
  readonly root: string;
  readonly rounds: number;
  /** seconds of measured load per cell per round */
  readonly duration: number;
  /** seconds of unmeasured load per cell before the first round; 0 = none */
  readonly warmup: number;
  readonly conns: number;
  readonly threads: number;
  /** idle gap before each measured run */
  readonly pauseMs: number;
  readonly nginx: string;
  readonly wrk: string;
  /** the report's date stamp (its title and default file name) */
  readonly stamp: string;
  /** the markdown report's path */
  readonly out: string;
}

/** `name` names the default report: bench/results/<name>-<stamp>.md. */
export function benchSettings(name: string, defaults: { rounds?: number; duration?: number; warmup?: number } = {}): BenchSettings {
  const root = resolve(__dirname, '../../..');
  const stamp = fileStamp();
  return {
    root,
    rounds: envInt('ROUNDS', defaults.rounds ?? 5),
    duration: envInt('DURATION', defaults.duration ?? 5),
    warmup: envInt('WARMUP', defaults.warmup ?? 1),
    conns: envInt('CONNS', 50),
    threads: envInt('THREADS', 1),
    pauseMs: envInt('PAUSE_MS', 300),
    nginx: envString('NGINX', '/usr/sbin/nginx'),
    wrk: envString('WRK', 'wrk'),
    stamp,
    out: envString('OUT', join(root, 'bench', 'results', `${name}-${stamp}.md`)),
  };
}
