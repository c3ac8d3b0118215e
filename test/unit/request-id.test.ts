/**
 * The request id as the response head writes it (from its serial number) must be the same
 * string nextRequestId made, for every length of the hex counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastRequestSerial, nextRequestId, REQUEST_ID_MAX_LENGTH, REQUEST_ID_PREFIX, writeRequestSerial } from '../../src/logging/request-id';

function written(serial: number): string {
  const out = Buffer.alloc(REQUEST_ID_MAX_LENGTH + 8, 0x2a);
  out.write(REQUEST_ID_PREFIX, 3, 'latin1');
  const end = writeRequestSerial(out, 3 + REQUEST_ID_PREFIX.length, serial);
  assert.equal(out[end], 0x2a, 'nothing is written past the returned offset');
  return out.toString('latin1', 3, end);
}

test('the bytes written from a serial spell the id nextRequestId returned', () => {
  for (let i = 0; i < 300; i++) {
    const id = nextRequestId();
    assert.equal(written(lastRequestSerial()), id);
  }
});

test('every hex length, up to the largest safe integer', () => {
  const serials = [1, 9, 10, 15, 16, 255, 256, 0xabcdef, 0x7fffffff, 0x80000000, 0xffffffff, 0x1_0000_0000, 0x1f_ffff_ffff_ffff];
  for (const serial of serials) {
    assert.equal(written(serial), REQUEST_ID_PREFIX + serial.toString(16), `serial ${serial}`);
  }
  assert.ok(written(Number.MAX_SAFE_INTEGER).length <= REQUEST_ID_MAX_LENGTH);
});
