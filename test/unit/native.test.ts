import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import {
  getNofileLimit,
  parseLimitValue,
  parseProcLimits,
  raiseNofileLimit,
  type NofileLimitResult,
} from '../../src/util/file-limits';
import {
  NATIVE_BUILD_COMMAND,
  nativeAvailable,
  nativeGetNofileLimit,
  nativeLoadError,
  nativeRaiseNofileLimit,
  nativeVersion,
} from '../../src/util/native';

const NOT_BUILT =
  `native addon not available: ${nativeLoadError?.message ?? 'unknown reason'} ` +
  `(these tests need native/build/Release/floodgate_native.node; build it from the repo root with ` +
  `\`${NATIVE_BUILD_COMMAND}\`)`;

function requireNative(): void {
  assert.ok(nativeAvailable, NOT_BUILT);
}

function procLimits(): { soft: number; hard: number } {
  return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// /proc/self/limits parser (pure, no addon needed)
// ---------------------------------------------------------------------------------------------

const SAMPLE_PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             63304                63304                processes 
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       63304                63304                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`;

test('parseProcLimits reads the "Max open files" line', () => {
  assert.deepEqual(parseProcLimits(SAMPLE_PROC_LIMITS), { soft: 1024, hard: 524288 });
});

test('parseProcLimits maps "unlimited" to Infinity', () => {
  const both = SAMPLE_PROC_LIMITS.replace(
    /^Max open files .*$/m,
    'Max open files            unlimited            unlimited            files     ',
  );
  assert.deepEqual(parseProcLimits(both), { soft: Infinity, hard: Infinity });
  const hardOnly = SAMPLE_PROC_LIMITS.replace(
    /^Max open files .*$/m,
    'Max open files            1048576              unlimited            files     ',
  );
  assert.deepEqual(parseProcLimits(hardOnly), { soft: 1048576, hard: Infinity });
});

test('parseProcLimits does not confuse other lines and rejects bad input', () => {
  // Only unrelated "unlimited" lines, no "Max open files" line.
  const without = SAMPLE_PROC_LIMITS.replace(/^Max open files .*\n/m, '');
  assert.throws(() => parseProcLimits(without), /Max open files/);
  assert.throws(() => parseProcLimits(''), /Max open files/);
  assert.throws(
    () => parseProcLimits('Max open files            lots                 1024                 files\n'),
    /invalid limit value/,
  );
  assert.throws(() => parseProcLimits('Max open files            -1                   1024                 files\n'));
});

test('parseLimitValue', () => {
  assert.equal(parseLimitValue('0'), 0);
  assert.equal(parseLimitValue('1048576'), 1048576);
  assert.equal(parseLimitValue('unlimited'), Infinity);
  assert.throws(() => parseLimitValue(''), /invalid limit value/);
  assert.throws(() => parseLimitValue('1e6'), /invalid limit value/);
  assert.throws(() => parseLimitValue('Unlimited'), /invalid limit value/);
});

test('parseProcLimits on this machine gives sane values', () => {
  const { soft, hard } = procLimits();
  assert.ok(soft > 0, `soft=${soft}`);
  assert.ok(soft <= hard, `soft=${soft} hard=${hard}`);
});

// ---------------------------------------------------------------------------------------------
// Native addon (must be built; the Makefile builds it before running tests)
// ---------------------------------------------------------------------------------------------

test('native addon is built and loads', () => {
  requireNative();
  assert.match(nativeVersion ?? '', /^\d+\.\d+\.\d+$/);
});

test('parity: native getNofileLimit equals /proc/self/limits', () => {
  requireNative();
  assert.deepEqual(nativeGetNofileLimit(), procLimits());
  const viaWrapper = getNofileLimit();
  assert.equal(viaWrapper.source, 'native');
  assert.deepEqual(
    { soft: viaWrapper.soft, hard: viaWrapper.hard, raised: viaWrapper.raised, reason: viaWrapper.reason },
    { ...procLimits(), raised: false, reason: null },
  );
});

test('raise is idempotent, never lowers, keeps soft <= hard, never changes hard', () => {
  requireNative();
  const before = nativeGetNofileLimit();

  const first = raiseNofileLimit();
  assert.equal(first.source, 'native');
  assert.ok(first.soft >= before.soft, 'never lowers');
  assert.ok(first.soft <= first.hard, 'soft <= hard');
  assert.equal(first.hard, before.hard, 'hard untouched');
  assert.equal(first.soft, first.hard, 'default target is the hard limit');

  const second = raiseNofileLimit();
  assert.equal(second.raised, false, 'second raise is a no-op');
  assert.equal(second.soft, first.soft);
  assert.match(second.reason ?? '', /already at or above the hard limit/);

  for (const lower of [0, 1, Math.floor(first.soft / 2)]) {
    const r = raiseNofileLimit(lower);
    assert.equal(r.raised, false, `raise(${lower}) must not lower`);
    assert.equal(r.soft, first.soft, `raise(${lower}) must not lower`);
    assert.match(r.reason ?? '', /already at or above the target/);
  }
  for (const above of [first.hard + 1, Infinity]) {
    const r = raiseNofileLimit(above);
    assert.equal(r.raised, false);
    assert.equal(r.soft, first.hard);
    assert.equal(r.hard, first.hard);
  }

  // Raw addon calls agree.
  assert.deepEqual(nativeRaiseNofileLimit(), { soft: first.soft, hard: first.hard });
  assert.deepEqual(nativeRaiseNofileLimit(1), { soft: first.soft, hard: first.hard });
  assert.deepEqual(nativeGetNofileLimit(), procLimits());
});

test('invalid targets are rejected', () => {
  assert.throws(() => raiseNofileLimit(-1), RangeError);
  assert.throws(() => raiseNofileLimit(Number.NaN), RangeError);
  assert.throws(() => raiseNofileLimit('4096' as unknown as number), TypeError);
  requireNative();
  assert.throws(() => nativeRaiseNofileLimit('4096' as unknown as number), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
  });
  assert.throws(() => nativeRaiseNofileLimit(-1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => nativeRaiseNofileLimit(Number.NaN), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
});

// ---------------------------------------------------------------------------------------------
// Child processes. Node raises the soft limit to the hard limit itself at startup, so a lowered
// soft limit can only be observed by lowering it (prlimit --pid) after the child has started.
// ---------------------------------------------------------------------------------------------

const FILE_LIMITS_JS = path.resolve(__dirname, '../../src/util/file-limits.js');
const NATIVE_JS = path.resolve(__dirname, '../../src/util/native.js');

const CHILD_SCRIPT = `
const fs = require('node:fs');
const fl = require(${JSON.stringify(FILE_LIMITS_JS)});
const native = require(${JSON.stringify(NATIVE_JS)});
process.stdout.write('READY\\n');
process.stdin.once('data', () => {
  const steps = JSON.parse(process.env.FLOODGATE_TEST_STEPS);
  const out = { nativeAvailable: native.nativeAvailable, start: fl.getNofileLimit(), steps: [] };
  for (const t of steps) out.steps.push(fl.raiseNofileLimit(t === null ? undefined : t));
  out.end = fl.getNofileLimit();
  out.proc = fl.parseProcLimits(fs.readFileSync('/proc/self/limits', 'utf8'));
  process.stdout.write(JSON.stringify(out) + '\\n');
  process.exit(0);
});
`;

interface ChildResult {
  nativeAvailable: boolean;
  start: NofileLimitResult;
  steps: NofileLimitResult[];
  end: NofileLimitResult;
  proc: { soft: number; hard: number };
}

/** Runs the raise `steps` (null = no target) in a fresh node, optionally after lowering its soft limit. */
function runChild(opts: {
  disableNative: boolean;
  steps: Array<number | null>;
  lower?: { soft: number; hard: number };
}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, FLOODGATE_TEST_STEPS: JSON.stringify(opts.steps) };
    if (opts.disableNative) env.FLOODGATE_DISABLE_NATIVE = '1';
    else delete env.FLOODGATE_DISABLE_NATIVE;
    const child = spawn(process.execPath, ['-e', CHILD_SCRIPT], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child timed out'));
    }, 15_000);
    let stdout = '';
    let stderr = '';
    let started = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!started && stdout.includes('READY\n')) {
        started = true;
        if (opts.lower) {
          const r = spawnSync('prlimit', [
            '--pid',
            String(child.pid),
            `--nofile=${opts.lower.soft}:${opts.lower.hard}`,
          ]);
          if (r.status !== 0) {
            child.kill('SIGKILL');
            reject(new Error(`prlimit failed: ${r.error?.message ?? r.stderr.toString()}`));
            return;
          }
        }
        child.stdin.write('go\n');
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`child exited ${code}: ${stderr}`));
        return;
      }
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as ChildResult);
      } catch {
        reject(new Error(`bad child output: ${stdout} ${stderr}`));
      }
    });
  });
}

const havePrlimit = spawnSync('prlimit', ['--version']).status === 0;

test('JS fallback (addon disabled): reads /proc, reports raised:false with a reason', async () => {
  const r = await runChild({ disableNative: true, steps: [null, 1] });
  assert.equal(r.nativeAvailable, false);
  assert.deepEqual(r.start, { ...r.proc, raised: false, source: 'proc', reason: null });
  for (const step of r.steps) {
    assert.equal(step.source, 'proc');
    assert.equal(step.raised, false);
    assert.equal(typeof step.reason, 'string');
    assert.equal(step.soft, r.proc.soft);
    assert.equal(step.hard, r.proc.hard);
  }
});

test(
  'native raise from a lowered soft limit: raises to target, then hard; never lowers; idempotent',
  { skip: havePrlimit ? false : 'prlimit(1) (util-linux) is not installed' },
  async (t) => {
    requireNative();
    const { hard } = procLimits();
    if (!Number.isFinite(hard) || hard < 64) {
      t.skip(`hard limit ${hard} is not a usable finite value for this test`);
      return;
    }
    const low = Math.floor(hard / 4);
    const mid = Math.floor(hard / 2);
    const r = await runChild({
      disableNative: false,
      lower: { soft: low, hard },
      steps: [low - 10, mid, mid, 1, null, null, hard * 2],
    });
    assert.equal(r.nativeAvailable, true);
    assert.deepEqual(r.start, { soft: low, hard, raised: false, source: 'native', reason: null });
    const [below, toMid, midAgain, one, toHard, hardAgain, aboveHard] = r.steps;
    assert.deepEqual({ soft: below!.soft, raised: below!.raised }, { soft: low, raised: false }, 'never lowers');
    assert.deepEqual({ soft: toMid!.soft, raised: toMid!.raised, reason: toMid!.reason }, { soft: mid, raised: true, reason: null });
    assert.deepEqual({ soft: midAgain!.soft, raised: midAgain!.raised }, { soft: mid, raised: false }, 'idempotent');
    assert.deepEqual({ soft: one!.soft, raised: one!.raised }, { soft: mid, raised: false }, 'never lowers');
    assert.deepEqual({ soft: toHard!.soft, raised: toHard!.raised, reason: toHard!.reason }, { soft: hard, raised: true, reason: null });
    assert.deepEqual({ soft: hardAgain!.soft, raised: hardAgain!.raised }, { soft: hard, raised: false }, 'idempotent');
    assert.deepEqual({ soft: aboveHard!.soft, raised: aboveHard!.raised }, { soft: hard, raised: false }, 'capped at hard');
    for (const s of r.steps) {
      assert.ok(s.soft <= s.hard, 'soft <= hard');
      assert.equal(s.hard, hard, 'hard untouched');
      assert.equal(s.source, 'native');
    }
    assert.deepEqual({ soft: r.end.soft, hard: r.end.hard }, r.proc, 'native/proc parity after raising');
    assert.deepEqual(r.proc, { soft: hard, hard });
  },
);

test(
  'native raise straight past the hard limit is capped and says so',
  { skip: havePrlimit ? false : 'prlimit(1) (util-linux) is not installed' },
  async (t) => {
    requireNative();
    const { hard } = procLimits();
    if (!Number.isFinite(hard) || hard < 64) {
      t.skip(`hard limit ${hard} is not a usable finite value for this test`);
      return;
    }
    const r = await runChild({ disableNative: false, lower: { soft: Math.floor(hard / 4), hard }, steps: [hard + 1] });
    assert.equal(r.steps[0]!.raised, true);
    assert.equal(r.steps[0]!.soft, hard);
    assert.match(r.steps[0]!.reason ?? '', /exceeds the hard limit/);
  },
);

test(
  'JS fallback with a lowered soft limit cannot raise and explains why',
  { skip: havePrlimit ? false : 'prlimit(1) (util-linux) is not installed' },
  async (t) => {
    const { hard } = procLimits();
    if (!Number.isFinite(hard) || hard < 64) {
      t.skip(`hard limit ${hard} is not a usable finite value for this test`);
      return;
    }
    const low = Math.floor(hard / 4);
    const r = await runChild({ disableNative: true, lower: { soft: low, hard }, steps: [null, 1] });
    assert.deepEqual(r.start, { soft: low, hard, raised: false, source: 'proc', reason: null });
    const [toHard, one] = r.steps;
    assert.equal(toHard!.raised, false);
    assert.equal(toHard!.soft, low);
    assert.match(toHard!.reason ?? '', /cannot raise soft limit .* without the native addon/);
    assert.equal(one!.raised, false);
    assert.match(one!.reason ?? '', /already at or above the target/);
  },
);
