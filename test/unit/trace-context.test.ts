import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTraceparent, TraceContext } from '../../src/tracing/trace-context';
import { randomHex } from '../../src/tracing/random-ids';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('a valid version-00 traceparent is parsed', () => {
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-01`), { traceId: TRACE, parentId: SPAN, flags: 1 });
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-00`), { traceId: TRACE, parentId: SPAN, flags: 0 });
});

test('invalid traceparents are ignored, as the spec requires', () => {
  const bad = [
    '',
    'garbage',
    `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper-case hex
    `00-${'0'.repeat(32)}-${SPAN}-01`, // all-zero trace id
    `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero parent id
    `ff-${TRACE}-${SPAN}-01`, // forbidden version
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
    `00-${TRACE}-${SPAN}-0x`, // flags not hex
    `00_${TRACE}_${SPAN}_01`, // wrong separators
    `00-${TRACE.slice(1)}-${SPAN}0-01`, // shifted fields
  ];
  for (const v of bad) assert.equal(parseTraceparent(v), null, v);
});

test('a future version is read by its version-00 prefix', () => {
  assert.deepEqual(parseTraceparent(`01-${TRACE}-${SPAN}-01-whatever`), { traceId: TRACE, parentId: SPAN, flags: 1 });
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01x`), null);
});

test('continuing a trace keeps its id and flags, makes two new spans, and points upstream at the second', () => {
  const t = TraceContext.from(`00-${TRACE}-${SPAN}-01`, 'a=1');
  assert.equal(t.traceId, TRACE);
  assert.equal(t.parentSpanId, SPAN);
  assert.equal(t.tracestate, 'a=1');
  assert.ok(t.continued && t.sampled);
  assert.match(t.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(t.spanId, t.upstreamSpanId);
  assert.notEqual(t.spanId, SPAN);
  assert.equal(t.upstreamTraceparent(), `00-${TRACE}-${t.upstreamSpanId}-01`);
  assert.equal(TraceContext.from(`00-${TRACE}-${SPAN}-00`, undefined).upstreamTraceparent().slice(-3), '-00');
});

test('absent or invalid traceparent starts a sampled trace and forgets tracestate', () => {
  for (const header of [undefined, 'nope']) {
    const t = TraceContext.from(header, 'stale=1');
    assert.match(t.traceId, /^[0-9a-f]{32}$/);
    assert.equal(t.parentSpanId, '');
    assert.equal(t.tracestate, '');
    assert.ok(!t.continued && t.sampled);
    assert.ok(parseTraceparent(t.upstreamTraceparent()) !== null, 'what we send is valid');
  }
});

test('random ids do not repeat across many refills of the pool', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) seen.add(randomHex(8));
  assert.equal(seen.size, 20_000);
});
