#!/usr/bin/env node
/**
 * npm `install` lifecycle script of the root package: builds the optional native addon
 * (native/build.sh) so a plain `npm install` / `npm ci` gives the gateway its rlimit, _exit and
 * CPU-affinity calls.
 *
 * The addon is optional (every function has a JS fallback, see native/README.md), so this script
 * never fails the install: when the build fails (no C compiler, no Node headers, not POSIX) it
 * prints what is lost and how to build later, and exits 0.
 *
 * FLOODGATE_SKIP_NATIVE_BUILD=1 skips the build (e.g. for images that ship a prebuilt addon).
 * Plain CommonJS with no dependencies: it runs before anything is compiled.
 */
'use strict';

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const here = __dirname;
const buildScript = path.join(here, 'build.sh');
const tag = 'floodgate native addon';

function notice(lines) {
  process.stderr.write(lines.map((l) => `${tag}: ${l}`).join('\n') + '\n');
}

function fallbackNotice(why) {
  notice([
    `build failed (${why}).`,
    'Floodgate still works: it uses its JS fallbacks (open-file limit read from /proc and not raised,',
    'exit via process.exit, no --cpu-affinity pinning). To build the addon later, from the repo root:',
    '  sh native/build.sh',
    'See native/README.md for what the build needs (python3, make, a C compiler, Node headers).',
  ]);
}

function main() {
  if (process.env.FLOODGATE_SKIP_NATIVE_BUILD === '1') {
    notice(['skipped (FLOODGATE_SKIP_NATIVE_BUILD=1); the JS fallbacks will be used unless it is built.']);
    return;
  }
  if (process.platform === 'win32') {
    fallbackNotice('Windows is not supported by native/build.sh');
    return;
  }
  const env = { ...process.env };
  // Inside an npm lifecycle script npm exports the path of its own bundled node-gyp; prefer it to
  // build.sh's search so the addon is built by the npm that is installing.
  if (env.NODE_GYP === undefined && env.npm_config_node_gyp) env.NODE_GYP = env.npm_config_node_gyp;
  const r = spawnSync('sh', [buildScript], { cwd: path.dirname(here), env, stdio: 'inherit' });
  if (r.error) {
    fallbackNotice(`could not run sh ${buildScript}: ${r.error.message}`);
  } else if (r.status !== 0) {
    fallbackNotice(r.signal ? `killed by ${r.signal}` : `native/build.sh exited ${r.status}`);
  } else {
    notice(['built native/build/Release/floodgate_native.node']);
  }
  // uWebSockets.js v20.57 on this glibc: stock, patched copy, or the v20.30 fallback (says why).
  const prepared = spawnSync(process.execPath, [path.join(here, 'uws-compat', 'prepare.js')], { cwd: path.dirname(here), stdio: 'inherit' });
  if (prepared.error) notice([`could not prepare uWebSockets.js: ${prepared.error.message}`]);
}

try {
  main();
} catch (err) {
  // Never fail an install because of the optional addon.
  fallbackNotice(err && err.message ? err.message : String(err));
}
process.exitCode = 0;
