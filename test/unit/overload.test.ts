/**
 * Overload protection building blocks, without sockets: the concurrency gate (limit + bounded
 * FIFO wait), the lag smoother, the concurrency-limit plugin built from YAML, and the
 * connection tracker driven as uWS's connection filter would drive it. Fake clocks, no sleeps.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyGate, type GateWaiter } from '../../src/proxy/concurrency-gate';
import { LagMonitor } from '../../src/proxy/lag-monitor';
import { ConnectionCounter } from '../../src/proxy/connection-limit';
import { CONNECTION_REFUSAL } from '../../src/proxy/admission';
import { BodyRateGuard } from '../../src/proxy/body-rate';
import { Verdict } from '../../src/plugins/api';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';
import type { HttpResponse } from '../../src/proxy/uws';
import type { RequestContext } from '../../src/proxy/request-context';

let clock = 0;
const now = () => clock;

beforeEach(() => {
  clock = 0;
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
});
afterEach(() => mock.timers.reset());

function advance(ms: number): void {
  clock += ms;
  mock.timers.tick(ms);
}

class Recorder implements GateWaiter {
  outcome: 'admitted' | 'expired' | null = null;
  constructor(readonly name: string, readonly log: string[]) {}
  admitted(): void {
    assert.equal(this.outcome, null, 'told twice');
    this.outcome = 'admitted';
    this.log.push(`${this.name}:admitted`);
  }
  expired(): void {
    assert.equal(this.outcome, null, 'told twice');
    this.outcome = 'expired';
    this.log.push(`${this.name}:expired`);
  }
}

test('gate: admits up to the limit, queues up to max_queue, refuses the rest', () => {
  const gate = new ConcurrencyGate(2, 1, 1000, now);
  assert.equal(gate.tryEnter(), true);
  assert.equal(gate.tryEnter(), true);
  assert.equal(gate.tryEnter(), false);
  const log: string[] = [];
  assert.equal(gate.wait(new Recorder('a', log)), true);
  assert.equal(gate.wait(new Recorder('b', log)), false, 'queue of 1 is full');
  assert.deepEqual(gate.stats(), { active: 2, queued: 1, admittedAfterWait: 0, refusedFull: 1, expired: 0 });
});

test('gate: a freed slot goes to the oldest waiter, and newcomers do not overtake the queue', () => {
  const gate = new ConcurrencyGate(1, 5, 1000, now);
  assert.equal(gate.tryEnter(), true);
  const log: string[] = [];
  const a = new Recorder('a', log);
  const b = new Recorder('b', log);
  gate.wait(a);
  gate.wait(b);
  gate.leave();
  assert.deepEqual(log, ['a:admitted']);
  assert.equal(gate.active, 1);
  gate.leave();
  assert.deepEqual(log, ['a:admitted', 'b:admitted']);
  gate.leave();
  assert.equal(gate.active, 0);
  assert.equal(gate.tryEnter(), true, 'empty queue: enter at once');
});

test('gate: waiters expire in order after queue_timeout and are told once', () => {
  const gate = new ConcurrencyGate(1, 5, 100, now);
  gate.tryEnter();
  const log: string[] = [];
  const a = new Recorder('a', log);
  gate.wait(a);
  advance(40);
  const b = new Recorder('b', log);
  gate.wait(b);
  advance(61);
  assert.deepEqual(log, ['a:expired']);
  advance(40);
  assert.deepEqual(log, ['a:expired', 'b:expired']);
  assert.equal(gate.queued, 0);
  assert.equal(gate.expired, 2);
  gate.leave();
  assert.equal(gate.active, 0, 'an expired waiter holds nothing');
});

test('gate: a cancelled waiter is skipped and never told', () => {
  const gate = new ConcurrencyGate(1, 5, 100, now);
  gate.tryEnter();
  const log: string[] = [];
  const a = new Recorder('a', log);
  const b = new Recorder('b', log);
  gate.wait(a);
  gate.wait(b);
  assert.equal(gate.cancel(a), true);
  assert.equal(gate.queued, 1);
  gate.leave();
  assert.deepEqual(log, ['b:admitted']);
  advance(500);
  assert.deepEqual(log, ['b:admitted'], 'the cancelled one never expires either');
});

test('gate: raising the limit on reload admits waiters at once; max_queue 0 refuses at once', () => {
  const gate = new ConcurrencyGate(1, 5, 1000, now);
  gate.tryEnter();
  const log: string[] = [];
  gate.wait(new Recorder('a', log));
  gate.wait(new Recorder('b', log));
  gate.configure(3, 5, 1000);
  assert.deepEqual(log, ['a:admitted', 'b:admitted']);
  const strict = new ConcurrencyGate(1, 0, 1000, now);
  strict.tryEnter();
  assert.equal(strict.wait(new Recorder('c', log)), false);
});

test('gate: a waiter whose admission finishes a request re-entrantly keeps counts right', () => {
  const gate = new ConcurrencyGate(1, 5, 1000, now);
  gate.tryEnter();
  const order: string[] = [];
  // Like a request answered locally the moment it gets its slot: it gives the slot back inside admitted().
  const quick: GateWaiter = { admitted: () => (order.push('quick'), gate.leave()), expired: () => order.push('quick:expired') };
  const log: string[] = [];
  const next = new Recorder('next', log);
  gate.wait(quick);
  gate.wait(next);
  gate.leave();
  assert.deepEqual(order, ['quick']);
  assert.deepEqual(log, ['next:admitted']);
  assert.equal(gate.active, 1);
  assert.equal(gate.queued, 0);
});

test('lag monitor: jumps up at once, decays geometrically to zero', () => {
  const lag = new LagMonitor();
  lag.observe(0);
  assert.equal(lag.lagMs, 0);
  lag.observe(300);
  assert.equal(lag.lagMs, 300, 'a stall is seen on the very next tick');
  lag.observe(0);
  assert.ok(lag.lagMs < 300 && lag.lagMs > 100, `decays, got ${lag.lagMs}`);
  for (let i = 0; i < 30; i++) lag.observe(0);
  assert.equal(lag.lagMs, 0);
  assert.equal(lag.takeMax(), 300);
  assert.equal(lag.takeMax(), 0);
});

const limitYaml = (id: string, config: string) => `_format_version: "3.0"
plugins:
  - name: concurrency-limit
    id: ${id}
    config: ${config}
`;

test('concurrency-limit: slots, a bounded wait, then a 503 with Retry-After and a JSON reason', async () => {
  const { instance } = pluginFromYaml(limitYaml('0b6f1c52-7d0a-4c55-9f0e-3a1c2b4d5e01', '{ max_concurrent: 1, max_queue: 1, queue_timeout: 200, retry_after: 2 }'), 'concurrency-limit');
  const first = new FakeContext();
  assert.equal(instance.onRequest!(first), Verdict.Continue);
  const second = new FakeContext();
  const waiting = instance.onRequest!(second);
  assert.ok(waiting instanceof Promise, 'the second waits');
  const third = new FakeContext();
  assert.equal(instance.onRequest!(third), Verdict.Stop, 'the queue holds one');
  assert.equal(third.reply?.status, 503);
  assert.deepEqual(third.reply?.headers, ['retry-after', '2']);
  assert.equal(JSON.parse(third.reply!.body).reason, 'route_concurrency');
  // The first ends (onLog runs once per request, however it ends): the second gets its slot.
  instance.onLog!(first);
  assert.equal(await waiting, Verdict.Continue);
  assert.equal(second.reply, null);
  instance.onLog!(second);
  assert.equal(instance.onRequest!(new FakeContext()), Verdict.Continue, 'all slots back');
});

test('concurrency-limit: the wait times out with a 503 naming the reason', async () => {
  // The plugin's gate runs on the real clock: real timers here, with a 5 ms timeout.
  mock.timers.reset();
  const { instance } = pluginFromYaml(limitYaml('0b6f1c52-7d0a-4c55-9f0e-3a1c2b4d5e02', '{ max_concurrent: 1, max_queue: 4, queue_timeout: 5 }'), 'concurrency-limit');
  const holder = new FakeContext();
  instance.onRequest!(holder);
  const waiter = new FakeContext();
  const verdict = instance.onRequest!(waiter) as Promise<Verdict>;
  // The gate's timer is unref'd (it must not keep a draining worker alive): hold the loop open.
  const keepAlive = setInterval(() => {}, 1000);
  const outcome = await verdict;
  clearInterval(keepAlive);
  assert.equal(outcome, Verdict.Stop);
  assert.equal(waiter.reply?.status, 503);
  assert.equal(JSON.parse(waiter.reply!.body).reason, 'route_queue_timeout');
  instance.onLog!(waiter); // a refused request's log phase gives nothing back
  instance.onLog!(holder);
  assert.equal(instance.onRequest!(new FakeContext()), Verdict.Continue);
});

test('concurrency-limit: a client that leaves while waiting frees its place in the queue', () => {
  const { instance } = pluginFromYaml(limitYaml('0b6f1c52-7d0a-4c55-9f0e-3a1c2b4d5e03', '{ max_concurrent: 1, max_queue: 1, queue_timeout: 1000 }'), 'concurrency-limit');
  const holder = new FakeContext();
  instance.onRequest!(holder);
  const gone = new FakeContext();
  assert.ok(instance.onRequest!(gone) instanceof Promise);
  instance.onLog!(gone); // aborted: the log phase runs for it
  assert.ok(instance.onRequest!(new FakeContext()) instanceof Promise, 'its queue place is free again');
});

test('concurrency-limit: config is checked by its schema', () => {
  assert.throws(() => pluginFromYaml(limitYaml('0b6f1c52-7d0a-4c55-9f0e-3a1c2b4d5e04', '{ max_queue: 3 }'), 'concurrency-limit'), /max_concurrent/);
  assert.throws(() => pluginFromYaml(limitYaml('0b6f1c52-7d0a-4c55-9f0e-3a1c2b4d5e05', '{ max_concurrent: 0 }'), 'concurrency-limit'), /max_concurrent/);
});

/** An HttpResponse as uWS's connection filter hands it over: address, port, close. */
/** A connection as uWS's filter hands it over: records what is written to it. */
class FakeSocketRes {
  status = '';
  readonly headers: [string, string][] = [];
  body: string | null = null;
  closeAfter = false;
  cork(fn: () => void): this {
    fn();
    return this;
  }
  writeStatus(s: string): this {
    this.status = s;
    return this;
  }
  writeHeader(k: string, v: string): this {
    this.headers.push([k, v]);
    return this;
  }
  end(body: string, close: boolean): this {
    this.body = body;
    this.closeAfter = close;
    return this;
  }
}
const asRes = (r: FakeSocketRes) => r as unknown as HttpResponse;

test('connection filter: counts opens and closes; the connection that opens past the limit gets the 503 and is closed', () => {
  const conns = new ConnectionCounter(2, CONNECTION_REFUSAL);
  const [a, b, c] = [new FakeSocketRes(), new FakeSocketRes(), new FakeSocketRes()];
  conns.onFilter(asRes(a), 1);
  conns.onFilter(asRes(b), 1);
  assert.equal(conns.open, 2);
  assert.equal(a.body ?? b.body, null, 'connections within the limit are left alone');
  conns.onFilter(asRes(c), 1);
  assert.equal(c.status, '503 Service Unavailable');
  assert.deepEqual(c.headers, [['retry-after', '1'], ['content-type', 'application/json; charset=utf-8']]);
  assert.deepEqual(JSON.parse(c.body!), { message: 'Service temporarily overloaded: too many connections (--max-connections)', reason: 'max_connections' });
  assert.equal(c.closeAfter, true);
  assert.equal(conns.refused, 1);
  conns.onFilter(asRes(c), -1);
  conns.onFilter(asRes(a), -1);
  assert.equal(conns.open, 1);
  const d = new FakeSocketRes();
  conns.onFilter(asRes(d), 1);
  assert.equal(d.body, null, 'room again after closes');
  assert.equal(conns.refused, 1);
});

test('connection filter: without --max-connections it only counts', () => {
  const conns = new ConnectionCounter(0, CONNECTION_REFUSAL);
  const many = Array.from({ length: 50 }, () => new FakeSocketRes());
  for (const r of many) conns.onFilter(asRes(r), 1);
  assert.equal(conns.open, 50);
  assert.ok(many.every((r) => r.body === null));
  assert.equal(conns.refused, 0);
});

/** Just the RequestContext fields the body-rate sweep reads, and the reply it makes. */
class FakeBodyCtx {
  aborted = false;
  done = false;
  headSent = false;
  bodyBytes = 0;
  startedAt = 0;
  error: unknown = null;
  reply: { status: number; body: string } | null = null;
  request = { contentLength: 100_000 };
  body = { readableEnded: false, readableLength: 0 };
  respond(status: number, body: string): void {
    this.reply = { status, body };
    this.done = true;
  }
}

test('body rate: a body slower than the minimum over a 2 s window gets 408; a fast one does not', () => {
  const guard = new BodyRateGuard(1000, now);
  const slow = new FakeBodyCtx();
  const fast = new FakeBodyCtx();
  guard.watch(slow as unknown as RequestContext);
  guard.watch(fast as unknown as RequestContext);
  for (let s = 1; s <= 2; s++) {
    slow.bodyBytes += 300; // 300 B/s
    fast.bodyBytes += 5000;
    advance(1000);
  }
  assert.equal(slow.reply?.status, 408);
  assert.equal(JSON.parse(slow.reply!.body).reason, 'client_body_min_rate');
  assert.equal(fast.reply, null);
  assert.equal(guard.tooSlow, 1);
  assert.equal(guard.watching, 1, 'the refused one is no longer watched');
  guard.stop();
});

test('body rate: time the gateway spends not reading (bytes buffered) is not held against the client', () => {
  const guard = new BodyRateGuard(1000, now);
  const ctx = new FakeBodyCtx();
  guard.watch(ctx as unknown as RequestContext);
  ctx.bodyBytes = 64 * 1024;
  ctx.body.readableLength = 64 * 1024; // the upstream is slow: nothing more is read from the client
  advance(5000);
  assert.equal(ctx.reply, null);
  ctx.body.readableLength = 0;
  ctx.bodyBytes = 100_000; // all arrived
  advance(5000);
  assert.equal(ctx.reply, null, 'a complete body is never judged');
  assert.equal(guard.watching, 0);
});
