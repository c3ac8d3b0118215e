/**
 * What every load-balancing algorithm shares: its targets (compiled once per snapshot), which of
 * them may take the next request, and the passive-ejection guard.
 *
 * A target is eligible when its weight is above 0 (weight 0 drains it) and its node-wide health
 * slot says healthy. `tried` is a bit mask of the targets this request already failed on: they
 * are skipped while any other target is eligible (a retry never goes back to the target that
 * just failed when another one is available). Targets past index 30 are never masked.
 *
 * Per pick: one pass over the targets filling two preallocated arrays; no allocation.
 */
import type { EjectionGuard } from './health-state';
import { HealthState, type SharedBalancerState, T } from './shared-state';

export interface BalancedTarget {
  /** Position in the balancer's target list. */
  readonly index: number;
  readonly weight: number;
  /** Node-wide health / in-flight slot; -1 when untracked (a service without an upstream). */
  readonly slot: number;
}

/** What consistent hashing reads from a request (RequestContext implements it). */
export interface HashSource {
  readonly request: { readonly path: string; readonly query: string; readonly remoteAddress: string; header(name: string): string | undefined };
  readonly consumer: { readonly id: string } | null;
  readonly credentialId: string | null;
  setResponseHeader(name: string, value: string): void;
}

export abstract class Balancer<Target extends BalancedTarget> implements EjectionGuard {
  readonly targets: readonly Target[];
  readonly shared: SharedBalancerState;
  /** 1 where the target may take this pick. */
  protected readonly eligible: Uint8Array;
  /** The eligible indices, `eligibleCount` of them. */
  protected readonly eligibleList: Int32Array;
  protected readonly weights: Float64Array;
  readonly #thresholdPercent: number;
  readonly #totalWeight: number;
  readonly #maxEjectionPercent: number;

  constructor(targets: readonly Target[], shared: SharedBalancerState, thresholdPercent = 0, maxEjectionPercent = 50) {
    this.targets = targets;
    this.shared = shared;
    this.eligible = new Uint8Array(targets.length);
    this.eligibleList = new Int32Array(targets.length);
    this.weights = Float64Array.from(targets, (t) => t.weight);
    let total = 0;
    for (const t of targets) total += t.weight;
    this.#totalWeight = total;
    this.#thresholdPercent = thresholdPercent;
    this.#maxEjectionPercent = maxEjectionPercent;
  }

  get size(): number {
    return this.targets.length;
  }

  /** The next target, or `null` when none is healthy (Kong's "failure to get a peer"). */
  pick(source: HashSource | null, tried: number): Target | null {
    let n = this.#mark(tried);
    if (n === 0 && tried !== 0) n = this.#mark(0);
    if (n <= 0) return null;
    return this.choose(source, n);
  }

  /** A response head arrived from `target` after `ms` (the latency algorithm keeps an EWMA). */
  observe(_target: Target, _ms: number): void {}

  protected abstract choose(source: HashSource | null, eligibleCount: number): Target;

  #mark(tried: number): number {
    const targets = this.targets;
    const eligible = this.eligible;
    const list = this.eligibleList;
    const mem = this.shared.targets;
    let n = 0;
    let healthyWeight = 0;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i];
      let ok = t.weight > 0 && (t.slot < 0 || mem[t.slot * T.Stride + T.State] === HealthState.Healthy);
      if (ok) healthyWeight += t.weight;
      if (ok && i < 31 && (tried & (1 << i)) !== 0) ok = false;
      eligible[i] = ok ? 1 : 0;
      if (ok) list[n++] = i;
    }
    // Kong's healthchecks.threshold: below this share of healthy weight the upstream is down.
    if (this.#thresholdPercent > 0 && healthyWeight * 100 < this.#thresholdPercent * this.#totalWeight) return 0;
    return n;
  }

  /**
   * Passive ejection guard (Envoy's max_ejection_percent): at most that share of the targets may
   * be out at once (one ejection is always allowed), and never the last healthy target.
   */
  mayEject(slot: number): boolean {
    let out = 0;
    let healthyOthers = 0;
    for (const t of this.targets) {
      if (t.slot < 0) continue;
      const healthy = this.shared.targets[t.slot * T.Stride + T.State] === HealthState.Healthy;
      if (!healthy) out++;
      else if (t.slot !== slot && t.weight > 0) healthyOthers++;
    }
    if (healthyOthers === 0) return false;
    const allowed = Math.max(1, Math.floor((this.targets.length * this.#maxEjectionPercent) / 100));
    return out + 1 <= allowed;
  }
}
