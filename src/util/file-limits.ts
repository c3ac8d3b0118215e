/**
 * RLIMIT_NOFILE (max open file descriptors) for the gateway process, the equivalent of NGINX's
 * worker_rlimit_nofile: holding 50k-150k connections needs the soft limit at (or near) the hard
 * limit.
 *
 * Uses the native addon (src/util/native.ts) when it is built; otherwise falls back to parsing
 * /proc/self/limits for reads. The fallback cannot raise the limit (JS has no setrlimit), so
 * raiseNofileLimit() then reports the current limits with `raised: false` and a reason.
 *
 * Note: Node itself raises the soft limit to the hard limit once at process start (PlatformInit in
 * node.cc, POSIX only), so on a stock `node` binary the soft limit is normally already at the hard
 * limit by the time this code runs, and raiseNofileLimit() reports "already at ...".
 *
 * Limits of "unlimited" (RLIM_INFINITY) are reported as Infinity.
 */
import { readFileSync } from 'node:fs';

import {
  NATIVE_BUILD_COMMAND,
  nativeAvailable,
  nativeGetNofileLimit,
  nativeLoadError,
  nativeRaiseNofileLimit,
} from './native';

export type NofileLimitSource = 'native' | 'proc';

export interface NofileLimitResult {
  /** Soft limit (the one that applies); Infinity for "unlimited". */
  soft: number;
  /** Hard limit (ceiling for the soft limit); Infinity for "unlimited". */
  hard: number;
  /** True when this call increased the soft limit. Always false for getNofileLimit(). */
  raised: boolean;
  /** Where the numbers came from: getrlimit via the addon, or /proc/self/limits. */
  source: NofileLimitSource;
  /**
   * Null when nothing noteworthy happened (a plain read, or a raise that reached its target).
   * Otherwise a human-readable explanation: why the limit was not raised, or that the target was
   * capped at the hard limit.
   */
  reason: string | null;
}

export interface SoftHard {
  soft: number;
  hard: number;
}

export const PROC_LIMITS_PATH = '/proc/self/limits';

/**
 * A limit for logs: JSON has no Infinity (pino would write null), so RLIM_INFINITY is written as
 * "unlimited", the word /proc and `ulimit` use.
 */
export function formatLimit(value: number): number | 'unlimited' {
  return Number.isFinite(value) ? value : 'unlimited';
}

/** Parses one limit column of /proc/<pid>/limits: a decimal integer or "unlimited". */
export function parseLimitValue(raw: string): number {
  if (raw === 'unlimited') return Infinity;
  if (!/^\d+$/.test(raw)) throw new Error(`invalid limit value ${JSON.stringify(raw)}`);
  return Number(raw);
}

/**
 * Extracts the "Max open files" soft/hard limits from the text of /proc/<pid>/limits, e.g.
 *   Max open files            1024                 1048576              files
 * Throws when the line is missing or malformed.
 */
export function parseProcLimits(text: string): SoftHard {
  const m = /^Max open files[ \t]+(\S+)[ \t]+(\S+)/m.exec(text);
  if (m === null) throw new Error('no "Max open files" line in limits text');
  return { soft: parseLimitValue(m[1]!), hard: parseLimitValue(m[2]!) };
}

function readProcLimits(): SoftHard {
  let text: string;
  try {
    text = readFileSync(PROC_LIMITS_PATH, 'utf8');
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot read RLIMIT_NOFILE: native addon unavailable (${nativeLoadError?.message ?? 'unknown'}) ` +
        `and ${PROC_LIMITS_PATH} is unreadable (${why})`,
    );
  }
  return parseProcLimits(text);
}

function validateTarget(target: unknown): void {
  if (target === undefined) return;
  if (typeof target !== 'number') {
    throw new TypeError(`raiseNofileLimit: target must be a number or undefined, got ${typeof target}`);
  }
  if (Number.isNaN(target) || target < 0) {
    throw new RangeError(`raiseNofileLimit: target must be a non-negative number, got ${target}`);
  }
}

/** The soft limit a raise aims for: min(target ?? hard, hard), fractions dropped. */
function wantedSoft(target: number | undefined, hard: number): number {
  if (target === undefined) return hard;
  return Math.min(Math.floor(target), hard);
}

function describeWanted(target: number | undefined, hard: number): string {
  const wanted = wantedSoft(target, hard);
  return wanted === hard ? `the hard limit (${hard})` : `the target (${wanted})`;
}

/** Current RLIMIT_NOFILE soft/hard limits (`raised` is always false, `reason` null). */
export function getNofileLimit(): NofileLimitResult {
  if (nativeAvailable) {
    try {
      const { soft, hard } = nativeGetNofileLimit();
      return { soft, hard, raised: false, source: 'native', reason: null };
    } catch {
      // getrlimit(2) does not fail in practice; if it somehow does, /proc is still worth a try.
    }
  }
  const { soft, hard } = readProcLimits();
  return { soft, hard, raised: false, source: 'proc', reason: null };
}

/**
 * Raises the RLIMIT_NOFILE soft limit to min(target ?? hard, hard). Never lowers it and never
 * touches the hard limit; calling it again is a no-op. Does not throw on setrlimit failure: the
 * result then has `raised: false` and the error in `reason`. Throws on an invalid `target`, and
 * when the limits cannot be read at all (no addon and no /proc).
 */
export function raiseNofileLimit(target?: number): NofileLimitResult {
  validateTarget(target);

  if (nativeAvailable) {
    const before = nativeGetNofileLimit();
    let after: SoftHard;
    try {
      after = nativeRaiseNofileLimit(target);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return {
        soft: before.soft,
        hard: before.hard,
        raised: false,
        source: 'native',
        reason: `setrlimit(RLIMIT_NOFILE) failed: ${e.code ?? 'error'}: ${e.message}`,
      };
    }
    const raised = after.soft > before.soft;
    let reason: string | null = null;
    if (!raised) {
      reason = `soft limit ${after.soft} already at or above ${describeWanted(target, after.hard)}`;
    } else if (target !== undefined && target > after.hard) {
      reason = `target ${target} exceeds the hard limit; soft limit raised to the hard limit (${after.hard})`;
    }
    return { soft: after.soft, hard: after.hard, raised, source: 'native', reason };
  }

  const { soft, hard } = readProcLimits();
  const wanted = wantedSoft(target, hard);
  const reason =
    soft >= wanted
      ? `soft limit ${soft} already at or above ${describeWanted(target, hard)}`
      : `cannot raise soft limit from ${soft} to ${wanted} without the native addon ` +
        `(${nativeLoadError?.message ?? 'unavailable'}; build it with \`${NATIVE_BUILD_COMMAND}\`), ` +
        `or raise it before start (ulimit -n, systemd LimitNOFILE=, /etc/security/limits.conf)`;
  return { soft, hard, raised: false, source: 'proc', reason };
}
