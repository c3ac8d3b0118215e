/**
 * The health state machine (fake clock), the passive ejection guard, the retry budget, backoff
 * bounds, the circuit breaker, slot stability across reloads, and the upstream config fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/balancer/backoff';
import { CircuitBreaker } from '../../src/balancer/circuit-breaker';
import { CheckThresholds, describeReason, expireEjection, Outcome, recordOutcome } from '../../src/balancer/health-state';
import { RetryBudget } from '../../src/balancer/retry-budget';
import { RoundRobinBalancer } from '../../src/balancer/round-robin';
import { HealthState, SharedBalancerState, SlotTable } from '../../src/balancer/shared-state';
import { loadConfigText } from '../../src/config/load';
import { load, yaml } from '../helpers/config-text';

function upstreamConfig(extra: string) {
  return load(
    yaml(`
      _format_version: "3.0"
      upstreams:
        - name: up
    `) + extra,
  ).upstreams[0];
}

const checks = upstreamConfig(`
    healthchecks:
      active:
        healthy: { interval: 1, successes: 2 }
        unhealthy: { interval: 1, tcp_failures: 3, timeouts: 2, http_failures: 2 }
      passive:
        unhealthy: { http_failures: 5, tcp_failures: 2 }
`).healthchecks;

test("Kong's healthchecks defaults are applied, and Floodgate's extra blocks have theirs", () => {
  const u = upstreamConfig('');
  assert.equal(u.algorithm, 'round-robin');
  assert.equal(u.healthchecks.active.http_path, '/');
  assert.deepEqual(u.healthchecks.active.healthy.http_statuses, [200, 302]);
  assert.equal(u.healthchecks.active.unhealthy.tcp_failures, 0);
  assert.deepEqual(u.healthchecks.passive.unhealthy.http_statuses, [429, 500, 503]);
  assert.deepEqual(u.outlierDetection, { ejectionTime: 30, maxEjectionPercent: 50 });
  assert.equal(u.circuitBreakers.maxRequests, 1024);
  assert.equal(u.retryBudget.budgetPercent, 20);
});

test('a bad resilience field is reported with its field and line', () => {
  const text = yaml(`
    _format_version: "3.0"
    upstreams:
      - name: up
        circuit_breakers:
          max_requests: 0
        healthchecks:
          active:
            unhealthy:
              tcp_failures: 300
  `);
  const result = loadConfigText(text, 'gw.yaml');
  assert.equal(result.ok, false);
  if (result.ok) return;
  const byField = new Map(result.errors.map((e) => [e.field, e]));
  assert.equal(byField.get('circuit_breakers.max_requests')?.line, 5);
  assert.equal(byField.get('healthchecks.active.unhealthy.tcp_failures')?.line, 9);
});

test('grpc health checks and a backoff cap below its base are rejected at their lines', () => {
  const text = yaml(`
    _format_version: "3.0"
    upstreams:
      - name: up
        retry_budget:
          backoff_base_ms: 100
          backoff_max_ms: 10
        healthchecks:
          active:
            type: grpc
  `);
  const result = loadConfigText(text, 'gw.yaml');
  assert.equal(result.ok, false);
  if (result.ok) return;
  const byField = new Map(result.errors.map((e) => [e.field, e]));
  assert.equal(byField.get('retry_budget.backoff_max_ms')?.line, 6);
  assert.match(byField.get('retry_budget.backoff_max_ms')!.message, /at least backoff_base_ms/);
  assert.equal(byField.get('healthchecks.active.type')?.line, 9);
});

test('active: 3 consecutive tcp failures make a target unhealthy; 2 successes bring it back', () => {
  const shared = new SharedBalancerState();
  const th = CheckThresholds.active(checks);
  assert.equal(recordOutcome(shared, 0, Outcome.TcpFailure, 0, th, false, 1000, null), false);
  assert.equal(recordOutcome(shared, 0, Outcome.TcpFailure, 0, th, false, 1000, null), false);
  assert.equal(shared.state(0), HealthState.Healthy);
  assert.equal(recordOutcome(shared, 0, Outcome.TcpFailure, 0, th, false, 1000, null), true);
  assert.equal(shared.state(0), HealthState.Unhealthy);
  assert.equal(describeReason(shared, 0), 'active: 3 consecutive tcp failures');
  assert.equal(recordOutcome(shared, 0, Outcome.Success, 200, th, false, 1001, null), false);
  assert.equal(recordOutcome(shared, 0, Outcome.Success, 200, th, false, 1002, null), true);
  assert.equal(shared.state(0), HealthState.Healthy);
  assert.equal(describeReason(shared, 0), 'active: 2 consecutive successes');
});

test('a success in between resets the failure count (failures must be consecutive)', () => {
  const shared = new SharedBalancerState();
  const th = CheckThresholds.active(checks);
  for (let i = 0; i < 10; i++) {
    recordOutcome(shared, 0, Outcome.Timeout, 0, th, false, 1, null);
    recordOutcome(shared, 0, Outcome.Success, 200, th, false, 1, null);
  }
  assert.equal(shared.state(0), HealthState.Healthy);
});

test('statuses are classified by the configured lists; other statuses count for nothing', () => {
  const th = CheckThresholds.passive(checks);
  assert.equal(th.classifyStatus(500), Outcome.HttpFailure);
  assert.equal(th.classifyStatus(200), Outcome.Success);
  assert.equal(th.classifyStatus(404), -1);
  const shared = new SharedBalancerState();
  for (let i = 0; i < 5; i++) recordOutcome(shared, 2, Outcome.HttpFailure, 500, th, true, 50, null);
  assert.equal(shared.state(2), HealthState.Unhealthy);
  assert.equal(describeReason(shared, 2), 'passive: 5 consecutive http 500');
});

test('passive ejection ends after ejection_time (fake clock); never before', () => {
  const shared = new SharedBalancerState();
  const th = CheckThresholds.passive(checks);
  recordOutcome(shared, 1, Outcome.TcpFailure, 0, th, true, 1000, null);
  recordOutcome(shared, 1, Outcome.TcpFailure, 0, th, true, 1000, null);
  assert.equal(shared.state(1), HealthState.Unhealthy);
  assert.equal(expireEjection(shared, 1, 30, 1029), false);
  assert.equal(shared.state(1), HealthState.Unhealthy);
  assert.equal(expireEjection(shared, 1, 0, 5000), false, 'ejection_time 0: only active checks bring it back');
  assert.equal(expireEjection(shared, 1, 30, 1030), true);
  assert.equal(shared.state(1), HealthState.Healthy);
});

test('max_ejection_percent: one of three may be ejected, never the last healthy target', () => {
  const shared = new SharedBalancerState();
  const th = CheckThresholds.passive(checks);
  const ts = [0, 1, 2].map((i) => ({ index: i, slot: i, weight: 1 }));
  const guard = new RoundRobinBalancer(ts, shared, 0, 50);
  const fail = (slot: number) => {
    recordOutcome(shared, slot, Outcome.TcpFailure, 0, th, true, 1, guard);
    recordOutcome(shared, slot, Outcome.TcpFailure, 0, th, true, 1, guard);
  };
  fail(0);
  assert.equal(shared.state(0), HealthState.Unhealthy);
  fail(1);
  assert.equal(shared.state(1), HealthState.Healthy, '50% of 3 allows one ejection');
  const all = new RoundRobinBalancer(ts, shared, 0, 100);
  recordOutcome(shared, 1, Outcome.TcpFailure, 0, th, true, 1, all);
  recordOutcome(shared, 1, Outcome.TcpFailure, 0, th, true, 1, all);
  assert.equal(shared.state(1), HealthState.Unhealthy);
  recordOutcome(shared, 2, Outcome.TcpFailure, 0, th, true, 1, all);
  recordOutcome(shared, 2, Outcome.TcpFailure, 0, th, true, 1, all);
  assert.equal(shared.state(2), HealthState.Healthy, 'the last healthy target stays in, even at 100%');
});

test('retry budget: retries stay within budget_percent of requests plus min_retries', () => {
  const shared = new SharedBalancerState();
  const budget = new RetryBudget(shared, 0, { budgetPercent: 20, minRetries: 3, window: 10 });
  let now = 5000;
  let allowed = 0;
  for (let i = 0; i < 100; i++) {
    budget.recordRequest(now);
    if (budget.tryRetry(now)) allowed++;
  }
  // 3 free retries, then one per 5 requests.
  assert.ok(allowed >= 20 && allowed <= 23, `allowed ${allowed}`);
  // The window slides: 10 s later the old requests and retries no longer count.
  now += 10;
  assert.equal(budget.tryRetry(now), true);
  assert.equal(budget.tryRetry(now), true);
  assert.equal(budget.tryRetry(now), true);
  assert.equal(budget.tryRetry(now), false, 'no requests in the new window: only min_retries');
});

test('retry budget is shared: two workers draw from one budget', () => {
  const shared = new SharedBalancerState();
  const w1 = new RetryBudget(shared, 3, { budgetPercent: 0, minRetries: 4, window: 5 });
  const w2 = new RetryBudget(new SharedBalancerState(shared.buffer), 3, { budgetPercent: 0, minRetries: 4, window: 5 });
  let allowed = 0;
  for (let i = 0; i < 10; i++) if ((i % 2 === 0 ? w1 : w2).tryRetry(100)) allowed++;
  assert.equal(allowed, 4);
});

test('backoff: full jitter within [0, min(max, base * 2^(n-1)))', () => {
  assert.equal(backoffDelay(1, 25, 250, () => 0), 0);
  assert.equal(backoffDelay(1, 25, 250, () => 0.999), 24);
  assert.equal(backoffDelay(3, 25, 250, () => 0.999), 99);
  assert.equal(backoffDelay(10, 25, 250, () => 0.999), 249, 'capped at max');
  for (let n = 1; n < 12; n++) {
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(n, 25, 250);
      assert.ok(d >= 0 && d < Math.min(250, 25 * 2 ** (n - 1)));
    }
  }
});

test('circuit breaker: max_requests, then max_connections + max_pending_requests, and max_retries', () => {
  const shared = new SharedBalancerState();
  const u = upstreamConfig(`
    circuit_breakers: { max_requests: 3, max_connections: 10, max_pending_requests: 0, max_retries: 1 }
  `);
  const cb = new CircuitBreaker(shared, 0, u);
  assert.equal(cb.acquire(), null);
  assert.equal(cb.acquire(), null);
  assert.equal(cb.acquire(), null);
  const over = cb.acquire();
  assert.equal(over?.status, 503);
  assert.match(over!.message, /circuit breaker open: upstream 'up' has 3 requests in flight \(max_requests\)/);
  assert.equal(cb.active, 3, 'a refused request holds nothing');
  cb.release();
  assert.equal(cb.acquire(), null);
  assert.equal(cb.acquireRetry(), true);
  assert.equal(cb.acquireRetry(), false);
  cb.releaseRetry();
  assert.equal(cb.acquireRetry(), true);
  const pending = new CircuitBreaker(shared, 1, upstreamConfig('    circuit_breakers: { max_connections: 1, max_pending_requests: 1 }\n'));
  assert.equal(pending.acquire(), null);
  assert.equal(pending.acquire(), null);
  assert.match(pending.acquire()!.message, /max_pending_requests/);
});

test('slots survive a reload for unchanged keys; a removed key frees its slot', () => {
  const reset: number[] = [];
  const table = new SlotTable(3, (s) => reset.push(s));
  const first = table.assign(['a', 'b']);
  const second = table.assign(['b', 'c']);
  assert.equal(second.get('b'), first.get('b'));
  assert.notEqual(second.get('c'), first.get('a'), 'fresh slots are used before freed ones');
  const third = table.assign(['b', 'c', 'd']);
  assert.equal(third.get('d'), first.get('a'), 'then freed ones are reused');
  assert.deepEqual(reset, [0, 1, 2, 0]);
  assert.equal(table.assign(['b', 'c', 'd', 'e']).get('e'), -1, 'full: untracked');
});
