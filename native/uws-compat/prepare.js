'use strict';
/**
 * Makes uWebSockets.js v20.57 loadable on this machine, at install time (native/install.js and
 * `make native`), and records what it did in native/build/uws/status.json for the runtime loader
 * (src/proxy/uws.ts) and `floodgate version`.
 *
 *   glibc >= 2.38, or not glibc:  nothing to do; the stock binary loads as shipped ("stock").
 *   glibc <  2.38:                 copy the binary to native/build/uws/, relax its GLIBC_2.38 need
 *                                  for the three C23 symbols (elf-versions.js), and check the copy
 *                                  loads in a child process beside the addon that provides them
 *                                  ("patched").
 *   any step fails:                one line says why; the runtime falls back to v20.30 ("legacy").
 *
 * Plain CommonJS with no dependencies: it runs before TypeScript is compiled.
 * Usage: node native/uws-compat/prepare.js [--quiet]   (exit code 0 unless --strict and it failed)
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { relaxVersionNeed, symbolsNeedingVersion } = require('./elf-versions');

const ROOT = path.resolve(__dirname, '..', '..');
const OUT_DIR = path.join(ROOT, 'native', 'build', 'uws');
const STATUS_FILE = path.join(OUT_DIR, 'status.json');
const ADDON = path.join(ROOT, 'native', 'build', 'Release', 'floodgate_native.node');
const C23_SYMBOLS = ['__isoc23_strtol', '__isoc23_strtoul', '__isoc23_sscanf'];
const NEEDED_GLIBC = 'GLIBC_2.38';

function glibcRuntime() {
  if (process.platform !== 'linux') return null;
  const header = process.report.getReport().header;
  return typeof header.glibcVersionRuntime === 'string' ? header.glibcVersionRuntime : null;
}

/** "2.36" < "2.38" as versions, not strings. */
function versionAtLeast(have, want) {
  const a = have.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

function stockBinary() {
  // Its package.json is not exported, so find the folder through the main file.
  const pkgFile = path.join(path.dirname(require.resolve('uWebSockets.js', { paths: [ROOT] })), 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  const name = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  return { version: pkg.version, file: path.join(path.dirname(pkgFile), name), name };
}

/** Loads addon + patched binary in a fresh process, as a worker will. Returns null or the reason. */
function verifyInChild(addon, patched) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'verify.js'), addon, patched], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return r.error.message;
  if (r.status !== 0) return (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').pop();
  return null;
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function prepare() {
  const glibc = glibcRuntime();
  let stock;
  try {
    stock = stockBinary();
  } catch (err) {
    return { variant: 'legacy', reason: `uWebSockets.js is not installed (${err.message.split('\n')[0]})`, glibc };
  }
  if (glibc === null || versionAtLeast(glibc, NEEDED_GLIBC.slice('GLIBC_'.length))) {
    return { variant: 'stock', version: stock.version, binary: path.relative(ROOT, stock.file), glibc };
  }
  if (!fs.existsSync(stock.file)) return { variant: 'legacy', reason: `no uWS binary for this Node ABI (${stock.name})`, glibc };
  if (!fs.existsSync(ADDON)) return { variant: 'legacy', reason: 'the native addon that provides the C23 functions is not built', glibc };

  const target = path.join(OUT_DIR, stock.name);
  const sourceSha = sha256(stock.file);
  const previous = readStatus();
  if (previous && previous.variant === 'patched' && previous.sourceSha256 === sourceSha && fs.existsSync(target) && fs.statSync(ADDON).mtimeMs <= previous.preparedAt) {
    return previous;
  }
  const input = fs.readFileSync(stock.file);
  const needing = symbolsNeedingVersion(input, NEEDED_GLIBC);
  const unexpected = needing.filter((s) => !C23_SYMBOLS.includes(s));
  if (unexpected.length > 0) return { variant: 'legacy', reason: `the binary needs ${NEEDED_GLIBC} for ${unexpected.join(', ')} too`, glibc };
  const { patched, edits } = relaxVersionNeed(input, NEEDED_GLIBC, needing);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, patched);
  const failure = verifyInChild(ADDON, tmp);
  if (failure !== null) {
    fs.rmSync(tmp, { force: true });
    return { variant: 'legacy', reason: `the patched binary does not load: ${failure}`, glibc };
  }
  fs.renameSync(tmp, target);
  return {
    variant: 'patched',
    version: stock.version,
    binary: path.relative(ROOT, target),
    source: path.relative(ROOT, stock.file),
    sourceSha256: sourceSha,
    glibc,
    edits: edits.map((e) => (e.kind === 'unversion' ? `${e.symbol}: unversioned` : `${e.need}: weak`)),
    preparedAt: Date.now(),
  };
}

function readStatus() {
  try {
    return JSON.parse(fs.readFileSync(STATUS_FILE, 'utf8'));
  } catch {
    return null;
  }
}

function main() {
  const quiet = process.argv.includes('--quiet');
  let status;
  try {
    status = prepare();
  } catch (err) {
    status = { variant: 'legacy', reason: err && err.message ? err.message : String(err) };
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.writeFileSync(STATUS_FILE, JSON.stringify(status, null, 2) + '\n');
  if (status.variant === 'legacy') {
    process.stderr.write(`uWebSockets.js v20.57 unavailable, falling back to v20.30: ${status.reason}\n`);
    if (process.argv.includes('--strict')) process.exitCode = 1;
  } else if (!quiet) {
    const how = status.variant === 'patched' ? `patched for glibc ${status.glibc} (${status.edits.join('; ')})` : 'stock binary';
    process.stdout.write(`uWebSockets.js v${status.version}: ${how}\n`);
  }
}

module.exports = { prepare, versionAtLeast, STATUS_FILE, C23_SYMBOLS, NEEDED_GLIBC };

if (require.main === module) main();
