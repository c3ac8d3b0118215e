/**
 * The one place that loads uWebSockets.js, and says which build runs.
 *
 * package.json depends on v20.57 (npm `@btc-vision/uwebsockets.js`) under the alias
 * `uWebSockets.js`, and on v20.30 (`@trufflesuite/uws-js-unofficial`) under `uWebSockets.js-legacy`
 * as the fallback. v20.57's Linux binary needs glibc 2.38 for three C23 symbols only, so:
 *
 * - glibc >= 2.38 (or not glibc): the stock binary, untouched.
 * - glibc < 2.38: the copy that native/uws-compat/prepare.js made at install, whose version needs
 *   for those symbols are relaxed; the native addon that defines them is loaded first with
 *   RTLD_GLOBAL (src/util/native.ts), so the loader binds them to it.
 * - anything failing: v20.30, with a warning (`uwsBuild.warning`) that says why and what is lost.
 *
 * FLOODGATE_UWS=legacy forces the fallback (a way out for operators, and how the tests reach it).
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import type * as UWS from 'uWebSockets.js';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { findRepoFile, nativeAvailable, nativeLoadError } from '../util/native';

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

export type UwsVariant = 'stock' | 'patched' | 'legacy';

export interface UwsBuild {
  /** The uWS.js version that runs, e.g. "20.57.0". */
  readonly version: string;
  readonly variant: UwsVariant;
  /** The binary loaded (repo-relative for the patched copy). */
  readonly binary: string;
  /** Why the fallback runs; null otherwise. */
  readonly reason: string | null;
  /** One line for the start-up log when the fallback runs; null otherwise. */
  readonly warning: string | null;
  /** v20.57 has App.close(): workers can close their sockets and exit cleanly. */
  readonly hasAppClose: boolean;
}

/** What is lost on v20.30, named in the warning (issue 11's corpus found each). */
const LEGACY_LOSSES =
  'no answer to HTTP/1.0, pipelined requests, header names with "_", chunk extensions or ' +
  'Content-Length >= 1e9; hostile input hangs instead of getting a 400; no App.close(), so ' +
  'workers exit through _exit and crashed workers retire slowly';

const STATUS_RELATIVE = path.join('native', 'build', 'uws', 'status.json');

interface PrepareStatus {
  variant: UwsVariant;
  version?: string;
  binary?: string;
  glibc?: string | null;
  reason?: string;
}

function glibcRuntime(): string | null {
  if (process.platform !== 'linux') return null;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ?? null;
}

function atLeast(have: string, want: readonly number[]): boolean {
  const parts = have.split('.').map(Number);
  for (let i = 0; i < want.length; i++) {
    const x = parts[i] ?? 0;
    if (x !== want[i]) return x > want[i];
  }
  return true;
}

function readStatus(): { status: PrepareStatus | null; root: string | null } {
  const file = findRepoFile(STATUS_RELATIVE);
  if (file === null) return { status: null, root: null };
  try {
    return { status: JSON.parse(readFileSync(file, 'utf8')) as PrepareStatus, root: path.resolve(path.dirname(file), '..', '..', '..') };
  } catch {
    return { status: null, root: null };
  }
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n').filter((l) => l.trim() !== '').pop() ?? 'unknown error';
}

function loadPatched(): { module: typeof UWS; build: UwsBuild } {
  const { status, root } = readStatus();
  if (status === null || root === null) throw new Error('install did not prepare a patched binary (run `make native`)');
  if (status.variant !== 'patched' || status.binary === undefined) throw new Error(status.reason ?? `install prepared a ${status.variant} build, not a patched one`);
  if (!nativeAvailable) throw new Error(`the native addon that provides the C23 functions is not loaded (${nativeLoadError?.message ?? 'unknown'})`);
  const binary = path.resolve(root, status.binary);
  const holder = { exports: {} as unknown };
  process.dlopen(holder, binary, constants.dlopen.RTLD_NOW);
  return {
    module: holder.exports as typeof UWS,
    build: { version: status.version ?? 'unknown', variant: 'patched', binary: status.binary, reason: null, warning: null, hasAppClose: true },
  };
}

function loadLegacy(reason: string): { module: typeof UWS; build: UwsBuild } {
  let version = '20.30.0';
  try {
    const pkg = JSON.parse(readFileSync(path.join(path.dirname(require.resolve('uWebSockets.js-legacy')), '..', 'package.json'), 'utf8')) as { version: string };
    version = pkg.version.replace(/-.*$/, '');
  } catch {
    // keep the default version text
  }
  try {
    const module = require('uWebSockets.js-legacy') as typeof UWS;
    const warning = `uWebSockets.js v20.57 not loaded (${reason}); running the v20.30 fallback: ${LEGACY_LOSSES}`;
    return { module, build: { version, variant: 'legacy', binary: 'uWebSockets.js-legacy', reason, warning, hasAppClose: false } };
  } catch (err) {
    throw new Error(
      `No build of uWebSockets.js loads here (node ${process.version}, ${process.platform}-${process.arch}, ` +
        `glibc ${glibcRuntime() ?? 'none'}, ABI ${process.versions.modules}): v20.57: ${reason}; v20.30: ${message(err)}`,
    );
  }
}

function load(): { module: typeof UWS; build: UwsBuild } {
  if (process.env.FLOODGATE_UWS === 'legacy') return loadLegacy('FLOODGATE_UWS=legacy');
  const glibc = glibcRuntime();
  if (glibc === null || atLeast(glibc, [2, 38])) {
    try {
      const module = require('uWebSockets.js') as typeof UWS;
      const version = readStatus().status?.version ?? '20.57.0';
      return { module, build: { version, variant: 'stock', binary: 'uWebSockets.js', reason: null, warning: null, hasAppClose: true } };
    } catch (err) {
      return loadLegacy(message(err));
    }
  }
  try {
    return loadPatched();
  } catch (err) {
    return loadLegacy(message(err));
  }
}

const loaded = load();

export const uws: typeof UWS = loaded.module;
/** Which uWS build runs and why (`floodgate version` prints it; the primary logs its warning). */
export const uwsBuild: UwsBuild = loaded.build;

/**
 * uWS's HTTP idle timeout, in seconds (v20.57's undocumented `App.setIdleTimeout`; 30 by default,
 * checked on a 4 s timer). It is one clock for a connection that has not sent a full request head
 * (slowloris, a leading CRLF, a bare CR) and for an idle keep-alive connection. The v20.30
 * fallback has none (a fixed 10 s): returns false there.
 */
export function setHttpIdleTimeout(app: TemplatedApp, seconds: number): boolean {
  const withTimeout = app as unknown as { setIdleTimeout?: (seconds: number) => unknown };
  if (typeof withTimeout.setIdleTimeout !== 'function') return false;
  withTimeout.setIdleTimeout(seconds);
  return true;
}

/** uWS's connection filter callback: +1 when an HTTP connection opens, -1 when it closes. */
export type ConnectionFilter = (res: HttpResponse, count: number) => void;

/**
 * Register a connection filter (v20.57's `App.filter`; several may be registered and run in
 * order). The v20.30 fallback has none: returns false there.
 */
export function addConnectionFilter(app: TemplatedApp, filter: ConnectionFilter): boolean {
  const withFilter = app as unknown as { filter?: (cb: ConnectionFilter) => unknown };
  if (typeof withFilter.filter !== 'function') return false;
  withFilter.filter(filter);
  return true;
}
