/**
 * What the rate-limiting plugin gets from its node (through PluginEnv.rateLimit): the node-wide
 * shared counter table, the clock (injected, so unit tests run on a fake one), and the logger the
 * redis policy reports outages to.
 */
import { createRateLimitMemory, MIN_SLOTS, SharedCounterTable } from './shared-table';
import type { FaultLog } from './redis-store';
import { ResourceKey } from '../plugins/resources';

export interface RateLimitRuntime {
  readonly table: SharedCounterTable;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly log: FaultLog;
}

const SILENT: FaultLog = { warn() {}, info() {} };

/** The runtime of a data plane: the primary's buffer, mapped by this thread. */
/** The node-wide rate-limit table, clock and logger, as a plugin resource (plugins/resources.ts). */
export const RATE_LIMIT_RUNTIME = new ResourceKey<RateLimitRuntime>('rate-limit-runtime');

export function rateLimitRuntime(memory: SharedArrayBuffer, log: FaultLog, now: () => number = Date.now): RateLimitRuntime {
  return { table: new SharedCounterTable(memory), now, log };
}

let standalone: RateLimitRuntime | null = null;

/**
 * For code that creates plugins outside a data plane (the primary's compile check, tools): a
 * small private table that no request ever reaches.
 */
export function standaloneRateLimitRuntime(): RateLimitRuntime {
  standalone ??= { table: new SharedCounterTable(createRateLimitMemory(MIN_SLOTS)), now: Date.now, log: SILENT };
  return standalone;
}
