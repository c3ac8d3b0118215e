/**
 * Random ids for the hot path: trace ids, span ids, request id prefixes. One `randomFillSync` call
 * fills a 4 KiB pool, turned into hex once (one native call for ~170 trace+span pairs); an id is
 * then a substring of that hex. Per-request cost: a substring and a zero check, never a syscall,
 * a crypto call or a per-id hex conversion (bench/micro/trace-ids.ts).
 *
 * These ids must be unique, not secret: W3C trace context asks for random ids so they do not
 * collide across systems, and nobody authenticates with them.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let hex = '';
/** Next unused hex character in `hex`. */
let offset = POOL_BYTES * 2;

/** An id of `bytes` random bytes never is all zeros (W3C forbids all-zero ids). */
const ALL_ZEROS = /^0+$/;

/** `bytes` random bytes as lower-case hex; never all zeros. */
export function randomHex(bytes: number): string {
  const chars = bytes * 2;
  if (offset + chars > hex.length) {
    randomFillSync(pool);
    hex = pool.toString('hex');
    offset = 0;
  }
  const out = hex.slice(offset, offset + chars);
  offset += chars;
  // 2^-64 at worst; rather than loop, flip the last byte.
  return out.charCodeAt(0) === 48 && ALL_ZEROS.test(out) ? out.slice(0, -2) + '01' : out;
}

/** A 16-byte W3C trace id, 32 hex characters. */
export function newTraceId(): string {
  return randomHex(16);
}

/** An 8-byte W3C span (parent) id, 16 hex characters. */
export function newSpanId(): string {
  return randomHex(8);
}
