/**
 * Loader for the optional native addon (native/, see native/README.md).
 *
 * The addon is looked up at native/build/Release/floodgate_native.node relative to the repo root,
 * which works both from src/util (ts sources) and dist/src/util (compiled output). Loading never
 * throws: when the file is missing or fails to load, `nativeAvailable` is false, `nativeLoadError`
 * says why, and callers use their JS fallbacks (src/util/file-limits.ts).
 *
 * FLOODGATE_DISABLE_NATIVE=1 forces the fallbacks (used by tests, handy for debugging).
 */
import { existsSync } from 'node:fs';
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
}

/** How to build the addon, for error messages. Run from the repo root. */
export const NATIVE_BUILD_COMMAND = 'sh native/build.sh';

const ADDON_RELATIVE = path.join('native', 'build', 'Release', 'floodgate_native.node');

/** Walks up from this file's directory to find the built addon (src/util or dist/src/util). */
function findAddon(): string | null {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, ADDON_RELATIVE);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
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
    const mod: unknown = require(file);
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

/** _exit(2): end the process now, without atexit handlers or worker teardown. */
export function nativeExitImmediately(code: number): never {
  return addon().exitImmediately(code);
}
