import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Float64Histogram } from 'hdr-histogram-js';
import { HIGHEST_US, LOWEST_US, newLatencyHistogram, SIGNIFICANT_DIGITS } from '../../src/metrics/latency-histogram';

// The integer bucket index (latency-histogram.ts) against hdr-histogram-js's own, for every value
// around every bucket boundary up to the highest trackable value, plus a sweep of small values.
test('the integer bucket index equals the library index for every recorded range', () => {
  const ours = newLatencyHistogram();
  const library = new Float64Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS);
  const values: number[] = [];
  for (let v = 0; v <= 70_000; v++) values.push(v);
  for (let p = 1; 2 ** p <= HIGHEST_US * 2; p++) for (const d of [-2, -1, 0, 1, 2]) values.push(2 ** p + d);
  for (let v = 1; v <= HIGHEST_US; v = Math.ceil(v * 1.013) + 1) values.push(v);
  values.push(HIGHEST_US);
  let checked = 0;
  for (const v of values) {
    if (v < 0 || v > HIGHEST_US) continue;
    assert.equal(ours.countsArrayIndex(v), library.countsArrayIndex(v), `value ${v}`);
    checked++;
  }
  assert.ok(checked > 70_000);
});

test('recorded values read back the same percentiles as the library', () => {
  const ours = newLatencyHistogram();
  const library = new Float64Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS);
  let x = 12345;
  for (let i = 0; i < 50_000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const v = 1 + (x % 2_000_000);
    ours.recordValue(v);
    library.recordValue(v);
  }
  for (const q of [50, 90, 99, 99.9]) assert.equal(ours.getValueAtPercentile(q), library.getValueAtPercentile(q), `p${q}`);
  assert.equal(ours.totalCount, 50_000);
});

test('values outside whole 31-bit numbers are left to the library', () => {
  const ours = newLatencyHistogram();
  const library = new Float64Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS);
  // Integer arithmetic would get these wrong (clz32 and >>> work on 32 bits; a negative value is
  // refused by the library, not indexed).
  for (const v of [1234.5, 2 ** 33 + 5, 2 ** 31]) assert.equal(ours.countsArrayIndex(v), library.countsArrayIndex(v), `value ${v}`);
  assert.throws(() => library.countsArrayIndex(-1));
  assert.throws(() => ours.countsArrayIndex(-1));
});
