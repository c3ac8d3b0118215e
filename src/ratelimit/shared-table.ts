/**
 * The node-wide rate-limit counter table: one SharedArrayBuffer created by the primary and mapped
 * by every worker (and by the inline data plane with `--workers 0`). Every worker counts in the
 * same cells with Atomics, so a limit of 100 means 100 for the node, and no request ever waits
 * for a message from another thread.
 *
 * Layout (all offsets in bytes; everything 64-byte aligned so a slot is one cache line):
 *
 *   [0, 64)        header: magic, layout version, bucket count
 *   [64, 128)      node-wide stats, BigInt64 cells (see Stat), read with `readRateLimitStats`
 *   [128, L)       one Int32 lock word per bucket
 *   [L, end)       buckets of BUCKET_SLOTS slots, 64 bytes each
 *
 * A key (a 64-bit fingerprint of limit + window + identifier) lives in exactly one bucket, chosen
 * by its hash, in any of that bucket's slots: open addressing with probing bounded to one bucket
 * (set-associative, like a CPU cache). Every operation takes the bucket's lock for a few dozen
 * instructions, so "check the count and add one" is atomic across threads, which is what makes the
 * limit exact; two threads never hold two locks, so there is no deadlock.
 *
 * Bounded under churn: the table never grows. A slot whose entry has expired (its window is over)
 * is free. When every slot of the bucket is live, the entry that expires soonest is evicted, and
 * among those the one with the fewest hits (forgetting it costs the least: that client gets a
 * fresh budget for the rest of the window); every eviction is counted in Stat.Evicted. A busy key
 * keeps its slot because its count is high.
 *
 * Slot fields (Int32 index within the slot): 0 fingerprint A, 1 fingerprint B, 2 window start
 * (unix seconds, unsigned), 3 expires at (unix seconds, unsigned; 0 = never used), 4 count in the
 * current window, 5 count in the previous window (sliding window). Float64 index 4 and 5 (bytes
 * 32-48) hold a token bucket's tokens and its last refill time in ms.
 *
 * Plain (non-atomic) reads and writes of slot fields happen only while the bucket lock is held;
 * the lock's compareExchange / store pair orders them across threads (JS memory model).
 */

const MAGIC = 0x46474c52; // "FGLR"
const LAYOUT_VERSION = 1;
const HEADER_BYTES = 64;
const STATS_OFFSET = 64;
const STATS_CELLS = 8;
const LOCKS_OFFSET = STATS_OFFSET + STATS_CELLS * 8;
export const SLOT_BYTES = 64;
const SLOT_INTS = SLOT_BYTES / 4;
const SLOT_F64 = SLOT_BYTES / 8;
export const BUCKET_SLOTS = 8;
export const DEFAULT_SLOTS = 65_536;
export const MIN_SLOTS = 64;

const F_A = 0;
const F_B = 1;
const F_START = 2;
const F_EXPIRES = 3;
const F_COUNT = 4;
const F_PREV = 5;
const D_TOKENS = 4;
const D_REFILL = 5;

/** Node-wide counters, one BigInt64 cell each. */
export const enum Stat {
  /** Requests answered with the rate-limit error (any policy). */
  Rejected = 0,
  /** Requests let through because the redis policy could not reach its server (fault_tolerant). */
  FailOpen = 1,
  /** Live entries evicted because every slot of their bucket was live (see file comment). */
  Evicted = 2,
  /** Requests answered 500 because redis was unreachable and fault_tolerant is false. */
  StoreErrors = 3,
}

export interface RateLimitStats {
  readonly rejected: number;
  readonly failOpen: number;
  readonly evicted: number;
  readonly storeErrors: number;
  /** Table capacity in slots (fixed for the life of the process). */
  readonly slots: number;
}

function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function layout(slots: number): { buckets: number; slotsOffset: number; bytes: number } {
  const buckets = roundUpPow2(Math.max(MIN_SLOTS, slots)) / BUCKET_SLOTS;
  const slotsOffset = Math.ceil((LOCKS_OFFSET + buckets * 4) / 64) * 64;
  return { buckets, slotsOffset, bytes: slotsOffset + buckets * BUCKET_SLOTS * SLOT_BYTES };
}

/** The primary calls this once; `slots` is rounded up to a power of two (at least MIN_SLOTS). */
export function createRateLimitMemory(slots: number = DEFAULT_SLOTS): SharedArrayBuffer {
  const { buckets, bytes } = layout(slots);
  const memory = new SharedArrayBuffer(bytes);
  const header = new Int32Array(memory, 0, HEADER_BYTES / 4);
  header[0] = MAGIC;
  header[1] = LAYOUT_VERSION;
  header[2] = buckets;
  return memory;
}

/**
 * The node-wide counters, from any thread that holds the buffer (the primary keeps it: see
 * Supervisor.rateLimitMemory). Cheap: four atomic loads.
 */
export function readRateLimitStats(memory: SharedArrayBuffer): RateLimitStats {
  const stats = new BigInt64Array(memory, STATS_OFFSET, STATS_CELLS);
  const header = new Int32Array(memory, 0, HEADER_BYTES / 4);
  return {
    rejected: Number(Atomics.load(stats, Stat.Rejected)),
    failOpen: Number(Atomics.load(stats, Stat.FailOpen)),
    evicted: Number(Atomics.load(stats, Stat.Evicted)),
    storeErrors: Number(Atomics.load(stats, Stat.StoreErrors)),
    slots: header[2] * BUCKET_SLOTS,
  };
}

/** Spins this many times on a held bucket lock before sleeping briefly (holder was preempted). */
const SPINS_BEFORE_SLEEP = 256;

/**
 * One thread's view of the shared table. Results of the last operation are left in public fields
 * (`count`, `previous`, `tokens`) so the hot path allocates nothing.
 */
export class SharedCounterTable {
  readonly memory: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #locks: Int32Array;
  readonly #stats: BigInt64Array;
  readonly #bucketMask: number;
  readonly #slotsBase: number;

  /** After fixedHit/slidingHit: the count (sliding: the estimate) after the call. */
  count = 0;
  /** After slidingHit: the previous window's count. */
  previous = 0;
  /** After takeTokens: the tokens left (fractional). */
  tokens = 0;

  constructor(memory: SharedArrayBuffer) {
    const header = new Int32Array(memory, 0, HEADER_BYTES / 4);
    if (header[0] !== MAGIC || header[1] !== LAYOUT_VERSION) throw new Error('not a rate-limit table (bad magic or layout version)');
    const buckets = header[2];
    const { slotsOffset } = layout(buckets * BUCKET_SLOTS);
    this.memory = memory;
    this.#i32 = new Int32Array(memory);
    this.#f64 = new Float64Array(memory);
    this.#locks = new Int32Array(memory, LOCKS_OFFSET, buckets);
    this.#stats = new BigInt64Array(memory, STATS_OFFSET, STATS_CELLS);
    this.#bucketMask = buckets - 1;
    this.#slotsBase = slotsOffset / 4;
  }

  get slots(): number {
    return (this.#bucketMask + 1) * BUCKET_SLOTS;
  }

  count1(stat: Stat): void {
    Atomics.add(this.#stats, stat, 1n);
  }

  /**
   * Fixed window: admit `cost` if `count + cost <= limit` in the window starting at `start`
   * (seconds); the entry is reclaimable from `expires` (seconds) on. `this.count` = the count
   * after (admitted) or the count that refused the request.
   */
  fixedHit(a: number, b: number, start: number, expires: number, limit: number, cost: number, nowSec: number): boolean {
    const bucket = this.#lock(a);
    const slot = this.#claim(bucket, a, b, nowSec);
    const i32 = this.#i32;
    // Windows only move forward: a request that read the clock just before a boundary and got
    // here after another thread opened the next window is counted in that newer window, never
    // allowed to reset it.
    if (i32[slot + F_START] >>> 0 < start || i32[slot + F_EXPIRES] >>> 0 <= nowSec) {
      i32[slot + F_START] = start;
      i32[slot + F_COUNT] = 0;
      i32[slot + F_PREV] = 0;
      i32[slot + F_EXPIRES] = expires;
    }
    const count = i32[slot + F_COUNT];
    const ok = count + cost <= limit;
    this.count = ok ? count + cost : count;
    if (ok) i32[slot + F_COUNT] = count + cost;
    this.#unlock(bucket);
    return ok;
  }

  /** Undo an admitted hit (another window refused the request); no-op if the window moved on. */
  undoHit(a: number, b: number, start: number, cost: number): void {
    const bucket = this.#lock(a);
    const slot = this.#find(bucket, a, b);
    const i32 = this.#i32;
    if (slot !== -1 && i32[slot + F_START] >>> 0 === start) i32[slot + F_COUNT] = Math.max(0, i32[slot + F_COUNT] - cost);
    this.#unlock(bucket);
  }

  /**
   * Sliding window: the estimate is floor(previous × prevWeight) + current, where prevWeight is
   * the part of the previous window still inside the sliding window. Admit when estimate + cost
   * <= limit. `this.count` = the estimate after (or the refusing estimate).
   */
  slidingHit(a: number, b: number, start: number, prevStart: number, expires: number, limit: number, cost: number, prevWeight: number, nowSec: number): boolean {
    const bucket = this.#lock(a);
    const slot = this.#claim(bucket, a, b, nowSec);
    const i32 = this.#i32;
    const slotStart = i32[slot + F_START] >>> 0;
    // As in fixedHit, windows only move forward.
    if (slotStart < start || i32[slot + F_EXPIRES] >>> 0 <= nowSec) {
      // Entering a new window: the old current window becomes the previous one if adjacent.
      i32[slot + F_PREV] = slotStart === prevStart && i32[slot + F_EXPIRES] >>> 0 > nowSec ? i32[slot + F_COUNT] : 0;
      i32[slot + F_COUNT] = 0;
      i32[slot + F_START] = start;
      i32[slot + F_EXPIRES] = expires;
    }
    const prev = i32[slot + F_PREV];
    const count = i32[slot + F_COUNT];
    const estimate = Math.floor(prev * prevWeight) + count;
    const ok = estimate + cost <= limit;
    if (ok) i32[slot + F_COUNT] = count + cost;
    this.count = ok ? estimate + cost : estimate;
    this.previous = prev;
    this.#unlock(bucket);
    return ok;
  }

  /**
   * Token bucket: `capacity` tokens, refilled at `perMs` tokens per ms. Take `cost` if that many
   * are there. `this.tokens` = tokens left after the call.
   */
  takeTokens(a: number, b: number, capacity: number, perMs: number, cost: number, nowMs: number, nowSec: number): boolean {
    const bucket = this.#lock(a);
    const slot = this.#claim(bucket, a, b, nowSec);
    const i32 = this.#i32;
    const f64 = this.#f64;
    const d = slot / 2;
    let tokens: number;
    if (i32[slot + F_EXPIRES] >>> 0 <= nowSec || i32[slot + F_START] !== 1) {
      // F_START = 1 marks an initialized bucket (fresh or reclaimed slots start full).
      tokens = capacity;
      i32[slot + F_START] = 1;
    } else {
      const last = f64[d + D_REFILL];
      tokens = Math.min(capacity, f64[d + D_TOKENS] + (nowMs > last ? (nowMs - last) * perMs : 0));
    }
    const ok = tokens >= cost;
    if (ok) tokens -= cost;
    f64[d + D_TOKENS] = tokens;
    f64[d + D_REFILL] = nowMs;
    // Reclaimable once it would be full again (nothing to remember), at least one second on.
    i32[slot + F_EXPIRES] = nowSec + 1 + Math.ceil((capacity - tokens) / perMs / 1000);
    this.tokens = tokens;
    this.#unlock(bucket);
    return ok;
  }

  /** Give tokens back (another window refused the request). */
  returnTokens(a: number, b: number, capacity: number, cost: number): void {
    const bucket = this.#lock(a);
    const slot = this.#find(bucket, a, b);
    if (slot !== -1 && this.#i32[slot + F_START] === 1) {
      const d = slot / 2;
      this.#f64[d + D_TOKENS] = Math.min(capacity, this.#f64[d + D_TOKENS] + cost);
    }
    this.#unlock(bucket);
  }

  /** Live entries right now (a full scan; for tests and diagnostics, not the hot path). */
  liveEntries(nowSec: number): number {
    let live = 0;
    const total = this.slots;
    for (let s = 0; s < total; s++) if (this.#i32[this.#slotsBase + s * SLOT_INTS + F_EXPIRES] >>> 0 > nowSec) live++;
    return live;
  }

  // ---------------------------------------------------------------- internals (lock held)

  #lock(a: number): number {
    const bucket = (a ^ (a >>> 16)) & this.#bucketMask;
    const locks = this.#locks;
    let spins = 0;
    while (Atomics.compareExchange(locks, bucket, 0, 1) !== 0) {
      if (++spins > SPINS_BEFORE_SLEEP) {
        // The holder is likely preempted (more threads than cores): sleep 50 µs, not a whole slice.
        Atomics.wait(locks, bucket, 1, 0.05);
        spins = 0;
      }
    }
    return bucket;
  }

  #unlock(bucket: number): void {
    Atomics.store(this.#locks, bucket, 0);
  }

  /** Slot index (Int32 units) of key (a, b) in `bucket`, or -1. */
  #find(bucket: number, a: number, b: number): number {
    const i32 = this.#i32;
    let slot = this.#slotsBase + bucket * BUCKET_SLOTS * SLOT_INTS;
    for (let k = 0; k < BUCKET_SLOTS; k++, slot += SLOT_INTS) {
      if (i32[slot + F_A] === a && i32[slot + F_B] === b && i32[slot + F_EXPIRES] !== 0) return slot;
    }
    return -1;
  }

  /**
   * The slot of key (a, b): its own, else a free one (never used or expired), else the victim
   * (soonest to expire, then fewest hits), counted as an eviction. A claimed slot is reset.
   */
  #claim(bucket: number, a: number, b: number, nowSec: number): number {
    const i32 = this.#i32;
    const first = this.#slotsBase + bucket * BUCKET_SLOTS * SLOT_INTS;
    let free = -1;
    let victim = -1;
    let victimExpires = 0;
    let victimCount = 0;
    let slot = first;
    for (let k = 0; k < BUCKET_SLOTS; k++, slot += SLOT_INTS) {
      const expires = i32[slot + F_EXPIRES] >>> 0;
      if (i32[slot + F_A] === a && i32[slot + F_B] === b && expires !== 0) return slot;
      if (expires <= nowSec) {
        if (free === -1) free = slot;
        continue;
      }
      const count = i32[slot + F_COUNT];
      if (victim === -1 || expires < victimExpires || (expires === victimExpires && count < victimCount)) {
        victim = slot;
        victimExpires = expires;
        victimCount = count;
      }
    }
    if (free === -1) {
      free = victim;
      Atomics.add(this.#stats, Stat.Evicted, 1n);
    }
    i32[free + F_A] = a;
    i32[free + F_B] = b;
    i32[free + F_START] = 0;
    i32[free + F_EXPIRES] = 0; // the caller sets it; 0 until then marks the slot as fresh
    i32[free + F_COUNT] = 0;
    i32[free + F_PREV] = 0;
    return free;
  }
}
