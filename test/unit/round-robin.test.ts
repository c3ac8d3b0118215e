import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmoothWeightedRoundRobin } from '../../src/balancer/round-robin';

function counts<T extends string>(rr: SmoothWeightedRoundRobin<T>, n: number): Record<string, number> {
  const c: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const p = rr.pick();
    c[String(p)] = (c[String(p)] ?? 0) + 1;
  }
  return c;
}

test('each window of sum(weights) picks gives every item exactly its weight', () => {
  const rr = new SmoothWeightedRoundRobin(['a', 'b', 'c'], [5, 1, 1]);
  for (let w = 0; w < 10; w++) assert.deepEqual(counts(rr, 7), { a: 5, b: 1, c: 1 });
});

test('picks are spread, not bunched (NGINX\'s smooth sequence for 5:1:1)', () => {
  const rr = new SmoothWeightedRoundRobin(['a', 'b', 'c'], [5, 1, 1]);
  const seq = Array.from({ length: 7 }, () => rr.pick()).join('');
  assert.equal(seq, 'aabacaa');
});

test('90/10 canary split over 10,000 picks', () => {
  const rr = new SmoothWeightedRoundRobin(['stable', 'canary'], [90, 10]);
  assert.deepEqual(counts(rr, 10_000), { stable: 9000, canary: 1000 });
});

test('weight 0 drains a target; all-zero gives null', () => {
  const rr = new SmoothWeightedRoundRobin(['a', 'b'], [0, 3]);
  assert.deepEqual(counts(rr, 9), { b: 9 });
  assert.equal(new SmoothWeightedRoundRobin(['a', 'b'], [0, 0]).pick(), null);
  assert.equal(new SmoothWeightedRoundRobin(['a'], [0]).pick(), null);
  assert.equal(new SmoothWeightedRoundRobin(['a'], [7]).pick(), 'a');
});
