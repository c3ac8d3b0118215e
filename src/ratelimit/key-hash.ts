/**
 * 64-bit fingerprints of rate-limit keys, as two independent 32-bit hashes, computed without
 * building the key string: a limit's constant part (scope + window) is hashed once into a seed,
 * and each request continues from that seed over its identifier only.
 *
 * Two keys collide only if both 32-bit halves do (about 1 in 2^64 per pair), so the table can
 * identify a key by its fingerprint alone.
 */

/** FNV-1a, 32 bits. */
function fnv1a(seed: number, s: string): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}

/** A multiply-rotate hash with a different constant, so it is independent of FNV-1a. */
function mixHash(seed: number, s: string): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h;
}

/** murmur3's finalizer: spreads every input bit over the output (the table picks buckets from it). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** The seeds of one limit (scope + window); `hash()` leaves the fingerprint in `a` and `b`. */
export class KeyHasher {
  readonly #seedA: number;
  readonly #seedB: number;
  a = 0;
  b = 0;

  constructor(limitKey: string) {
    this.#seedA = fnv1a(0x811c9dc5, limitKey + '\u0000');
    this.#seedB = mixHash(0x9747b28c, limitKey + '\u0000');
  }

  hash(identifier: string): void {
    this.a = fmix32(fnv1a(this.#seedA, identifier));
    this.b = fmix32(mixHash(this.#seedB, identifier) ^ identifier.length);
  }
}
