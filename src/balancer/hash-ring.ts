/**
 * A ketama-style consistent-hash ring. Each target owns points proportional to its weight, placed
 * by hashing "<target key>#<n>"; a key belongs to the first point at or after its hash. A target's
 * points depend only on its own key and weight, so adding or removing one target moves only the
 * keys on its points: about 1/N of them (test/unit/hash-ring.test.ts).
 *
 * Built once per snapshot; a lookup is one string hash and one binary search.
 */

/** Points per unit of weight (Kong's default weight 100 gives a target 400 points). */
const POINTS_PER_WEIGHT = 4;
const MAX_POINTS = 1 << 20;

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32 so close strings spread out. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashRing {
  /** Sorted point hashes. */
  readonly points: Uint32Array;
  /** Target index owning each point. */
  readonly owners: Int32Array;

  /** `keys[i]` identifies target i stably (its address); `weights[i]` its weight (0 = no points). */
  constructor(keys: readonly string[], weights: readonly number[]) {
    let total = 0;
    for (const w of weights) total += Math.max(0, Math.round(w * POINTS_PER_WEIGHT));
    const scale = total > MAX_POINTS ? MAX_POINTS / total : 1;
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < keys.length; i++) {
      const n = weights[i] > 0 ? Math.max(1, Math.round(weights[i] * POINTS_PER_WEIGHT * scale)) : 0;
      for (let p = 0; p < n; p++) entries.push([hashString(`${keys[i]}#${p}`), i]);
    }
    // Ties (rare) break by key order so every worker builds the same ring.
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(entries, (e) => e[0]);
    this.owners = Int32Array.from(entries, (e) => e[1]);
  }

  get size(): number {
    return this.points.length;
  }

  /** Index of the first point at or after `hash` (wrapping to 0). */
  firstPoint(hash: number): number {
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }

  /** The owner of `key`, walking past owners for which `eligible[owner]` is 0; -1 if none. */
  lookup(key: string, eligible: Uint8Array | null): number {
    const n = this.points.length;
    if (n === 0) return -1;
    let at = this.firstPoint(hashString(key));
    for (let k = 0; k < n; k++) {
      const owner = this.owners[at];
      if (eligible === null || eligible[owner] === 1) return owner;
      if (++at === n) at = 0;
    }
    return -1;
  }
}
