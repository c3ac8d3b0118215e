/** What one benchmark session records (also written as JSON next to the markdown report). */
import { median } from './stats';
import type { WrkResult } from './wrk';

export interface Run {
  round: number;
  wrk: WrkResult;
  /** CPU seconds the contender's process group used during the run */
  cpuSeconds: number;
}

export interface ContenderRuns {
  id: string;
  label: string;
  warmup: WrkResult | null;
  runs: Run[];
}

export interface ScenarioRuns {
  scenario: string;
  title: string;
  workers: number;
  baseline: string;
  contenders: ContenderRuns[];
}

export interface Summary {
  id: string;
  label: string;
  rps: number;
  /** rps / baseline's rps (same scenario, same worker count) */
  ratio: number;
  p50ms: number;
  p99ms: number;
  /** percent of one core */
  cpuPct: number;
  /** CPU seconds per 10,000 requests */
  cpuPer10k: number;
  /** errors in measured runs (non-2xx/3xx + socket errors) */
  errors: number;
  warmupErrors: number;
  roundsRps: number[];
}

export function summarize(s: ScenarioRuns): Summary[] {
  const base = s.contenders.find((c) => c.id === s.baseline);
  const baseRps = base ? median(base.runs.map((r) => r.wrk.rps)) : NaN;
  return s.contenders.map((c) => {
    const rps = median(c.runs.map((r) => r.wrk.rps));
    return {
      id: c.id,
      label: c.label,
      rps,
      ratio: rps / baseRps,
      p50ms: median(c.runs.map((r) => r.wrk.p50ms)),
      p99ms: median(c.runs.map((r) => r.wrk.p99ms)),
      cpuPct: median(c.runs.map((r) => (100 * r.cpuSeconds) / r.wrk.seconds)),
      cpuPer10k: median(c.runs.map((r) => (r.wrk.requests ? (10_000 * r.cpuSeconds) / r.wrk.requests : NaN))),
      errors: c.runs.reduce((n, r) => n + r.wrk.errors, 0),
      warmupErrors: c.warmup?.errors ?? 0,
      roundsRps: c.runs.map((r) => r.wrk.rps),
    };
  });
}
