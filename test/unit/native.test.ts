import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import {
  cpuForWorker,
  currentThreadId,
  formatCpuList,
  getThreadAffinity,
  MAX_CPU_INDEX,
  parseCpuAffinity,
  parseCpuList,
  parseProcStatusCpus,
  setThreadAffinity,
  type CpuAffinitySetting,
  type SetAffinityResult,
  type ThreadAffinity,
} from '../../src/util/cpu-affinity';

import {
  getNofileLimit,
  parseLimitValue,
  parseProcLimits,
  raiseNofileLimit,
  type NofileLimitResult,
} from '../../src/util/file-limits';
import {
  NATIVE_BUILD_COMMAND,
  nativeAffinityAvailable,
  nativeAvailable,
  nativeFallbackWarning,
  nativeGetNofileLimit,
  nativeGetThreadAffinity,
  nativeLoadError,
  nativeRaiseNofileLimit,
  nativeSetThreadAffinity,
  nativeVersion,
} from '../../src/util/native';

const NOT_BUILT =
  `native addon not available: ${nativeLoadError?.message ?? 'unknown reason'} ` +
  `(these tests need native/build/Release/floodgate_native.node; build it from the repo root with ` +
  `\`${NATIVE_BUILD_COMMAND}\`)`;

function requireNative(): void {
  assert.ok(nativeAvailable, NOT_BUILT);
}

/** The affinity tests need an addon of 1.1.0 or later; an older build must be rebuilt, not skipped. */
function requireNativeAffinity(): void {
  requireNative();
  assert.ok(
    nativeAffinityAvailable,
    `native addon ${nativeVersion} has no thread-affinity functions; rebuild it with \`${NATIVE_BUILD_COMMAND}\``,
  );
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
  requireNativeAffinity();
  assert.equal(nativeFallbackWarning(), null);
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

// ---------------------------------------------------------------------------------------------
// --cpu-affinity parsing and the worker -> CPU mapping (pure, no addon needed)
// ---------------------------------------------------------------------------------------------

test('parseCpuAffinity: off, auto and CPU lists', () => {
  assert.deepEqual(parseCpuAffinity(undefined), { mode: 'off' }, 'default is off');
  assert.deepEqual(parseCpuAffinity('off'), { mode: 'off' });
  assert.deepEqual(parseCpuAffinity('auto'), { mode: 'auto' });
  assert.deepEqual(parseCpuAffinity(' auto '), { mode: 'auto' });
  assert.deepEqual(parseCpuAffinity('0'), { mode: 'list', cpus: [0] });
  assert.deepEqual(parseCpuAffinity('0,1'), { mode: 'list', cpus: [0, 1] });
  assert.deepEqual(parseCpuAffinity('0-1'), { mode: 'list', cpus: [0, 1] });
  assert.deepEqual(parseCpuAffinity('0-3'), { mode: 'list', cpus: [0, 1, 2, 3] });
  assert.deepEqual(parseCpuAffinity('0-1,4,6-7'), { mode: 'list', cpus: [0, 1, 4, 6, 7] });
  assert.deepEqual(parseCpuAffinity('3,1'), { mode: 'list', cpus: [3, 1] }, 'order is kept: worker 1 gets CPU 3');
  assert.deepEqual(parseCpuAffinity(' 2 , 3 '), { mode: 'list', cpus: [2, 3] });
  assert.deepEqual(parseCpuAffinity('5-5'), { mode: 'list', cpus: [5] });
  assert.deepEqual(parseCpuAffinity(String(MAX_CPU_INDEX)), { mode: 'list', cpus: [MAX_CPU_INDEX] });
});

test('parseCpuAffinity rejects bad values with a message naming the flag', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty CPU list/],
    ['   ', /empty CPU list/],
    ['on', /invalid CPU list item "on"/],
    ['OFF', /invalid CPU list item/],
    ['Auto', /invalid CPU list item/],
    ['auto,0', /invalid CPU list item "auto"/],
    ['-1', /invalid CPU list item "-1"/],
    ['1.5', /invalid CPU list item/],
    ['0,,1', /invalid CPU list item ""/],
    ['0,', /invalid CPU list item ""/],
    ['0-', /invalid CPU list item "0-"/],
    ['0-1-2', /invalid CPU list item/],
    ['0x1', /invalid CPU list item/],
    ['3-1', /descending CPU range "3-1"/],
    ['0-3,2', /CPU 2 listed twice/],
    ['1,1', /CPU 1 listed twice/],
    [String(MAX_CPU_INDEX + 1), /exceeds 65535/],
    ['0-99999999', /exceeds 65535/],
  ];
  for (const [value, why] of bad) {
    assert.throws(
      () => parseCpuAffinity(value),
      (err: Error) => {
        assert.match(err.message, /^invalid --cpu-affinity /, value);
        assert.match(err.message, why, value);
        assert.match(err.message, /expected off, auto, or a CPU list/, value);
        return true;
      },
      `--cpu-affinity ${JSON.stringify(value)} must be rejected`,
    );
  }
});

test('parseCpuList reads the kernel format; formatCpuList writes it', () => {
  assert.deepEqual(parseCpuList('0-1'), [0, 1]);
  assert.deepEqual(parseCpuList('0-2,8,10-11\n'), [0, 1, 2, 8, 10, 11]);
  assert.equal(formatCpuList([0, 1, 2, 8, 10, 11]), '0-2,8,10-11');
  assert.equal(formatCpuList([3]), '3');
  assert.equal(formatCpuList([3, 1]), '3,1');
  assert.equal(formatCpuList([]), '');
});

test('parseProcStatusCpus extracts Cpus_allowed_list', () => {
  const status = 'Name:\tnode\nCpus_allowed:\tf3\nCpus_allowed_list:\t0-1,4-7\nMems_allowed_list:\t0\n';
  assert.deepEqual(parseProcStatusCpus(status), [0, 1, 4, 5, 6, 7]);
  assert.throws(() => parseProcStatusCpus('Name:\tnode\n'), /no Cpus_allowed_list/);
});

test('cpuForWorker: auto -> allowed[(i-1) mod n], list -> list[(i-1) mod len], off -> null', () => {
  const auto: CpuAffinitySetting = { mode: 'auto' };
  assert.deepEqual([1, 2, 3, 4, 5].map((i) => cpuForWorker(auto, i, [0, 1])), [0, 1, 0, 1, 0]);
  assert.deepEqual([1, 2, 3, 4].map((i) => cpuForWorker(auto, i, [0, 1, 2, 3])), [0, 1, 2, 3]);
  // Under taskset/cpusets only the allowed CPUs are used.
  assert.deepEqual([1, 2, 3].map((i) => cpuForWorker(auto, i, [2, 5])), [2, 5, 2]);
  assert.equal(cpuForWorker(auto, 1, null), null, 'auto without a readable CPU list picks nothing');
  assert.equal(cpuForWorker(auto, 1, []), null);

  const list = parseCpuAffinity('3,1');
  assert.deepEqual([1, 2, 3, 4].map((i) => cpuForWorker(list, i, [0, 1, 2, 3])), [3, 1, 3, 1]);
  assert.deepEqual([1, 2, 3].map((i) => cpuForWorker(parseCpuAffinity('0-1'), i, null)), [0, 1, 0], 'lists ignore allowed');
  assert.deepEqual([1, 2].map((i) => cpuForWorker(parseCpuAffinity('7'), i, [0])), [7, 7]);

  assert.equal(cpuForWorker({ mode: 'off' }, 1, [0, 1]), null);
  assert.throws(() => cpuForWorker(auto, 0, [0]), RangeError, 'worker ids start at 1');
  assert.throws(() => cpuForWorker(auto, 1.5, [0]), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Thread affinity through the addon
// ---------------------------------------------------------------------------------------------

/** The calling thread's Cpus_allowed_list, from /proc/thread-self (the kernel's own view). */
function procThreadCpus(): number[] {
  return parseProcStatusCpus(readFileSync('/proc/thread-self/status', 'utf8'));
}

/** The thread-group leader's (= Node's main thread's) Cpus_allowed_list. */
function procMainThreadCpus(): number[] {
  return parseProcStatusCpus(readFileSync('/proc/self/status', 'utf8'));
}

test('parity: native getThreadAffinity equals /proc for the current thread', () => {
  requireNativeAffinity();
  const fromProc = procThreadCpus();
  assert.ok(fromProc.length >= 1);
  assert.deepEqual(nativeGetThreadAffinity(), fromProc);
  assert.deepEqual(getThreadAffinity(), { cpus: fromProc, source: 'native', reason: null } satisfies ThreadAffinity);
  // The tests run on Node's main thread, whose tid is the pid.
  assert.equal(currentThreadId(), process.pid);
});

test('native setThreadAffinity validates its argument', () => {
  requireNativeAffinity();
  const before = nativeGetThreadAffinity();
  // Not an array (an array-like object is not accepted either), or an element that is not a number.
  for (const v of [undefined, null, 0, '0', { length: 1, 0: 0 }, ['0'], [null], [0, '1']]) {
    assert.throws(
      () => nativeSetThreadAffinity(v as unknown as number[]),
      { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' },
      JSON.stringify(v),
    );
  }
  for (const v of [[], [-1], [1.5], [Number.NaN], [Infinity], [MAX_CPU_INDEX + 1]]) {
    assert.throws(() => nativeSetThreadAffinity(v), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }, JSON.stringify(v));
  }
  // The JS wrapper rejects the same lists (in both the native and fallback paths).
  assert.throws(() => setThreadAffinity([]), RangeError);
  assert.throws(() => setThreadAffinity([-1]), RangeError);
  assert.throws(() => setThreadAffinity(['0'] as unknown as number[]), TypeError);
  assert.deepEqual(nativeGetThreadAffinity(), before, 'rejected calls change nothing');
});

const CPU_AFFINITY_JS = path.resolve(__dirname, '../../src/util/cpu-affinity.js');

interface WorkerReport {
  tid: number | null;
  before: number[];
  result: SetAffinityResult;
  procAfter: number[];
  nativeAfter: number[] | null;
  pin?: unknown;
}

/**
 * Runs `body` (JS source using `ca` = cpu-affinity.js, `fs`, `procCpus()`) in a worker_thread. The
 * worker posts its report and then stays alive until told to exit, so the test can look at the
 * worker's thread from the outside (/proc/self/task/<tid>) while it still exists.
 */
function inWorker<T>(body: string, check: (report: T) => void, env?: NodeJS.ProcessEnv): Promise<T> {
  const code = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const ca = require(${JSON.stringify(CPU_AFFINITY_JS)});
const procCpus = () => ca.parseProcStatusCpus(fs.readFileSync('/proc/thread-self/status', 'utf8'));
parentPort.once('message', () => process.exit(0));
const report = (() => { ${body} })();
parentPort.postMessage(report);
`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, env: env ?? process.env });
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error('worker timed out'));
    }, 15_000);
    let report: T | undefined;
    w.once('message', (m: T) => {
      report = m;
      try {
        check(m);
      } catch (err) {
        clearTimeout(timer);
        void w.terminate();
        reject(err as Error);
        return;
      }
      w.postMessage('exit');
    });
    w.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    w.once('exit', (code) => {
      clearTimeout(timer);
      if (report === undefined) reject(new Error(`worker exited ${code} without a report`));
      else resolve(report);
    });
  });
}

test('pinning inside a worker_thread pins that worker only; the main thread is unchanged', async (t) => {
  requireNativeAffinity();
  const mainBefore = nativeGetThreadAffinity();
  const leaderBefore = procMainThreadCpus();
  // "CPU 0" unless a cpuset excludes it: pin to the first CPU this process may use.
  const target = mainBefore[0]!;
  if (mainBefore.length === 1) t.diagnostic(`only CPU ${target} is available; the pin cannot narrow the mask`);

  let seenFromOutside: number[] | null = null;
  const r = await inWorker<WorkerReport>(
    `
const before = procCpus();
const result = ca.setThreadAffinity([${target}]);
return { tid: ca.currentThreadId(), before, result, procAfter: procCpus(), nativeAfter: ca.getThreadAffinity().cpus };
`,
    (rep) => {
      // While the worker is alive, its task entry seen from the main thread shows the pin too.
      seenFromOutside = parseProcStatusCpus(readFileSync(`/proc/self/task/${rep.tid}/status`, 'utf8'));
    },
  );
  assert.notEqual(r.tid, null);
  assert.notEqual(r.tid, process.pid, 'the worker is its own OS thread');
  assert.deepEqual(r.before, mainBefore, 'a new thread inherits the creating thread mask');
  assert.deepEqual(r.result, { pinned: true, supported: true, cpus: [target], source: 'native', reason: null });
  assert.deepEqual(r.procAfter, [target], 'the kernel reports the worker pinned (Cpus_allowed_list)');
  assert.deepEqual(r.nativeAfter, [target]);
  assert.deepEqual(seenFromOutside, [target]);

  assert.deepEqual(nativeGetThreadAffinity(), mainBefore, 'main thread affinity unchanged');
  assert.deepEqual(procThreadCpus(), mainBefore);
  assert.deepEqual(procMainThreadCpus(), leaderBefore);
});

test('pinWorkerThread in a worker: auto picks allowed[(id-1) mod n], pins, logs one line', async () => {
  requireNativeAffinity();
  const allowed = nativeGetThreadAffinity();
  const workerId = 2;
  const expected = allowed[(workerId - 1) % allowed.length]!;
  const r = await inWorker<{ pin: { pinned: boolean; cpu: number; cpus: number[] }; logs: unknown[][]; procAfter: number[] }>(
    `
const logs = [];
const logger = { info: (o, m) => logs.push(['info', o, m]), warn: (o, m) => logs.push(['warn', o, m]) };
const pin = ca.pinWorkerThread({ mode: 'auto' }, ${workerId}, logger);
return { pin, logs, procAfter: procCpus() };
`,
    () => {},
  );
  assert.equal(r.pin.pinned, true);
  assert.equal(r.pin.cpu, expected);
  assert.deepEqual(r.pin.cpus, [expected]);
  assert.deepEqual(r.procAfter, [expected]);
  assert.deepEqual(r.logs, [['info', { cpuAffinity: 'auto', cpu: expected, cpus: String(expected) }, `pinned to CPU ${expected}`]]);
  assert.deepEqual(nativeGetThreadAffinity(), allowed, 'main thread affinity unchanged');
});

test('pinning to a CPU this thread cannot use reports "not pinned" and changes nothing', async () => {
  requireNativeAffinity();
  const r = await inWorker<{ result: SetAffinityResult; before: number[]; procAfter: number[]; pin: { pinned: boolean }; logs: unknown[][] }>(
    `
const before = procCpus();
const result = ca.setThreadAffinity([${MAX_CPU_INDEX}]);
const logs = [];
const logger = { info: (o, m) => logs.push(['info', o, m]), warn: (o, m) => logs.push(['warn', o, m]) };
const pin = ca.pinWorkerThread({ mode: 'list', cpus: [${MAX_CPU_INDEX}] }, 1, logger);
return { result, before, procAfter: procCpus(), pin, logs };
`,
    () => {},
  );
  assert.equal(r.result.pinned, false);
  assert.equal(r.result.supported, true);
  assert.deepEqual(r.result.cpus, r.before);
  assert.match(r.result.reason ?? '', new RegExp(`CPU ${MAX_CPU_INDEX} is not available to this thread`));
  assert.deepEqual(r.procAfter, r.before);
  assert.equal(r.pin.pinned, false);
  assert.equal(r.logs.length, 1);
  assert.equal(r.logs[0]![0], 'warn');
  assert.match(String(r.logs[0]![2]), /^not pinned: CPU 65535 is not available/);
});

// ---------------------------------------------------------------------------------------------
// Child processes: the JS fallback, and libuv's thread pool
// ---------------------------------------------------------------------------------------------

function runNodeScript(script: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child timed out'));
    }, 15_000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`child exited ${code}: ${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`bad child output: ${stdout} ${stderr}`));
      }
    });
  });
}

const AFFINITY_FALLBACK_CHILD = `
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');
const ca = require(${JSON.stringify(CPU_AFFINITY_JS)});
const native = require(${JSON.stringify(NATIVE_JS)});
const procCpus = () => ca.parseProcStatusCpus(fs.readFileSync('/proc/thread-self/status', 'utf8'));
const out = {
  nativeAvailable: native.nativeAvailable,
  warning: native.nativeFallbackWarning(),
  proc: procCpus(),
  get: ca.getThreadAffinity(),
  set: ca.setThreadAffinity([0]),
  procAfter: procCpus(),
};
// Same inside a worker_thread: the fallback must find the worker's own thread id.
const w = new Worker(\`
  const ca = require(\${JSON.stringify(${JSON.stringify(CPU_AFFINITY_JS)})});
  const fs = require('node:fs');
  const logs = [];
  const logger = { info: (o, m) => logs.push(['info', m]), warn: (o, m) => logs.push(['warn', m]) };
  require('node:worker_threads').parentPort.postMessage({
    tid: ca.currentThreadId(),
    get: ca.getThreadAffinity(),
    pin: ca.pinWorkerThread({ mode: 'auto' }, 1, logger),
    logs,
  });
\`, { eval: true });
w.once('message', (m) => {
  out.worker = m;
  process.stdout.write(JSON.stringify(out) + '\\n');
  process.exit(0);
});
`;

test('JS fallback (addon disabled): reads affinity from /proc, reports pinning unsupported, never throws', async () => {
  const r = (await runNodeScript(AFFINITY_FALLBACK_CHILD, { ...process.env, FLOODGATE_DISABLE_NATIVE: '1' })) as {
    nativeAvailable: boolean;
    warning: string | null;
    proc: number[];
    get: ThreadAffinity;
    set: SetAffinityResult;
    procAfter: number[];
    worker: { tid: number | null; get: ThreadAffinity; pin: SetAffinityResult & { cpu: number | null }; logs: string[][] };
  };
  assert.equal(r.nativeAvailable, false);
  assert.match(r.warning ?? '', /^native addon not loaded; using JS fallbacks: .*no CPU pinning/);
  assert.deepEqual(r.get, { cpus: r.proc, source: 'proc', reason: null });
  assert.equal(r.set.pinned, false);
  assert.equal(r.set.supported, false);
  assert.deepEqual(r.set.cpus, r.proc, 'reports the current CPUs');
  assert.equal(r.set.source, 'proc');
  assert.match(r.set.reason ?? '', /needs the native addon.*FLOODGATE_DISABLE_NATIVE=1/);
  assert.deepEqual(r.procAfter, r.proc, 'nothing was changed');

  assert.ok(r.worker.tid !== null && r.worker.tid > 0);
  assert.equal(r.worker.get.source, 'proc');
  assert.deepEqual(r.worker.get.cpus, r.proc);
  assert.equal(r.worker.pin.pinned, false);
  assert.equal(r.worker.pin.supported, false);
  assert.deepEqual(r.worker.logs.length, 1);
  assert.equal(r.worker.logs[0]![0], 'warn');
  assert.match(r.worker.logs[0]![1]!, /^not pinned: thread CPU pinning needs the native addon/);
});

/**
 * Counts how many of the child's threads end up restricted to exactly one CPU after a pinned worker
 * makes the process's first async fs call. `prime` calls startThreadPoolUnpinned() first.
 */
function threadPoolChild(prime: boolean): string {
  return `
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');
const ca = require(${JSON.stringify(CPU_AFFINITY_JS)});
const cpus = (tid) => ca.parseProcStatusCpus(fs.readFileSync('/proc/self/task/' + tid + '/status', 'utf8'));
${prime ? 'ca.startThreadPoolUnpinned();' : ''}
const w = new Worker(\`
  const ca = require(\${JSON.stringify(${JSON.stringify(CPU_AFFINITY_JS)})});
  const { parentPort } = require('node:worker_threads');
  const r = ca.setThreadAffinity([ca.getThreadAffinity().cpus[0]]);
  require('node:fs').stat('/', () => parentPort.postMessage({ r, tid: ca.currentThreadId() }));
  parentPort.once('message', () => process.exit(0));
\`, { eval: true });
w.once('message', (m) => {
  const tasks = fs.readdirSync('/proc/self/task').map((tid) => ({ tid: Number(tid), cpus: cpus(tid) }));
  const main = cpus(process.pid);
  const narrowed = tasks.filter((t) => t.cpus.length < main.length).map((t) => t.tid);
  process.stdout.write(JSON.stringify({ pinned: m.r.pinned, workerTid: m.tid, main, threads: tasks.length, narrowed }) + '\\n');
  w.postMessage('exit');
});
`;
}

test('startThreadPoolUnpinned keeps libuv pool threads off a pinned worker CPU', async (t) => {
  requireNativeAffinity();
  const env = { ...process.env };
  delete env.FLOODGATE_DISABLE_NATIVE;
  delete env.UV_THREADPOOL_SIZE;
  const primed = (await runNodeScript(threadPoolChild(true), env)) as {
    pinned: boolean;
    workerTid: number;
    main: number[];
    threads: number;
    narrowed: number[];
  };
  assert.equal(primed.pinned, true);
  if (primed.main.length < 2) {
    t.skip(`only ${primed.main.length} CPU available; a pin cannot be told apart from no pin`);
    return;
  }
  assert.deepEqual(primed.narrowed, [primed.workerTid], 'only the worker itself is pinned');

  // Why the priming exists: without it, the pool is created by the pinned worker and inherits its
  // mask. Reported, not asserted, since it depends on libuv creating its pool lazily.
  const unprimed = (await runNodeScript(threadPoolChild(false), env)) as typeof primed;
  t.diagnostic(`without priming, ${unprimed.narrowed.length} thread(s) ended up pinned (worker + pool threads)`);
});
