/**
 * uWebSockets.js v20.57 on glibc < 2.38 (native/uws-compat/, src/proxy/uws.ts): the ELF edit on
 * the real binary, the C23 functions against libc's, the load check, and the v20.30 fallback.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

const ROOT = path.resolve(__dirname, '../../..');
const compat = path.join(ROOT, 'native', 'uws-compat');

interface VersionNeed {
  file: string;
  version: string;
  index: number;
  flags: number;
}
interface DynSym {
  name: string;
  version: number;
}
interface ElfVersions {
  VER_FLG_WEAK: number;
  readSections(buf: Buffer): unknown[];
  readVersionNeeds(buf: Buffer, sections: unknown[]): VersionNeed[];
  readDynamicSymbols(buf: Buffer, sections: unknown[]): DynSym[];
  symbolsNeedingVersion(buf: Buffer, version: string): string[];
  relaxVersionNeed(buf: Buffer, version: string, symbols: string[]): { patched: Buffer; edits: { kind: string }[] };
}
const elf = require(path.join(compat, 'elf-versions.js')) as ElfVersions;
const C23 = ['__isoc23_sscanf', '__isoc23_strtol', '__isoc23_strtoul'];

function stockBinary(): Buffer {
  const dir = path.dirname(require.resolve('uWebSockets.js'));
  return fs.readFileSync(path.join(dir, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`));
}

function glibc(): string | null {
  const header = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header;
  return header.glibcVersionRuntime ?? null;
}
const oldGlibc = (() => {
  const v = glibc();
  if (v === null) return false;
  const [major, minor] = v.split('.').map(Number);
  return major < 2 || (major === 2 && minor < 38);
})();

describe('the ELF symbol-version edit, on the real uWS v20.57 binary', () => {
  const input = stockBinary();

  test('exactly the three C23 functions need GLIBC_2.38', () => {
    assert.deepEqual(elf.symbolsNeedingVersion(input, 'GLIBC_2.38').sort(), C23);
  });

  test('the patch unversions those three, weakens the need, and changes nothing else', () => {
    const { patched, edits } = elf.relaxVersionNeed(input, 'GLIBC_2.38', C23);
    assert.equal(patched.length, input.length);
    assert.equal(edits.length, 4);
    let changedBytes = 0;
    for (let i = 0; i < input.length; i++) if (input[i] !== patched[i]) changedBytes++;
    assert.ok(changedBytes >= 1 && changedBytes <= 8, `at most four 2-byte fields change, ${changedBytes} bytes did`);

    const before = elf.readSections(input);
    const after = elf.readSections(patched);
    const needBefore = elf.readVersionNeeds(input, before);
    const needAfter = elf.readVersionNeeds(patched, after);
    for (let i = 0; i < needBefore.length; i++) {
      const weak = needAfter[i].version === 'GLIBC_2.38';
      assert.equal(needAfter[i].flags, weak ? needBefore[i].flags | elf.VER_FLG_WEAK : needBefore[i].flags, needAfter[i].version);
    }
    const symsBefore = elf.readDynamicSymbols(input, before);
    const symsAfter = elf.readDynamicSymbols(patched, after);
    for (let i = 0; i < symsBefore.length; i++) {
      const expected = C23.includes(symsBefore[i].name) ? 1 : symsBefore[i].version;
      assert.equal(symsAfter[i].version, expected, symsBefore[i].name);
    }
    assert.deepEqual(elf.symbolsNeedingVersion(patched, 'GLIBC_2.38'), []);
  });

  test('it refuses to hide a symbol it was not told about', () => {
    assert.throws(() => elf.relaxVersionNeed(input, 'GLIBC_2.38', ['__isoc23_strtol']), /also needs GLIBC_2\.38/);
  });

  test('it refuses a version the binary does not need, and a file that is not ELF', () => {
    assert.throws(() => elf.relaxVersionNeed(input, 'GLIBC_9.99', C23), /does not need GLIBC_9\.99/);
    assert.throws(() => elf.relaxVersionNeed(Buffer.from('#!/bin/sh\necho not elf\n'), 'GLIBC_2.38', C23), /not an ELF file/);
  });
});

interface ParseResult {
  value: bigint;
  end: number;
  erange: boolean;
}
interface C23Bindings {
  exported: boolean;
  strtol(s: string, base: number): ParseResult;
  libcStrtol(s: string, base: number): ParseResult;
  strtoul(s: string, base: number): ParseResult;
  libcStrtoul(s: string, base: number): ParseResult;
  sscanf(s: string, fmt: string): bigint[];
  libcSscanf(s: string, fmt: string): bigint[];
}

describe('the C23 functions the addon provides, against libc', () => {
  const { c23 } = require(path.join(ROOT, 'native', 'build', 'Release', 'floodgate_native.node')) as { c23: C23Bindings };
  const inputs = ['0', '42', '-42', '  +17xyz', '0x1F', '-0x10', '017', '9223372036854775807', '9223372036854775808', '-9223372036854775809',
    '18446744073709551615', '18446744073709551616', 'zz', '', '   ', '0b', '0x', '12abc', '-0', '0B2', '1e5'];
  const bases = [0, 2, 8, 10, 16, 36];

  test('strtol and strtoul agree with libc wherever C23 changed nothing', () => {
    let compared = 0;
    for (const s of inputs) {
      for (const base of bases) {
        assert.deepEqual(c23.strtol(s, base), c23.libcStrtol(s, base), `strtol(${JSON.stringify(s)}, ${base})`);
        assert.deepEqual(c23.strtoul(s, base), c23.libcStrtoul(s, base), `strtoul(${JSON.stringify(s)}, ${base})`);
        compared += 2;
      }
    }
    assert.equal(compared, inputs.length * bases.length * 2);
  });

  test('"0b" literals parse as C23 says with base 0 or 2, and as before with other bases', () => {
    assert.deepEqual(c23.strtol('0b101', 0), { value: 5n, end: 5, erange: false });
    assert.deepEqual(c23.strtol('  -0B11z', 2), { value: -3n, end: 7, erange: false });
    assert.deepEqual(c23.strtoul('0b11111111', 0), { value: 255n, end: 10, erange: false });
    assert.deepEqual(c23.strtoul('-0b1', 0), { value: 2n ** 64n - 1n, end: 4, erange: false });
    assert.deepEqual(c23.strtol('0b' + '1'.repeat(64), 0), { value: 2n ** 63n - 1n, end: 66, erange: true });
    assert.deepEqual(c23.strtol('-0b1' + '0'.repeat(63), 0), { value: -(2n ** 63n), end: 67, erange: false });
    // libc before 2.38 stops at the "b"; so does C23 with base 16 ("0b1" is hex 0xb1 there).
    assert.deepEqual(c23.libcStrtol('0b101', 0), { value: 0n, end: 1, erange: false });
    assert.deepEqual(c23.strtol('0b101', 16), c23.libcStrtol('0b101', 16));
    assert.deepEqual(c23.strtol('0b101', 10), { value: 0n, end: 1, erange: false });
  });

  test('sscanf agrees with libc on the integer conversions', () => {
    const cases: [string, string][] = [
      ['12 34', '%ld %ld'], ['0x1f 017 -5', '%li %li %li'], ['ff 10', '%lx %lo'], ['GET 200', 'GET %ld'], ['abc', '%ld'], ['7,8,9', '%ld,%ld,%ld'], ['', '%ld'],
    ];
    for (const [s, fmt] of cases) assert.deepEqual(c23.sscanf(s, fmt), c23.libcSscanf(s, fmt), `sscanf(${JSON.stringify(s)}, ${JSON.stringify(fmt)})`);
    assert.deepEqual(c23.sscanf('12 34', '%ld %ld').slice(0, 3), [2, 12n, 34n]);
  });

  test('the addon exports the __isoc23_* names exactly where glibc lacks them', () => {
    assert.equal(c23.exported, oldGlibc);
  });
});

function runNode(code: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, ...env }, cwd: os.tmpdir() });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const loader = JSON.stringify(path.join(ROOT, 'dist', 'src', 'proxy', 'uws.js'));

describe('which uWS build runs', () => {
  test('v20.57 runs here: stock on glibc >= 2.38, the patched copy below it', () => {
    const r = runNode(`const u = require(${loader}); console.log(JSON.stringify(u.uwsBuild)); console.log(typeof u.uws.App().close)`);
    assert.equal(r.status, 0, r.stderr);
    const [line, close] = r.stdout.trim().split('\n');
    const build = JSON.parse(line) as { version: string; variant: string; warning: string | null };
    assert.equal(build.version, '20.57.0');
    assert.equal(build.variant, oldGlibc ? 'patched' : 'stock');
    assert.equal(build.warning, null);
    assert.equal(close, 'function');
  });

  test('the unpatched binary fails the load check that install runs, naming the missing version', { skip: !oldGlibc && 'glibc >= 2.38 loads it as shipped' }, () => {
    const dir = path.dirname(require.resolve('uWebSockets.js'));
    const stock = path.join(dir, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
    const addon = path.join(ROOT, 'native', 'build', 'Release', 'floodgate_native.node');
    const r = spawnSync(process.execPath, [path.join(compat, 'verify.js'), addon, stock], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /GLIBC_2\.38/);
  });

  test('without the addon the patched copy cannot load: v20.30 runs, and the warning says why and what is lost', { skip: !oldGlibc && 'glibc >= 2.38 needs no addon' }, () => {
    const r = runNode(`const u = require(${loader}); console.log(JSON.stringify(u.uwsBuild)); console.log(typeof u.uws.App)`, { FLOODGATE_DISABLE_NATIVE: '1' });
    assert.equal(r.status, 0, r.stderr);
    const [line, app] = r.stdout.trim().split('\n');
    const build = JSON.parse(line) as { version: string; variant: string; warning: string; hasAppClose: boolean };
    assert.equal(build.variant, 'legacy');
    assert.equal(build.version, '20.30.0');
    assert.equal(build.hasAppClose, false);
    assert.match(build.warning, /native addon .* not loaded/);
    assert.match(build.warning, /HTTP\/1\.0/);
    assert.match(build.warning, /App\.close\(\)/);
    assert.equal(app, 'function');
  });

  test('FLOODGATE_UWS=legacy forces the fallback, and `floodgate version` names the build', () => {
    const cli = path.join(ROOT, 'dist', 'src', 'cli.js');
    const legacy = spawnSync(process.execPath, [cli, 'version'], { encoding: 'utf8', env: { ...process.env, FLOODGATE_UWS: 'legacy' } });
    assert.match(legacy.stdout, /uWebSockets\.js 20\.30\.0 \(FALLBACK: FLOODGATE_UWS=legacy\)/);
    const current = spawnSync(process.execPath, [cli, 'version'], { encoding: 'utf8' });
    assert.match(current.stdout, oldGlibc ? /uWebSockets\.js 20\.57\.0 \(patched copy for this glibc/ : /uWebSockets\.js 20\.57\.0 \(stock binary\)/);
  });
});
