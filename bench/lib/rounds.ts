/**
 * Interleaved rounds: every cell (contender, route or scenario) gets one wrk run per round, in an
 * order that changes from round to round, so drift on a shared machine spreads over all cells
 * instead of landing on whichever runs last. Medians over rounds are taken by report.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runWrk, type WrkLoad, type WrkResult } from '../peers/wrk';
import { log } from './harness';
import type { BenchSettings } from './settings';

/** 'alternate': A B C, then C B A, ...; { rotate: k }: each round starts k cells further on. */
export type RoundOrder = 'alternate' | { readonly rotate: number };

export function roundOrder<T>(cells: readonly T[], round: number, order: RoundOrder): T[] {
  if (order === 'alternate') return round % 2 === 0 ? [...cells] : [...cells].reverse();
  return cells.map((_, i) => cells[(i + round * order.rotate) % cells.length]);
}

export interface MeasuredCell {
  readonly runs: WrkResult[];
}

export interface RoundsPlan<C extends MeasuredCell> {
  /** each round runs every group in turn, each group in that round's order */
  groups: readonly (readonly C[])[];
  order: RoundOrder;
  load(cell: C, seconds: number): Promise<WrkResult>;
  /** the cell's name in the progress line, padded as the bench likes */
  label(cell: C): string;
  /** after each round (a scrape, a check) */
  afterRound?(round: number): Promise<void>;
}

/** Warm-up (WARMUP s per cell), then ROUNDS rounds; returns the measured rounds' minutes ("1.4"). */
export async function runRounds<C extends MeasuredCell>(s: BenchSettings, plan: RoundsPlan<C>): Promise<string> {
  if (s.warmup > 0) for (const group of plan.groups) for (const c of group) await plan.load(c, s.warmup);
  const started = Date.now();
  for (let round = 0; round < s.rounds; round++) {
    for (const group of plan.groups) {
      for (const c of roundOrder(group, round, plan.order)) {
        await sleep(s.pauseMs);
        const r = await plan.load(c, s.duration);
        c.runs.push(r);
        log(`round ${round + 1}/${s.rounds} ${plan.label(c)} ${r.rps.toFixed(0).padStart(7)} rps  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}`);
      }
    }
    await plan.afterRound?.(round);
  }
  return ((Date.now() - started) / 60_000).toFixed(1);
}

/** One wrk run with the bench's THREADS and CONNS. */
export function wrk(s: BenchSettings, url: string, seconds: number, more: Partial<WrkLoad> = {}): Promise<WrkResult> {
  return runWrk({ wrk: s.wrk, threads: s.threads, conns: s.conns, seconds, url, ...more });
}
