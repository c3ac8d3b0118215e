/**
 * CPU per run for the single-gateway benches: the contender's whole process group (NGINX master +
 * worker, Floodgate's primary + worker threads), sampled around one measured run, as the peer
 * bench does (bench/peers/cpu.ts). Reported as CPU-seconds per 10,000 requests (or messages).
 */
import { groupCpuSeconds } from '../peers/cpu';
import { median } from '../peers/stats';
import type { WrkResult } from '../peers/wrk';

/** A run and the CPU seconds its contender's process group used during it. */
export interface CpuRun extends WrkResult {
  readonly cpuSeconds: number;
}

export async function withGroupCpu(pgid: number, run: () => Promise<WrkResult>): Promise<CpuRun> {
  const before = groupCpuSeconds(pgid);
  const r = await run();
  return { ...r, cpuSeconds: groupCpuSeconds(pgid) - before };
}

/** Median over runs of CPU-seconds per 10,000 requests, as a table cell. */
export function cpuPer10k(runs: readonly CpuRun[]): string {
  const v = median(runs.map((r) => (r.requests ? (10_000 * r.cpuSeconds) / r.requests : NaN)));
  return Number.isFinite(v) ? v.toFixed(3) : 'n/a';
}
