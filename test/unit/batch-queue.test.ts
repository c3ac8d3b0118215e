/**
 * The bounded log queue with a fake clock: batching by size and by delay, one batch in flight,
 * retries with exponential backoff until max_retry_time, and drop-when-full with counters.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchQueue, logQueueStats, sharedQueue, type BatchQueueOptions } from '../../src/logging/batch-queue';

const OPTS: BatchQueueOptions = {
  maxBatchSize: 3,
  maxCoalescingDelayMs: 1000,
  maxEntries: 5,
  maxRetryTimeMs: 1000,
  initialRetryDelayMs: 100,
  maxRetryDelayMs: 400,
};

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
afterEach(() => mock.timers.reset());

/** Let promise callbacks run (the sender's awaits) without moving the clock. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function recorder(fail: (attempt: number) => boolean = () => false) {
  const sent: number[][] = [];
  let attempts = 0;
  const pending: (() => void)[] = [];
  return {
    sent,
    get attempts() {
      return attempts;
    },
    pending,
    send: async (batch: number[]) => {
      attempts++;
      if (fail(attempts)) throw new Error(`attempt ${attempts} failed`);
      sent.push(batch);
    },
  };
}

test('a full batch goes at once; a partial one after the coalescing delay', async () => {
  const r = recorder();
  const q = new BatchQueue<number>('t:1', OPTS, r.send, () => {});
  q.push(1);
  q.push(2);
  await settle();
  assert.deepEqual(r.sent, [], 'waits for more');
  q.push(3);
  await settle();
  assert.deepEqual(r.sent, [[1, 2, 3]]);
  q.push(4);
  await settle();
  mock.timers.tick(999);
  await settle();
  assert.equal(r.sent.length, 1);
  mock.timers.tick(1);
  await settle();
  assert.deepEqual(r.sent, [[1, 2, 3], [4]]);
  assert.deepEqual({ ...q.counters }, { queued: 4, sent: 4, dropped: 0, retried: 0, failed: 0 });
});

test('beyond max_entries, entries are dropped and counted, never buffered', async () => {
  const r = recorder();
  const reports: number[] = [];
  // A sender that never finishes keeps one batch in flight.
  const q = new BatchQueue<number>('t:2', { ...OPTS, maxBatchSize: 1 }, () => new Promise(() => {}), () => {}).onFull((c) => reports.push(c.dropped));
  for (let i = 0; i < 10; i++) q.push(i);
  // 1 in flight, 5 waiting, 4 dropped.
  assert.equal(q.pending, 5);
  assert.equal(q.counters.queued, 6);
  assert.equal(q.counters.dropped, 4);
  assert.deepEqual(reports, [1], 'the full queue is reported once per 10 s, not per entry');
  mock.timers.tick(10_000);
  q.push(99);
  assert.deepEqual(reports, [1, 5]);
  void r;
});

test('a failed batch is retried with exponential backoff, then succeeds', async () => {
  const r = recorder((n) => n <= 3);
  const errors: [number, boolean][] = [];
  const q = new BatchQueue<number>('t:3', { ...OPTS, maxBatchSize: 1 }, r.send, (_e, attempt, givingUp) => errors.push([attempt, givingUp]));
  q.push(7);
  await settle();
  assert.equal(r.attempts, 1);
  mock.timers.tick(100);
  await settle();
  assert.equal(r.attempts, 2);
  mock.timers.tick(199);
  await settle();
  assert.equal(r.attempts, 2, 'second delay is doubled');
  mock.timers.tick(1);
  await settle();
  assert.equal(r.attempts, 3);
  mock.timers.tick(400);
  await settle();
  assert.equal(r.attempts, 4);
  assert.deepEqual(r.sent, [[7]]);
  assert.deepEqual(errors, [[1, false], [2, false], [3, false]]);
  assert.deepEqual({ ...q.counters }, { queued: 1, sent: 1, dropped: 0, retried: 3, failed: 0 });
});

test('after max_retry_time the batch is given up and counted as failed; the next one still goes', async () => {
  const r = recorder((n) => n <= 4);
  const errors: boolean[] = [];
  const q = new BatchQueue<number>('t:4', { ...OPTS, maxBatchSize: 1 }, r.send, (_e, _a, givingUp) => errors.push(givingUp));
  q.push(1);
  q.push(2);
  await settle();
  for (const step of [100, 200, 400]) {
    mock.timers.tick(step);
    await settle();
  }
  // 700 ms spent; the next delay (400) would pass max_retry_time (1000): give up.
  assert.deepEqual(errors, [false, false, false, true]);
  assert.equal(q.counters.failed, 1);
  await settle();
  mock.timers.tick(1000);
  await settle();
  assert.deepEqual(r.sent, [[2]]);
});

test('flush sends what waits without waiting for the delay', async () => {
  const r = recorder();
  const q = new BatchQueue<number>('t:5', OPTS, r.send, () => {});
  q.push(1);
  await q.flush();
  assert.deepEqual(r.sent, [[1]]);
});

test('shared queues survive a new snapshot with the same config; stats sum per plugin entry', () => {
  const make = () => new BatchQueue<number>('http-log:entry-9', OPTS, async () => {}, () => {});
  const a = sharedQueue('http-log:entry-9:{"a":1}', make);
  const b = sharedQueue('http-log:entry-9:{"a":1}', make);
  assert.equal(a, b);
  const c = sharedQueue('http-log:entry-9:{"a":2}', make);
  assert.notEqual(a, c);
  a.close();
  a.push(1);
  c.close();
  c.push(2);
  const stats = logQueueStats().find((s) => s.plugin === 'http-log' && s.id === 'entry-9')!;
  assert.equal(stats.dropped, 2);
});

test('a reload that changes an entry config retires the old queue after a minute, keeping its counters', async () => {
  let disposed = 0;
  const sent: number[][] = [];
  const make = () => new BatchQueue<number>('file-log:entry-r', { ...OPTS, maxBatchSize: 10 }, async (b) => void sent.push(b), () => {});
  const old = sharedQueue('file-log:entry-r:{"v":1}', make, () => disposed++);
  old.push(1);
  const next = sharedQueue('file-log:entry-r:{"v":2}', make, () => disposed++);
  assert.notEqual(old, next);
  // A request still on the old snapshot can log to the old queue meanwhile.
  old.push(2);
  mock.timers.tick(59_999);
  await settle();
  assert.equal(disposed, 0);
  mock.timers.tick(1);
  await settle();
  assert.deepEqual(sent, [[1, 2]], 'flushed before it retires');
  assert.equal(disposed, 1);
  next.push(3);
  const stats = logQueueStats().find((s) => s.id === 'entry-r')!;
  assert.equal(stats.queued, 3, 'the retired queue still counts');
  assert.equal(stats.sent, 2);
  assert.equal(stats.pending, 1);
});
