/**
 * The V8 young generation of worker threads, pinned to one size.
 *
 * Why: a worker's new space (two semi-spaces) starts at 1 MiB each and V8 doubles it, up to
 * 16 MiB each, whenever the bytes surviving scavenges since the last growth exceed its capacity;
 * under a steady proxy load (every scavenge finds the in-flight requests alive) that happens every
 * few minutes. It shrinks back only when V8's memory reducer sees a quiet heap. So each worker's
 * committed heap walks up and down in steps of 4 to 16 MiB, and the process RSS with it: the
 * 30-minute soak of 2026-12-03 read 99.6 MiB/h of "growth" from such steps (V8 pages are 256 KiB
 * anonymous mappings: they were the whole RSS difference), with no object accumulating.
 * A fixed size removes the steps (an RSS slope then means a real leak) and caps the young
 * generation at 2 x 8 MiB per worker instead of 2 x 16. Scavenges come more often (a scavenge
 * costs what survives it, not the space's size: the in-flight requests).
 *
 * How: the largest size through the Worker's resourceLimits (maxYoungGenerationSizeMb = 3 x the
 * semi-space: two semi-spaces and the new large-object space), and the initial size through
 * V8's --min-semi-space-size, which V8 reads when it creates an isolate: set in the primary
 * before the first worker starts, it applies to the workers' isolates (not to the primary's,
 * which exists already and serves no traffic).
 *
 * FLOODGATE_WORKER_SEMI_SPACE_MB overrides the size (MiB, 1..64); 0 leaves V8's defaults (how the
 * soak measures the difference).
 */
import { setFlagsFromString } from 'node:v8';
import type { ResourceLimits } from 'node:worker_threads';

/** Half V8's largest (16 MiB): scavenges twice as often as a fully grown default, never more. */
export const DEFAULT_SEMI_SPACE_MB = 8;

/** The semi-space size in MiB from the environment; 0 = V8's defaults. */
export function workerSemiSpaceMb(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FLOODGATE_WORKER_SEMI_SPACE_MB;
  if (raw === undefined || raw === '') return DEFAULT_SEMI_SPACE_MB;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 64) {
    throw new Error(`FLOODGATE_WORKER_SEMI_SPACE_MB must be an integer from 0 to 64 (MiB), got ${JSON.stringify(raw)}`);
  }
  return n;
}

let flagsSet = false;

/**
 * The resourceLimits for a new worker, after making sure V8 creates its isolate with the pinned
 * young generation. undefined = V8's defaults.
 */
export function workerResourceLimits(semiSpaceMb: number): ResourceLimits | undefined {
  if (semiSpaceMb === 0) return undefined;
  if (!flagsSet) {
    setFlagsFromString(`--min-semi-space-size=${semiSpaceMb}`);
    flagsSet = true;
  }
  return { maxYoungGenerationSizeMb: 3 * semiSpaceMb };
}
