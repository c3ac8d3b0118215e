/**
 * The node-wide balancer state: one SharedArrayBuffer created by the primary and handed to every
 * worker in WorkerBootData, read and written with Atomics. It holds, per target slot, the health
 * state (and why) and the in-flight count; per upstream slot, the circuit-breaker counts and the
 * retry budget's sliding window.
 *
 * Slots are assigned by the primary (`SlotTable`), keyed by upstream name + target + resolved
 * address, so a target that survives a config reload keeps its slot, its health and its counts.
 * Workers never allocate slots; they get the indices with the topology (balancer/topology.ts).
 */

export const MAX_TARGET_SLOTS = 4096;
export const MAX_UPSTREAM_SLOTS = 512;

/** Int32 fields of a target slot. */
export const enum T {
  State = 0,
  Reason = 1,
  /** The counter value or the HTTP status that caused the last transition. */
  ReasonCount = 2,
  ReasonStatus = 3,
  Successes = 4,
  HttpFailures = 5,
  TcpFailures = 6,
  Timeouts = 7,
  InFlight = 8,
  /** Unix seconds when passive checks ejected the target; 0 when not ejected. */
  EjectedAt = 9,
  Stride = 16,
}

/** Int32 fields of an upstream slot. */
export const enum U {
  ActiveRequests = 0,
  RetriesInFlight = 1,
  /** Retry budget ring: BudgetBuckets x [unix second, requests, retries]. */
  BudgetBase = 4,
  BudgetBuckets = 60,
  Stride = 4 + 60 * 3,
}

export const enum HealthState {
  Healthy = 0,
  Unhealthy = 1,
  DnsError = 2,
}

export const enum Reason {
  None = 0,
  ActiveTcp = 1,
  ActiveTimeout = 2,
  ActiveHttp = 3,
  ActiveSuccess = 4,
  PassiveTcp = 5,
  PassiveTimeout = 6,
  PassiveHttp = 7,
  PassiveSuccess = 8,
  EjectionExpired = 9,
  DnsFailed = 10,
}

/** Typed views over the node's one SharedArrayBuffer. */
export class SharedBalancerState {
  readonly buffer: SharedArrayBuffer;
  readonly targets: Int32Array;
  readonly upstreams: Int32Array;

  constructor(buffer?: SharedArrayBuffer) {
    const targetBytes = MAX_TARGET_SLOTS * T.Stride * 4;
    const upstreamBytes = MAX_UPSTREAM_SLOTS * U.Stride * 4;
    this.buffer = buffer ?? new SharedArrayBuffer(targetBytes + upstreamBytes);
    this.targets = new Int32Array(this.buffer, 0, MAX_TARGET_SLOTS * T.Stride);
    this.upstreams = new Int32Array(this.buffer, targetBytes, MAX_UPSTREAM_SLOTS * U.Stride);
  }

  isHealthy(slot: number): boolean {
    return slot < 0 || this.targets[slot * T.Stride + T.State] === HealthState.Healthy;
  }

  state(slot: number): HealthState {
    return Atomics.load(this.targets, slot * T.Stride + T.State) as HealthState;
  }

  inFlight(slot: number): number {
    return slot < 0 ? 0 : this.targets[slot * T.Stride + T.InFlight];
  }

  /** Zero a slot before it is handed to a new key. */
  resetTarget(slot: number): void {
    this.targets.fill(0, slot * T.Stride, (slot + 1) * T.Stride);
  }

  resetUpstream(slot: number): void {
    this.upstreams.fill(0, slot * U.Stride, (slot + 1) * U.Stride);
  }
}

/**
 * Primary-side slot allocation. A key seen in the previous topology keeps its slot; a slot whose
 * key disappeared is reused only after every fresh slot is taken (so an old snapshot still
 * finishing requests rarely writes into a slot that now belongs to someone else).
 */
export class SlotTable {
  readonly #bySKey = new Map<string, number>();
  readonly #free: number[] = [];
  #next = 0;
  readonly #capacity: number;
  readonly #reset: (slot: number) => void;

  constructor(capacity: number, reset: (slot: number) => void) {
    this.#capacity = capacity;
    this.#reset = reset;
  }

  /** Assign slots for exactly `keys`, releasing every other; -1 when the table is full. */
  assign(keys: readonly string[]): Map<string, number> {
    const wanted = new Set(keys);
    for (const [key, slot] of this.#bySKey) {
      if (wanted.has(key)) continue;
      this.#bySKey.delete(key);
      this.#free.push(slot);
    }
    const out = new Map<string, number>();
    for (const key of wanted) {
      let slot = this.#bySKey.get(key);
      if (slot === undefined) {
        if (this.#next < this.#capacity) slot = this.#next++;
        else slot = this.#free.shift() ?? -1;
        if (slot >= 0) {
          this.#reset(slot);
          this.#bySKey.set(key, slot);
        }
      }
      out.set(key, slot);
    }
    return out;
  }
}
