/**
 * NODE_FLAGS (src/cluster/node-flags.ts): node started with them runs its worker threads' garbage
 * collection on the workers' own threads. V8's own GC trace of a worker isolate that makes
 * garbage shows no background scavenge/mark/sweep/evacuate time with the flags, and some without
 * them (the control: the measure can see V8's helper threads when they work). Each case runs in a
 * fresh node process, as the flags are the process's command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { NODE_FLAGS, gcThreads } from '../../src/cluster/node-flags';

/** Runs in a worker thread: garbage, some of it alive at each collection, for ~600 ms. */
const CHURN = `
const { parentPort } = require('node:worker_threads');
const alive = [];
const until = Date.now() + 600;
function round() {
  for (let i = 0; i < 20000; i++) {
    alive.push({ id: i, name: 'request-' + i, headers: [i, i + 1] });
    if (alive.length > 200000) alive.length = 0;
  }
  if (Date.now() < until) setImmediate(round);
  else parentPort.postMessage('done');
}
round();
`;

const MAIN = `
const { Worker } = require('node:worker_threads');
new Worker(${JSON.stringify(CHURN)}, { eval: true }).once('message', function () { this.terminate(); });
`;

/**
 * The worker isolate's collections (the isolate that collected most: the main one barely
 * allocates) and the background GC milliseconds V8's --trace-gc-nvp reports for them.
 */
function workerGc(flags: readonly string[]): { collections: number; backgroundMs: number } {
  const out = execFileSync(process.execPath, [...flags, '--trace-gc-nvp', '-e', MAIN], { encoding: 'utf8', timeout: 20_000 });
  const byIsolate = new Map<string, { collections: number; backgroundMs: number }>();
  for (const line of out.split('\n')) {
    const isolate = /^\[\d+:(0x[0-9a-f]+)\]/.exec(line);
    if (isolate === null || !line.includes(' gc=')) continue;
    let entry = byIsolate.get(isolate[1]);
    if (entry === undefined) byIsolate.set(isolate[1], (entry = { collections: 0, backgroundMs: 0 }));
    entry.collections++;
    for (const m of line.matchAll(/ background\.(?:scavenge|mark|sweep|evacuate)[a-z_.]*=([0-9.]+)/g)) entry.backgroundMs += Number(m[1]);
  }
  return [...byIsolate.values()].sort((a, b) => b.collections - a.collections)[0] ?? { collections: 0, backgroundMs: 0 };
}

test('with NODE_FLAGS a worker thread collects on its own thread: no background GC time', () => {
  const gc = workerGc(NODE_FLAGS);
  assert.ok(gc.collections > 10, `${gc.collections} collections traced`);
  assert.equal(gc.backgroundMs, 0);
});

test("without them (V8's defaults) background threads take part in the same worker's collections (the control)", { skip: availableParallelism() < 2 ? 'V8 starts no GC helpers on one core' : false }, () => {
  const gc = workerGc([]);
  assert.ok(gc.collections > 10, `${gc.collections} collections traced`);
  assert.ok(gc.backgroundMs > 0, 'V8 used background GC threads');
});

test('gcThreads reports what the command line asked for', () => {
  assert.equal(gcThreads(NODE_FLAGS), 'single');
  assert.equal(gcThreads(['--max-old-space-size=512']), 'parallel');
});

test("the CLI's shebang carries NODE_FLAGS (the npm `floodgate` bin runs with them)", () => {
  const shebang = readFileSync(require.resolve('../../src/cli'), 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
});

test('the systemd unit and `make run` start the gateway with NODE_FLAGS (they cannot import the list)', () => {
  const root = path.resolve(__dirname, '../../..');
  const start = `node ${NODE_FLAGS.join(' ')} `;
  const execStart = readFileSync(path.join(root, 'deploy/floodgate.service'), 'utf8').split('\n').find((l) => l.startsWith('ExecStart='));
  assert.ok(execStart?.startsWith(`ExecStart=/usr/bin/${start}/opt/floodgate/dist/src/cli.js start`), execStart);
  const makefile = readFileSync(path.join(root, 'Makefile'), 'utf8');
  const run = makefile.slice(makefile.indexOf('\nrun:'), makefile.indexOf('\n\n', makefile.indexOf('\nrun:')));
  assert.match(run, new RegExp(`\\$\\(NODE\\) ${NODE_FLAGS.join(' ')} dist/src/cli\\.js start`));
});
