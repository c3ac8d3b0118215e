/**
 * The workers' pinned young generation (src/cluster/worker-heap.ts): real worker threads that
 * allocate like a proxy under load (a steady stream of short-lived objects, some alive at every
 * scavenge) must keep one new-space size from the first sample to the last. With V8's defaults
 * the same load grows it (the control), which is the RSS staircase the 2026-12-03 soak measured.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { DEFAULT_SEMI_SPACE_MB, workerResourceLimits, workerSemiSpaceMb } from '../../src/cluster/worker-heap';

const MiB = 1024 * 1024;

/**
 * Runs in the worker: allocate for `ms`, report new_space's committed size every round, from
 * 200 ms in (V8 commits the second semi-space at the first scavenge: that is not growth).
 */
const CHURN = `
const { parentPort, workerData } = require('node:worker_threads');
const v8 = require('node:v8');
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const sizes = [];
const alive = [];
const from = Date.now() + 200;
const until = from + workerData.ms;
function round() {
  for (let i = 0; i < 20000; i++) {
    alive.push({ id: i, name: 'request-' + i, headers: [i, i + 1] });
    if (alive.length > 4000) alive.shift();
  }
  if (Date.now() >= from) sizes.push(newSpace());
  if (Date.now() < until) setImmediate(round);
  else parentPort.postMessage(sizes);
}
round();
`;

function churn(resourceLimits: ResourceLimits | undefined, ms: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(CHURN, { eval: true, workerData: { ms }, resourceLimits });
    w.once('message', (sizes: number[]) => {
      resolve(sizes);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('worker young generation', () => {
  test('FLOODGATE_WORKER_SEMI_SPACE_MB: default, 0 for V8 defaults, a bad value names the variable', () => {
    assert.equal(workerSemiSpaceMb({}), DEFAULT_SEMI_SPACE_MB);
    assert.equal(workerSemiSpaceMb({ FLOODGATE_WORKER_SEMI_SPACE_MB: '0' }), 0);
    assert.equal(workerSemiSpaceMb({ FLOODGATE_WORKER_SEMI_SPACE_MB: '4' }), 4);
    assert.throws(() => workerSemiSpaceMb({ FLOODGATE_WORKER_SEMI_SPACE_MB: '8MB' }), /FLOODGATE_WORKER_SEMI_SPACE_MB must be an integer from 0 to 64/);
    assert.throws(() => workerSemiSpaceMb({ FLOODGATE_WORKER_SEMI_SPACE_MB: '65' }), /got "65"/);
    assert.equal(workerResourceLimits(0), undefined);
  });

  test("V8's defaults: the same load grows a worker's new space past the pinned size (the control)", async () => {
    const sizes = await churn(undefined, 1500);
    const largest = Math.max(...sizes);
    assert.ok(largest > 2 * DEFAULT_SEMI_SPACE_MB * MiB, `new space reached ${largest / MiB} MiB`);
  });

  test('pinned: one new-space size (two semi-spaces) from start to end, never above the cap', async () => {
    const limits = workerResourceLimits(DEFAULT_SEMI_SPACE_MB);
    assert.deepEqual(limits, { maxYoungGenerationSizeMb: 3 * DEFAULT_SEMI_SPACE_MB });
    const sizes = await churn(limits, 1500);
    assert.ok(sizes.length > 10, `${sizes.length} samples`);
    const distinct = [...new Set(sizes)].map((s) => s / MiB);
    assert.deepEqual(distinct, [2 * DEFAULT_SEMI_SPACE_MB], `new space sizes seen (MiB): ${distinct.join(', ')}`);
  });
});
