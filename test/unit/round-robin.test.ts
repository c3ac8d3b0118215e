/**
 * Load-balancing algorithms, driven directly: weighted round-robin, least connections, latency
 * (EWMA + power of two choices), health and drain eligibility, and the retry exclusion mask.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BalancedTarget } from '../../src/balancer/balancer';
import { LatencyBalancer, ewmaUpdate, EWMA_ALPHA } from '../../src/balancer/latency';
import { LeastConnectionsBalancer } from '../../src/balancer/least-connections';
import { RoundRobinBalancer } from '../../src/balancer/round-robin';
import { HealthState, SharedBalancerState, T } from '../../src/balancer/shared-state';

interface Named extends BalancedTarget {
  readonly name: string;
}

function targets(weights: Record<string, number>): Named[] {
  return Object.entries(weights).map(([name, weight], index) => ({ name, weight, index, slot: index }));
}

function counts(pick: () => Named | null, n: number): Record<string, number> {
  const c: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const p = pick();
    const key = p === null ? 'null' : p.name;
    c[key] = (c[key] ?? 0) + 1;
  }
  return c;
}

function setState(shared: SharedBalancerState, slot: number, state: HealthState): void {
  shared.targets[slot * T.Stride + T.State] = state;
}

test('round-robin: each window of sum(weights) picks gives every target exactly its weight', () => {
  const rr = new RoundRobinBalancer(targets({ a: 5, b: 1, c: 1 }), new SharedBalancerState());
  for (let w = 0; w < 10; w++) assert.deepEqual(counts(() => rr.pick(null, 0), 7), { a: 5, b: 1, c: 1 });
});

test("round-robin: picks are spread, not bunched (NGINX's smooth sequence for 5:1:1)", () => {
  const rr = new RoundRobinBalancer(targets({ a: 5, b: 1, c: 1 }), new SharedBalancerState());
  assert.equal(Array.from({ length: 7 }, () => rr.pick(null, 0)!.name).join(''), 'aabacaa');
});

test('round-robin: a 90/10 canary split over 10,000 picks', () => {
  const rr = new RoundRobinBalancer(targets({ stable: 90, canary: 10 }), new SharedBalancerState());
  assert.deepEqual(counts(() => rr.pick(null, 0), 10_000), { stable: 9000, canary: 1000 });
});

test('weight 0 drains a target; all drained gives null', () => {
  const rr = new RoundRobinBalancer(targets({ a: 0, b: 3 }), new SharedBalancerState());
  assert.deepEqual(counts(() => rr.pick(null, 0), 6), { b: 6 });
  assert.equal(new RoundRobinBalancer(targets({ a: 0, b: 0 }), new SharedBalancerState()).pick(null, 0), null);
});

test('an unhealthy or dns_error target gets nothing; none healthy gives null', () => {
  const shared = new SharedBalancerState();
  const rr = new RoundRobinBalancer(targets({ a: 1, b: 1, c: 1 }), shared);
  setState(shared, 1, HealthState.Unhealthy);
  setState(shared, 2, HealthState.DnsError);
  assert.deepEqual(counts(() => rr.pick(null, 0), 9), { a: 9 });
  setState(shared, 0, HealthState.Unhealthy);
  assert.equal(rr.pick(null, 0), null);
  setState(shared, 1, HealthState.Healthy);
  assert.deepEqual(counts(() => rr.pick(null, 0), 3), { b: 3 });
});

test('a retry skips targets already tried, unless no other is left', () => {
  const shared = new SharedBalancerState();
  const rr = new RoundRobinBalancer(targets({ a: 1, b: 1, c: 1 }), shared);
  for (let i = 0; i < 20; i++) assert.notEqual(rr.pick(null, 0b001)!.name, 'a');
  assert.deepEqual(counts(() => rr.pick(null, 0b011), 5), { c: 5 });
  // Every target tried: any healthy one again rather than none.
  assert.notEqual(rr.pick(null, 0b111), null);
  setState(shared, 2, HealthState.Unhealthy);
  const got = counts(() => rr.pick(null, 0b011), 40);
  assert.deepEqual(Object.keys(got).sort(), ['a', 'b'], 'all eligible ones tried: the healthy ones share the retry');
});

test('healthchecks.threshold: below that share of healthy weight the upstream is down', () => {
  const shared = new SharedBalancerState();
  const rr = new RoundRobinBalancer(targets({ a: 1, b: 1, c: 1, d: 1 }), shared, 60);
  assert.notEqual(rr.pick(null, 0), null);
  setState(shared, 0, HealthState.Unhealthy);
  assert.notEqual(rr.pick(null, 0), null, '75% healthy >= 60%');
  setState(shared, 1, HealthState.Unhealthy);
  assert.equal(rr.pick(null, 0), null, '50% healthy < 60%');
});

test('least-connections: the target with the fewest node-wide in-flight requests wins', () => {
  const shared = new SharedBalancerState();
  const lc = new LeastConnectionsBalancer(targets({ a: 1, b: 1, c: 1 }), shared);
  shared.targets[0 * T.Stride + T.InFlight] = 5;
  shared.targets[1 * T.Stride + T.InFlight] = 1;
  shared.targets[2 * T.Stride + T.InFlight] = 3;
  assert.deepEqual(counts(() => lc.pick(null, 0), 10), { b: 10 });
  shared.targets[1 * T.Stride + T.InFlight] = 4;
  assert.deepEqual(counts(() => lc.pick(null, 0), 10), { c: 10 });
});

test('least-connections: ties rotate, and weight scales the count', () => {
  const shared = new SharedBalancerState();
  const lc = new LeastConnectionsBalancer(targets({ a: 1, b: 1, c: 1 }), shared);
  assert.deepEqual(counts(() => lc.pick(null, 0), 9), { a: 3, b: 3, c: 3 });
  const weighted = new LeastConnectionsBalancer(targets({ big: 4, small: 1 }), shared);
  shared.targets[0 * T.Stride + T.InFlight] = 3; // (3+1)/4 = 1 per weight
  shared.targets[1 * T.Stride + T.InFlight] = 1; // (1+1)/1 = 2 per weight
  assert.deepEqual(counts(() => weighted.pick(null, 0), 4), { big: 4 });
});

test('latency: the EWMA moves toward each sample by alpha', () => {
  assert.equal(ewmaUpdate(0, 40), 40, 'the first sample is taken as is');
  assert.equal(ewmaUpdate(40, 140), 40 + EWMA_ALPHA * 100);
  let v = 100;
  for (let i = 0; i < 50; i++) v = ewmaUpdate(v, 10);
  assert.ok(Math.abs(v - 10) < 0.01, 'converges to a steady latency');
});

test('latency: of two random choices the one with the lower EWMA x load wins', () => {
  const shared = new SharedBalancerState();
  // A fixed "random" sequence: first choice index 0 (fast), second 0 -> remapped to the last (slow).
  let seq = [0, 0];
  let i = 0;
  const lb = new LatencyBalancer(targets({ fast: 1, slow: 1 }), shared, 0, 50, () => seq[i++ % seq.length]);
  const [fast, slow] = lb.targets;
  for (let k = 0; k < 5; k++) {
    lb.observe(fast, 5);
    lb.observe(slow, 200);
  }
  assert.equal(lb.pick(null, 0)!.name, 'fast');
  seq = [0.9, 0];
  assert.equal(lb.pick(null, 0)!.name, 'fast', 'whichever order the two choices come in');
  // Load counts too: 50 requests in flight on the fast one make it the costlier choice.
  shared.targets[0 * T.Stride + T.InFlight] = 50;
  assert.equal(lb.pick(null, 0)!.name, 'slow');
});

test('latency: with real randomness a slow target gets a small share', () => {
  const lb = new LatencyBalancer(targets({ a: 1, b: 1, c: 1 }), new SharedBalancerState());
  const [a, b, c] = lb.targets;
  for (let k = 0; k < 10; k++) {
    lb.observe(a, 5);
    lb.observe(b, 5);
    lb.observe(c, 500);
  }
  const got = counts(() => lb.pick(null, 0), 3000);
  // P2C: the slow one wins only when both choices are it, which they never are (choices differ).
  assert.equal(got.c ?? 0, 0);
  assert.ok(got.a > 1000 && got.b > 1000);
});
