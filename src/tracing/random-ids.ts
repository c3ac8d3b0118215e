/**
 * Random ids for the hot path: trace ids, span ids, request id prefixes. One `randomFillSync` call
 * fills a 4 KiB buffer that serves ~250 trace+span pairs; ids are hex-encoded from a lookup table.
 * Per-request cost is a few table reads, never a syscall or a crypto call.
 *
 * These ids must be unique, not secret: W3C trace context asks for random ids so they do not
 * collide across systems, and nobody authenticates with them.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `bytes` random bytes as lower-case hex; never all zeros (W3C forbids all-zero ids). One native
 * hex conversion per id: a flat string, where concatenating per byte made a rope that undici's
 * header validation then had to flatten (bench/micro/trace-ids.ts compares the two).
 */
export function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  let nonZero = 0;
  for (let i = offset; i < offset + bytes; i++) nonZero |= pool[i];
  const out = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  // 2^-64 at worst; rather than loop, flip the last byte.
  return nonZero === 0 ? out.slice(0, -2) + '01' : out;
}

/** A 16-byte W3C trace id, 32 hex characters. */
export function newTraceId(): string {
  return randomHex(16);
}

/** An 8-byte W3C span (parent) id, 16 hex characters. */
export function newSpanId(): string {
  return randomHex(8);
}
