/**
 * The node-wide shared counter table on its own: exact counting across real worker threads,
 * bounded memory under a million distinct keys, and what happens when a bucket is full.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createRateLimitMemory, readRateLimitStats, SharedCounterTable, BUCKET_SLOTS } from '../../src/ratelimit/shared-table';
import { KeyHasher } from '../../src/ratelimit/key-hash';

const NOW_SEC = 1_800_000_000;

describe('shared counter table', () => {
  test('fixed window: admits up to the limit, then refuses; a new window starts at zero', () => {
    const table = new SharedCounterTable(createRateLimitMemory(64));
    let ok = 0;
    for (let i = 0; i < 10; i++) if (table.fixedHit(1, 2, NOW_SEC, NOW_SEC + 60, 7, 1, NOW_SEC)) ok++;
    assert.equal(ok, 7);
    assert.equal(table.count, 7);
    assert.equal(table.fixedHit(1, 2, NOW_SEC + 60, NOW_SEC + 120, 7, 1, NOW_SEC + 60), true);
    assert.equal(table.count, 1);
  });

  test('regression: a late request from the previous window never resets the current one', () => {
    const table = new SharedCounterTable(createRateLimitMemory(64));
    for (let i = 0; i < 3; i++) table.fixedHit(1, 2, NOW_SEC + 60, NOW_SEC + 120, 5, 1, NOW_SEC + 60);
    // Read the clock at NOW_SEC + 59, reached the table after the new window had 3 hits.
    assert.equal(table.fixedHit(1, 2, NOW_SEC, NOW_SEC + 60, 5, 1, NOW_SEC + 59), true);
    assert.equal(table.count, 4, 'counted in the newer window');
    assert.equal(table.fixedHit(1, 2, NOW_SEC + 60, NOW_SEC + 120, 5, 1, NOW_SEC + 60), true);
    assert.equal(table.fixedHit(1, 2, NOW_SEC + 60, NOW_SEC + 120, 5, 1, NOW_SEC + 60), false);
  });

  test('undoHit gives a unit back only within the same window', () => {
    const table = new SharedCounterTable(createRateLimitMemory(64));
    table.fixedHit(1, 2, NOW_SEC, NOW_SEC + 60, 2, 1, NOW_SEC);
    table.fixedHit(1, 2, NOW_SEC, NOW_SEC + 60, 2, 1, NOW_SEC);
    table.undoHit(1, 2, NOW_SEC - 60, 1); // an older window: ignored
    assert.equal(table.fixedHit(1, 2, NOW_SEC, NOW_SEC + 60, 2, 1, NOW_SEC), false);
    table.undoHit(1, 2, NOW_SEC, 1);
    assert.equal(table.fixedHit(1, 2, NOW_SEC, NOW_SEC + 60, 2, 1, NOW_SEC), true);
  });

  test('the buffer is created once with a fixed size: slots rounded up to a power of two', () => {
    const memory = createRateLimitMemory(1000);
    const table = new SharedCounterTable(memory);
    assert.equal(table.slots, 1024);
    assert.equal(readRateLimitStats(memory).slots, 1024);
    assert.ok(memory.byteLength >= 1024 * 64 && memory.byteLength < 1024 * 64 + 8192);
  });

  test('a full bucket evicts the entry that expires first, then the one with the fewest hits; counted', () => {
    const memory = createRateLimitMemory(64); // 8 buckets of 8 slots
    const table = new SharedCounterTable(memory);
    // Keys with the same `a` land in the same bucket; fill it with 8 live keys.
    for (let b = 1; b <= BUCKET_SLOTS; b++) {
      for (let i = 0; i < b; i++) table.fixedHit(5, b, NOW_SEC, NOW_SEC + 60, 100, 1, NOW_SEC); // key b has b hits
    }
    assert.equal(readRateLimitStats(memory).evicted, 0);
    table.fixedHit(5, 99, NOW_SEC, NOW_SEC + 60, 100, 1, NOW_SEC);
    assert.equal(readRateLimitStats(memory).evicted, 1);
    // Key 1 (one hit) was evicted: it starts over. Key 8 (eight hits) kept its count.
    table.fixedHit(5, 8, NOW_SEC, NOW_SEC + 60, 100, 1, NOW_SEC);
    assert.equal(table.count, 9);
    table.fixedHit(5, 1, NOW_SEC, NOW_SEC + 60, 100, 1, NOW_SEC);
    assert.equal(table.count, 1);
  });

  test('expired entries are reclaimed without counting an eviction', () => {
    const memory = createRateLimitMemory(64);
    const table = new SharedCounterTable(memory);
    for (let b = 1; b <= BUCKET_SLOTS; b++) table.fixedHit(5, b, NOW_SEC, NOW_SEC + 1, 100, 1, NOW_SEC);
    for (let b = 100; b < 100 + BUCKET_SLOTS; b++) table.fixedHit(5, b, NOW_SEC + 1, NOW_SEC + 2, 100, 1, NOW_SEC + 1);
    assert.equal(readRateLimitStats(memory).evicted, 0);
    assert.equal(table.liveEntries(NOW_SEC + 1), BUCKET_SLOTS);
  });

  test('1 million distinct client addresses: the table stays bounded, a busy client stays exact', () => {
    const memory = createRateLimitMemory(65_536);
    const table = new SharedCounterTable(memory);
    const bytes = memory.byteLength;
    const hasher = new KeyHasher('*|*|*|minute|ip|fixed');
    const busy = new KeyHasher('*|*|*|minute|ip|fixed');
    busy.hash('203.0.113.7');
    global.gc?.();
    const before = process.memoryUsage();
    let busyAdmitted = 0;
    let nowSec = NOW_SEC - (NOW_SEC % 60);
    for (let i = 0; i < 1_000_000; i++) {
      // A new minute every 100k clients: expired entries get reclaimed as the clock moves.
      if (i % 100_000 === 0 && i > 0) nowSec += 60;
      const start = nowSec - (nowSec % 60);
      hasher.hash(`10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`);
      assert.ok(table.fixedHit(hasher.a, hasher.b, start, start + 60, 5, 1, nowSec) || i < 0);
      // One busy client, limited to 50 a minute, hits once every 1,000 churn requests.
      if (i % 1000 === 0 && table.fixedHit(busy.a, busy.b, start, start + 60, 50, 1, nowSec)) busyAdmitted++;
    }
    const after = process.memoryUsage();
    assert.equal(memory.byteLength, bytes, 'a SharedArrayBuffer never grows');
    assert.ok(table.liveEntries(nowSec) <= table.slots);
    // 10 minutes x min(100 hits, 50 allowed): the busy client was never evicted and never over.
    assert.equal(busyAdmitted, 10 * 50);
    const stats = readRateLimitStats(memory);
    assert.ok(stats.evicted > 0, 'with 100k live clients per minute and 65k slots, some were evicted');
    const heapGrowth = after.heapUsed - before.heapUsed;
    const rssGrowth = after.rss - before.rss;
    assert.ok(heapGrowth < 32 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`);
    assert.ok(rssGrowth < 64 * 1024 * 1024, `rss grew by ${rssGrowth} bytes`);
  });

  test('4 worker threads, 1,000 hits on one key, limit 100: exactly 100 admitted', async () => {
    const memory = createRateLimitMemory(1024);
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { SharedCounterTable } = require(${JSON.stringify(require.resolve('../../src/ratelimit/shared-table'))});
      const table = new SharedCounterTable(workerData.memory);
      const flag = new Int32Array(workerData.start);
      Atomics.wait(flag, 0, 0); // all threads start together
      let admitted = 0;
      for (let i = 0; i < 250; i++) if (table.fixedHit(42, 43, ${NOW_SEC}, ${NOW_SEC + 60}, 100, 1, ${NOW_SEC})) admitted++;
      parentPort.postMessage(admitted);
    `;
    const start = new SharedArrayBuffer(4);
    const workers = Array.from({ length: 4 }, () => new Worker(source, { eval: true, workerData: { memory, start } }));
    const results = workers.map((w) => new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }));
    await new Promise((r) => setTimeout(r, 200));
    Atomics.store(new Int32Array(start), 0, 1);
    Atomics.notify(new Int32Array(start), 0);
    const admitted = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));
    assert.equal(admitted.reduce((a, b) => a + b, 0), 100);
    const table = new SharedCounterTable(memory);
    table.fixedHit(42, 43, NOW_SEC, NOW_SEC + 60, 100, 0, NOW_SEC);
    assert.equal(table.count, 100);
  });
});
