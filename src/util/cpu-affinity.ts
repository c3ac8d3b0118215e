/**
 * Worker CPU pinning (`--cpu-affinity`), the equivalent of NGINX's `worker_cpu_affinity`.
 *
 * Every worker thread runs its own uWS event loop. Pinning worker i to one CPU keeps its caches
 * and its share of the kernel's socket work on that CPU instead of letting the scheduler move it.
 * Node has no API for thread affinity, so pinning needs the native addon
 * (setThreadAffinity/getThreadAffinity in native/, see native/README.md). Affinity is per thread on
 * Linux and the addon call runs on the calling JS thread, so a worker pins itself, from inside,
 * at start: that touches neither the main thread nor the other workers.
 *
 * Without the addon nothing can be pinned. Reads still work from
 * /proc/self/task/<tid>/status (`Cpus_allowed_list`), where <tid> comes from the /proc/thread-self
 * link: a synchronous fs call runs on the calling thread, so the link names that thread.
 *
 * Values of the flag:
 *   off            (default) no pinning
 *   auto           worker i -> CPU allowed[(i-1) mod allowed.length], where `allowed` is the
 *                  thread's CPU list at start (on an unrestricted machine 0..nproc-1, so worker i
 *                  gets CPU (i-1) mod nproc; under taskset/cgroup cpusets only the allowed CPUs)
 *   0,2 | 0-3 | 0-1,4
 *                  explicit list in the kernel's cpu-list format; worker i -> list[(i-1) mod len]
 */
import { readFileSync, readlinkSync, stat } from 'node:fs';

import {
  NATIVE_BUILD_COMMAND,
  nativeAffinityAvailable,
  nativeGetThreadAffinity,
  nativeLoadError,
  nativeSetThreadAffinity,
} from './native';

export type CpuAffinitySetting =
  | { readonly mode: 'off' }
  | { readonly mode: 'auto' }
  | { readonly mode: 'list'; readonly cpus: readonly number[] };

export const CPU_AFFINITY_OFF: CpuAffinitySetting = { mode: 'off' };

/** Matches the addon's bound. Linux's NR_CPUS is at most 8192; this only rejects nonsense. */
export const MAX_CPU_INDEX = 65535;

const CPU_LIST_HELP = 'expected off, auto, or a CPU list such as 0,1 or 0-3 or 0-1,4';

/**
 * Parses the kernel's cpu-list format ("0-3,8,10-11", as in Cpus_allowed_list and taskset -c) into
 * CPU indexes in the order written. Ranges must ascend and indexes must not repeat: a repeat in a
 * flag value is almost always a typo (`0-3,2`), and silently dropping it would shift which worker
 * gets which CPU. Throws on anything else.
 */
export function parseCpuList(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error('empty CPU list');
  const out: number[] = [];
  const seen = new Set<number>();
  for (const rawItem of trimmed.split(',')) {
    const item = rawItem.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (m === null) throw new Error(`invalid CPU list item ${JSON.stringify(item)}`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first > MAX_CPU_INDEX || last > MAX_CPU_INDEX) {
      throw new Error(`CPU index in ${JSON.stringify(item)} exceeds ${MAX_CPU_INDEX}`);
    }
    if (last < first) throw new Error(`descending CPU range ${JSON.stringify(item)}`);
    for (let cpu = first; cpu <= last; cpu++) {
      if (seen.has(cpu)) throw new Error(`CPU ${cpu} listed twice`);
      seen.add(cpu);
      out.push(cpu);
    }
  }
  return out;
}

/** Parses a `--cpu-affinity` value. Undefined means the default, off. Throws with a usable message. */
export function parseCpuAffinity(value: string | undefined): CpuAffinitySetting {
  if (value === undefined) return CPU_AFFINITY_OFF;
  const v = value.trim();
  if (v === 'off') return CPU_AFFINITY_OFF;
  if (v === 'auto') return { mode: 'auto' };
  try {
    return { mode: 'list', cpus: parseCpuList(v) };
  } catch (err) {
    throw new Error(`invalid --cpu-affinity ${JSON.stringify(value)}: ${(err as Error).message}; ${CPU_LIST_HELP}`);
  }
}

/** Formats a CPU list compactly, the way the kernel does ("0-3,8"). */
export function formatCpuList(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j]! + 1) j++;
    parts.push(j === i ? String(cpus[i]) : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function describeCpuAffinity(setting: CpuAffinitySetting): string {
  return setting.mode === 'list' ? formatCpuList(setting.cpus) : setting.mode;
}

/**
 * The CPU worker `workerId` (1-based, as the supervisor numbers them) should run on, or null for
 * `off`. `allowed` is the thread's CPU list at start and is only used by `auto`; a respawned
 * worker keeps its slot id and therefore its CPU.
 */
export function cpuForWorker(setting: CpuAffinitySetting, workerId: number, allowed: readonly number[] | null): number | null {
  if (!Number.isInteger(workerId) || workerId < 1) throw new RangeError(`worker id must be an integer >= 1, got ${workerId}`);
  switch (setting.mode) {
    case 'off':
      return null;
    case 'auto':
      if (allowed === null || allowed.length === 0) return null;
      return allowed[(workerId - 1) % allowed.length]!;
    case 'list':
      return setting.cpus[(workerId - 1) % setting.cpus.length]!;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading and setting the calling thread's affinity
// ---------------------------------------------------------------------------------------------

export type AffinitySource = 'native' | 'proc';

export interface ThreadAffinity {
  /** CPUs the calling thread may run on, ascending; null when they cannot be read. */
  cpus: number[] | null;
  source: AffinitySource | null;
  /** Why `cpus` is null; null otherwise. */
  reason: string | null;
}

export interface SetAffinityResult {
  /** True when the kernel accepted the new mask (`cpus` is the mask applied). */
  pinned: boolean;
  /** False when this process cannot pin threads at all (no addon, not Linux). */
  supported: boolean;
  /** The thread's CPU list afterwards (unchanged when not pinned); null when unreadable. */
  cpus: number[] | null;
  source: AffinitySource | null;
  /** Why it was not pinned; null when it was. */
  reason: string | null;
}

/** Extracts `Cpus_allowed_list` from the text of /proc/<pid>/task/<tid>/status. */
export function parseProcStatusCpus(statusText: string): number[] {
  const m = /^Cpus_allowed_list:[ \t]*(\S+)/m.exec(statusText);
  if (m === null) throw new Error('no Cpus_allowed_list line in status text');
  return parseCpuList(m[1]!);
}

/**
 * The calling thread's kernel thread id, from the /proc/thread-self link ("<pid>/task/<tid>"), or
 * null when /proc/thread-self is missing (not Linux, Linux < 3.17, /proc not mounted).
 */
export function currentThreadId(): number | null {
  try {
    const m = /\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function procThreadAffinity(): ThreadAffinity {
  const tid = currentThreadId();
  if (tid === null) {
    return { cpus: null, source: null, reason: 'thread CPU affinity unsupported: cannot find this thread id (/proc/thread-self missing)' };
  }
  try {
    const cpus = parseProcStatusCpus(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'));
    return { cpus, source: 'proc', reason: null };
  } catch (err) {
    return { cpus: null, source: null, reason: `thread CPU affinity unsupported: ${(err as Error).message}` };
  }
}

/** The calling thread's CPU list: sched_getaffinity via the addon, else /proc. Never throws. */
export function getThreadAffinity(): ThreadAffinity {
  if (nativeAffinityAvailable) {
    try {
      return { cpus: nativeGetThreadAffinity(), source: 'native', reason: null };
    } catch {
      // sched_getaffinity(0) does not fail on Linux; off Linux (ENOSYS) /proc will not help either,
      // but trying costs nothing and gives one place to produce the "unsupported" reason.
    }
  }
  return procThreadAffinity();
}

function validateCpus(cpus: readonly number[]): void {
  if (!Array.isArray(cpus)) throw new TypeError('setThreadAffinity: cpus must be an array of CPU indexes');
  if (cpus.length === 0) throw new RangeError('setThreadAffinity: cpus must not be empty');
  for (const cpu of cpus) {
    if (typeof cpu !== 'number') throw new TypeError('setThreadAffinity: every CPU index must be a number');
    if (!Number.isInteger(cpu) || cpu < 0 || cpu > MAX_CPU_INDEX) {
      throw new RangeError(`setThreadAffinity: CPU indexes must be integers in [0, ${MAX_CPU_INDEX}], got ${cpu}`);
    }
  }
}

/**
 * Pins the CALLING thread to `cpus`. Throws only on an invalid list (TypeError/RangeError, in both
 * the native and fallback paths); everything else is reported in the result: a kernel refusal
 * (EINVAL when none of the CPUs is usable by this thread) as `pinned: false`, a missing addon as
 * `supported: false` with the current CPU list if /proc can provide it.
 */
export function setThreadAffinity(cpus: readonly number[]): SetAffinityResult {
  validateCpus(cpus);
  if (!nativeAffinityAvailable) {
    const current = procThreadAffinity();
    const why = nativeLoadError?.message ?? 'native addon too old to pin threads';
    return {
      pinned: false,
      supported: false,
      cpus: current.cpus,
      source: current.source,
      reason:
        `thread CPU pinning needs the native addon, Node has no API for it (${why}; ` +
        `build it with \`${NATIVE_BUILD_COMMAND}\`)`,
    };
  }
  try {
    return { pinned: true, supported: true, cpus: nativeSetThreadAffinity(cpus), source: 'native', reason: null };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const current = getThreadAffinity();
    const unsupported = e.code === 'ENOSYS';
    let reason = `sched_setaffinity failed: ${e.code ?? 'error'}: ${e.message}`;
    if (e.code === 'EINVAL') {
      reason = `CPU ${formatCpuList(cpus)} is not available to this thread (allowed: ${current.cpus === null ? '?' : formatCpuList(current.cpus)})`;
    }
    return { pinned: false, supported: !unsupported, cpus: current.cpus, source: current.source, reason };
  }
}

// ---------------------------------------------------------------------------------------------
// Used by the primary and the workers
// ---------------------------------------------------------------------------------------------

/**
 * Starts libuv's thread pool from the (unpinned) calling thread. Call it in the primary before
 * spawning pinned workers. Why: Linux threads inherit the affinity of the thread that creates
 * them, and libuv creates its pool lazily, on the first async fs call or dns.lookup in the whole
 * process. If that first call came from a pinned worker (its access log, undici resolving an
 * upstream host) all pool threads would be stuck on that worker's CPU for the life of the process.
 * Submitting one trivial request makes the pool threads now, synchronously, with the caller's mask.
 */
export function startThreadPoolUnpinned(): void {
  stat('/', () => {});
}

/** What a worker logged about its pinning; returned for tests and callers that want it. */
export interface WorkerPinResult extends SetAffinityResult {
  /** The CPU this worker was assigned, or null when none could be chosen. */
  cpu: number | null;
}

interface MinimalLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Called once at the start of worker `workerId`: picks its CPU from `setting`, pins the calling
 * thread to it and logs one line, "pinned to CPU X" (info) or "not pinned: <reason>" (warn).
 * Never throws: a gateway that cannot pin still serves.
 */
export function pinWorkerThread(setting: CpuAffinitySetting, workerId: number, logger: MinimalLogger): WorkerPinResult {
  const mode = describeCpuAffinity(setting);
  const notPinned = (r: Omit<WorkerPinResult, 'pinned'>): WorkerPinResult => {
    logger.warn({ cpuAffinity: mode, cpu: r.cpu, cpus: r.cpus === null ? null : formatCpuList(r.cpus) }, `not pinned: ${r.reason}`);
    return { ...r, pinned: false };
  };
  if (setting.mode === 'off') {
    return { pinned: false, supported: true, cpu: null, cpus: null, source: null, reason: '--cpu-affinity is off' };
  }
  const allowed = getThreadAffinity();
  let cpu: number | null;
  try {
    cpu = cpuForWorker(setting, workerId, allowed.cpus);
  } catch (err) {
    return notPinned({ supported: true, cpu: null, cpus: allowed.cpus, source: allowed.source, reason: (err as Error).message });
  }
  if (cpu === null) {
    return notPinned({ supported: false, cpu: null, cpus: null, source: null, reason: allowed.reason ?? 'no CPU to pin to' });
  }
  const r = setThreadAffinity([cpu]);
  if (!r.pinned) return notPinned({ ...r, cpu });
  logger.info({ cpuAffinity: mode, cpu, cpus: formatCpuList(r.cpus ?? []) }, `pinned to CPU ${cpu}`);
  return { ...r, cpu };
}
