/** The pieces every single-gateway report is made of: medians, a table row, the machine line, the file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { median } from '../peers/stats';
import type { WrkResult } from '../peers/wrk';
import { log } from './harness';

export function medianOf(runs: readonly WrkResult[], field: (r: WrkResult) => number): number {
  return median(runs.map(field));
}

export function medianRps(runs: readonly WrkResult[]): number {
  return medianOf(runs, (r) => r.rps);
}

/**
 * `| label | req/s | ...extra | p50 ms | p99 ms | errors | req/s per round |`: medians, errors
 * summed over rounds, then every round's req/s.
 */
export function resultRow(label: string, runs: readonly WrkResult[], extra: readonly string[] = []): string {
  const cells = [
    label,
    medianRps(runs).toFixed(0),
    ...extra,
    medianOf(runs, (r) => r.p50ms).toFixed(2),
    medianOf(runs, (r) => r.p99ms).toFixed(2),
    String(runs.reduce((n, r) => n + r.errors, 0)),
    runs.map((r) => r.rps.toFixed(0)).join(' / '),
  ];
  return `| ${cells.join(' | ')} |`;
}

/** "Machine: 2 CPUs, node v20..., load average at the end 1.00 0.90 0.80." */
export function machineLine(): string {
  return `Machine: ${availableParallelism()} CPUs, node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.`;
}

/** The report to stdout and to `out`. */
export function publish(out: string, md: string): void {
  process.stdout.write(md);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, md);
  log(`wrote ${out}`);
}
