/**
 * The one place that loads uWebSockets.js. It is not on the npm registry under its own name, so
 * package.json installs a build of v20.30 under the alias `uWebSockets.js`. When no build loads on
 * this machine we fail with what an operator needs to pick another build: Node version, platform,
 * architecture and glibc version.
 */
import type * as UWS from 'uWebSockets.js';

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

function glibcVersion(): string {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ?? 'unknown (not glibc?)';
}

function load(): typeof UWS {
  try {
    return require('uWebSockets.js') as typeof UWS;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `No build of uWebSockets.js loads here (node ${process.version}, ${process.platform}-${process.arch}, ` +
        `glibc ${glibcVersion()}, ABI ${process.versions.modules}): ${reason}. ` +
        'Install a uWebSockets.js build that matches this Node ABI and glibc under the npm alias "uWebSockets.js".',
    );
  }
}

export const uws: typeof UWS = load();
