/**
 * Settings of the peer benchmark, from the environment (and `--quick` or `--auth`, which only
 * change the defaults: every variable below still overrides them).
 *
 *   ROUNDS      interleaved rounds per scenario; 0 = only start and verify   5      (quick: 3)
 *   DURATION    seconds of load per contender per round              5      (quick: 5)
 *   WARMUP      seconds of unmeasured load per contender, per scenario 2    (quick: 1)
 *   PAUSE_MS    idle gap between two measured runs                   300
 *   WORKERS     worker/thread counts, comma separated                "1,<nproc>" (quick, auth: "1")
 *   SCENARIOS   tiny,64k,upload,routes100,auth-rl (+ optional pinning, auth, uws, engines, floor) all (quick: tiny,auth-rl; auth: auth)
 *   CONTENDERS  restrict to these ids (see contenders/index.ts); "direct" adds the bare upstream,
 *               "floodgate-native" the native engine beside Floodgate in every plain scenario
 *   THREADS     wrk -t                                               1
 *   CONNS       wrk -c                                               50
 *   UPSTREAM_WORKERS  worker_processes of the upstream NGINX         1
 *   NGINX HAPROXY CADDY WRK NODE   binaries              /usr/sbin/nginx, /usr/sbin/haproxy, caddy, wrk, node
 *   OUT         results file                              bench/results/bench[-quick|-auth]-<date>.md
 */
import { fileStamp } from './env';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

export interface Settings {
  quick: boolean;
  /** `--auth` (make bench-auth): the auth scenario by default */
  auth: boolean;
  rounds: number;
  duration: number;
  warmup: number;
  pauseMs: number;
  workers: number[];
  scenarios: string[];
  contenders: string[] | null;
  threads: number;
  conns: number;
  upstreamWorkers: number;
  bin: { nginx: string; haproxy: string; caddy: string; wrk: string; node: string };
  /** repository root (the directory holding dist/ and bench/) */
  root: string;
  out: string;
}

export const ALL_SCENARIOS = ['tiny', '64k', 'upload', 'routes100', 'auth-rl'];
/** Run only when named in SCENARIOS. */
export const OPTIONAL_SCENARIOS = ['pinning', 'auth', 'uws', 'engines', 'floor'];

function int(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: expected an integer >= ${min}`);
  return n;
}

function list(name: string): string[] | null {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return null;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function sbin(name: string, envName: string): string {
  const env = process.env[envName];
  if (env) return env;
  const path = `/usr/sbin/${name}`;
  return existsSync(path) ? path : name;
}


export function loadSettings(argv: string[], root: string): Settings {
  const quick = argv.includes('--quick');
  const auth = argv.includes('--auth');
  const cores = availableParallelism();
  const workers = (list('WORKERS') ?? (quick || auth ? ['1'] : [...new Set(['1', String(cores)])])).map((w) => {
    const n = Number(w);
    if (!Number.isInteger(n) || n < 1) throw new Error(`WORKERS: bad value ${w}`);
    return n;
  });
  const scenarios = list('SCENARIOS') ?? (quick ? ['tiny', 'auth-rl'] : auth ? ['auth'] : ALL_SCENARIOS);
  for (const s of scenarios) {
    if (!ALL_SCENARIOS.includes(s) && !OPTIONAL_SCENARIOS.includes(s)) throw new Error(`SCENARIOS: unknown ${s} (known: ${[...ALL_SCENARIOS, ...OPTIONAL_SCENARIOS].join(', ')})`);
  }
  return {
    quick,
    auth,
    rounds: int('ROUNDS', quick ? 3 : 5, 0),
    duration: int('DURATION', 5),
    warmup: int('WARMUP', quick ? 1 : 2, 0),
    pauseMs: int('PAUSE_MS', 300, 0),
    workers,
    scenarios,
    contenders: list('CONTENDERS'),
    threads: int('THREADS', 1),
    conns: int('CONNS', 50),
    upstreamWorkers: int('UPSTREAM_WORKERS', 1),
    bin: {
      nginx: sbin('nginx', 'NGINX'),
      haproxy: sbin('haproxy', 'HAPROXY'),
      caddy: process.env.CADDY || 'caddy',
      wrk: process.env.WRK || 'wrk',
      node: process.env.NODE || process.execPath,
    },
    root,
    out: process.env.OUT
      ? resolve(process.env.OUT)
      : join(root, 'bench', 'results', `bench${quick ? '-quick' : auth ? '-auth' : ''}-${fileStamp(new Date())}.md`),
  };
}
