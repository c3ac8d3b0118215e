/**
 * Loader for the optional native addon (native/, see native/README.md).
 *
 * The addon is looked up at native/build/Release/floodgate_native.node relative to the repo root,
 * which works both from src/util (ts sources) and dist/src/util (compiled output). Loading never
 * throws: when the file is missing or fails to load, `nativeAvailable` is false, `nativeLoadError`
 * says why, and callers use their JS fallbacks (src/util/file-limits.ts).
 *
 * FLOODGATE_DISABLE_NATIVE=1 forces the fallbacks (used by tests, handy for debugging).
 *
 * The thread-affinity functions (added in addon 1.1.0) are optional on the loaded module: a stale
 * 1.0.0 build still provides the rlimit and _exit functions, and only CPU pinning falls back
 * (`nativeAffinityAvailable` is false). Rebuilding fixes it; `npm install` and `make` rebuild.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';

export interface NativeNofileLimit {
  /** RLIMIT_NOFILE soft limit; Infinity for RLIM_INFINITY ("unlimited"). */
  soft: number;
  /** RLIMIT_NOFILE hard limit; Infinity for RLIM_INFINITY ("unlimited"). */
  hard: number;
}

interface FloodgateNativeAddon {
  version: string;
  getNofileLimit(): NativeNofileLimit;
  raiseNofileLimit(target?: number): NativeNofileLimit;
  exitImmediately(code: number): never;
  /** Since 1.1.0. Pins the calling thread; returns the applied mask as a CPU list. */
  setThreadAffinity?(cpus: readonly number[]): number[];
  /** Since 1.1.0. The calling thread's CPU list. */
  getThreadAffinity?(): number[];
  /** Since 1.4.0. A listening TCP socket with SO_REUSEPORT; returns its fd. */
  listenReusePort?(host: string, port: number, backlog: number): number;
  /** Since 1.3.0. The upstream response parser's byte work (native/src/response_parser.c). */
  responseParser?: NativeResponseParser;
  /** Since 1.3.0. Benchmark probes (native/src/uv_probe.c); nothing in the gateway uses them. */
  probe?: NativeProbe;
  /** Since 1.5.0. Upstream TCP sockets on this thread's libuv loop (native/src/tcp_transport.c). */
  transport?: NativeTransport;
  /** Since 1.6.0. The connection a uWS.js response belongs to (native/src/uws_socket_key.cc); 0 = none. */
  uwsSocketKey?(res: object): number;
}

/**
 * See native/src/tcp_transport.c for the contract. Slots are small integers naming a socket of
 * this thread; statuses are libuv error codes (negative).
 */
export interface NativeTransport {
  init(readBuffer: Buffer, onRead: (slot: number, bytes: number) => void, onEvent: (slot: number, kind: number, status: number) => void): void;
  connect(ip: string, port: number): number;
  write(slot: number, a: string | Uint8Array, b?: string | Uint8Array, c?: string | Uint8Array, d?: string | Uint8Array): number;
  readStop(slot: number): void;
  readStart(slot: number): number;
  close(slot: number): void;
  errorName(status: number): string;
}

/** See native/src/uv_probe.c: keep-alive request loops on this thread's libuv loop. */
export interface NativeProbe {
  uvRequestLoop(
    port: number,
    connections: number,
    request: Buffer,
    responseBytes: number,
    durationMs: number,
    perResponse: 0 | 1 | 2,
    tick: () => void,
    done: (completed: number, errors: number) => void,
  ): void;
}

/** See native/src/response_parser_napi.c for the contract. */
export interface NativeResponseParser {
  bind(out: Float64Array, ranges: Int32Array, state: Float64Array): void;
  parseHead(buf: Buffer, start: number, end: number): number;
  scanHead(buf: Buffer, start: number, max: number): number;
  chunkScan(buf: Buffer, i: number): number;
}

/** How to build the addon, for error messages. Run from the repo root. */
export const NATIVE_BUILD_COMMAND = 'sh native/build.sh';

const ADDON_RELATIVE = path.join('native', 'build', 'Release', 'floodgate_native.node');

/**
 * Walks up from this file's directory to find a file of the repo (src/util or dist/src/util both
 * work), or null. Build outputs under native/build are found this way.
 */
export function findRepoFile(relative: string): string | null {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

function findAddon(): string | null {
  return findRepoFile(ADDON_RELATIVE);
}

function isAddon(value: unknown): value is FloodgateNativeAddon {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.version === 'string' &&
    typeof v.getNofileLimit === 'function' &&
    typeof v.raiseNofileLimit === 'function' &&
    typeof v.exitImmediately === 'function'
  );
}

interface LoadResult {
  addon: FloodgateNativeAddon | null;
  path: string | null;
  error: Error | null;
}

function load(): LoadResult {
  if (process.env.FLOODGATE_DISABLE_NATIVE === '1') {
    return { addon: null, path: null, error: new Error('native addon disabled by FLOODGATE_DISABLE_NATIVE=1') };
  }
  const file = findAddon();
  if (file === null) {
    return {
      addon: null,
      path: null,
      error: new Error(`native addon not built (${ADDON_RELATIVE} not found)`),
    };
  }
  try {
    // RTLD_GLOBAL: the addon also defines glibc 2.38's C23 functions for a patched uWS binary
    // (native/uws-compat/), which finds them in the global scope; it must be loaded first.
    const holder = { exports: {} as unknown };
    process.dlopen(holder, file, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
    const mod = holder.exports;
    if (!isAddon(mod)) {
      return { addon: null, path: file, error: new Error(`${file} does not export the expected functions`) };
    }
    return { addon: mod, path: file, error: null };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      addon: null,
      path: file,
      error: new Error(`failed to load ${file}: ${e.message}`, {
        cause: e,
      }),
    };
  }
}

const loaded = load();

/** True when the native addon was found and loaded. */
export const nativeAvailable: boolean = loaded.addon !== null;
/** The addon's version string, or null when it is not available. */
export const nativeVersion: string | null = loaded.addon?.version ?? null;
/** Path the addon was loaded from (or failed to load from), or null when none was found. */
export const nativeAddonPath: string | null = loaded.path;
/** Why the addon is not available, or null when it is. */
export const nativeLoadError: Error | null = loaded.error;
/**
 * A listening socket with SO_REUSEPORT on host:port (an IP literal), for `net.Server.listen({ fd })`
 * (h2/front.ts: Node 20's net cannot share a port between worker threads). Null without the
 * addon 1.4.0; throws the system error (EADDRINUSE, ...) otherwise.
 */
export function listenReusePort(host: string, port: number, backlog: number): number | null {
  const fn = loaded.addon?.listenReusePort;
  return typeof fn === 'function' ? fn.call(loaded.addon, host, port, backlog) : null;
}

/** True when the loaded addon has the thread-affinity functions (a build of 1.1.0 or later). */
export const nativeAffinityAvailable: boolean =
  typeof loaded.addon?.setThreadAffinity === 'function' && typeof loaded.addon?.getThreadAffinity === 'function';

/** The native response parser (addon 1.3.0+), or null: the upstream engine then runs its JS kernel. */
export const nativeResponseParser: NativeResponseParser | null =
  typeof loaded.addon?.responseParser?.bind === 'function' && typeof loaded.addon?.responseParser?.scanHead === 'function' && typeof loaded.addon?.responseParser?.chunkScan === 'function'
    ? loaded.addon.responseParser
    : null;

/** Upstream sockets in the addon (1.5.0+), or null: `--upstream-engine native` then falls back to js. */
export const nativeTransport: NativeTransport | null =
  typeof loaded.addon?.transport?.connect === 'function' && typeof loaded.addon?.transport?.write === 'function' ? loaded.addon.transport : null;

/**
 * The connection a uWS.js response object belongs to, as a number (addon 1.6.0+; 0 for an object
 * that is not a uWS response), or null: src/proxy/remote-address.ts then asks uWS per request.
 */
export const nativeUwsSocketKey: ((res: object) => number) | null = typeof loaded.addon?.uwsSocketKey === 'function' ? loaded.addon.uwsSocketKey : null;

/** The addon's benchmark probes (bench/micro/engine.ts), or null. */
export const nativeProbe: NativeProbe | null = typeof loaded.addon?.probe?.uvRequestLoop === 'function' ? loaded.addon.probe : null;

/**
 * One line for the start-up log when something runs on a JS fallback, or null when the addon is
 * fully available. Lists what each fallback means, so an operator knows what is lost.
 */
export function nativeFallbackWarning(): string | null {
  if (loaded.addon !== null) {
    if (nativeAffinityAvailable) return null;
    return (
      `native addon ${loaded.addon.version} is out of date (no thread CPU affinity); ` +
      `--cpu-affinity cannot pin workers until it is rebuilt with \`${NATIVE_BUILD_COMMAND}\``
    );
  }
  const what = loaded.path === null && process.env.FLOODGATE_DISABLE_NATIVE !== '1' ? 'not built' : 'not loaded';
  return (
    `native addon ${what}; using JS fallbacks: open-file limit read from /proc and not raisable, ` +
    `exit via process.exit (can abort while connections are open), ` +
    `no CPU pinning (--cpu-affinity cannot pin) (${loaded.error?.message ?? 'unknown reason'}; ` +
    `build it with \`${NATIVE_BUILD_COMMAND}\`)`
  );
}

function addon(): FloodgateNativeAddon {
  if (loaded.addon === null) {
    throw loaded.error ?? new Error('native addon not available');
  }
  return loaded.addon;
}

/** getrlimit(RLIMIT_NOFILE). Throws if the addon is not available or the syscall fails. */
export function nativeGetNofileLimit(): NativeNofileLimit {
  return addon().getNofileLimit();
}

/**
 * Raises the RLIMIT_NOFILE soft limit to min(target ?? hard, hard); never lowers it, never
 * touches the hard limit. Returns the limits afterwards. Throws if the addon is not available or
 * on syscall failure (Error with `code` such as 'EPERM', plus `errno` and `syscall`).
 */
export function nativeRaiseNofileLimit(target?: number): NativeNofileLimit {
  return addon().raiseNofileLimit(target);
}

/**
 * Pins the CALLING thread (sched_setaffinity(0, ...) on Linux) to `cpus` and returns the mask the
 * kernel applied. Inside a worker_thread this pins that worker only. Throws if the addon (or its
 * affinity support) is missing, TypeError/RangeError on a bad list, or a system error (`code`
 * 'EINVAL' when none of the CPUs is usable by this thread, 'ENOSYS' off Linux).
 */
export function nativeSetThreadAffinity(cpus: readonly number[]): number[] {
  const a = addon();
  if (a.setThreadAffinity === undefined) throw new Error(`native addon ${a.version} has no setThreadAffinity; rebuild it`);
  return a.setThreadAffinity(cpus);
}

/** The calling thread's CPU list (sched_getaffinity(0)). Throws like nativeSetThreadAffinity. */
export function nativeGetThreadAffinity(): number[] {
  const a = addon();
  if (a.getThreadAffinity === undefined) throw new Error(`native addon ${a.version} has no getThreadAffinity; rebuild it`);
  return a.getThreadAffinity();
}

/** _exit(2): end the process now, without atexit handlers or worker teardown. */
export function nativeExitImmediately(code: number): never {
  return addon().exitImmediately(code);
}
