/**
 * Latency: an EWMA of each target's response time (time to the response head), and the power of
 * two choices: two random eligible targets, the one with the lower expected cost wins. The cost
 * is EWMA x (node-wide in-flight + 1) / weight, so a slow target and a busy one both lose, and
 * two choices (rather than the global best) keep workers from stampeding onto one target.
 * The EWMA is per worker (each worker sees a fair sample of the same targets).
 */
import { Balancer, type BalancedTarget, type HashSource } from './balancer';
import { type SharedBalancerState, T } from './shared-state';

/** Weight of the newest sample. */
export const EWMA_ALPHA = 0.3;

export function ewmaUpdate(previous: number, sample: number): number {
  return previous === 0 ? sample : previous + EWMA_ALPHA * (sample - previous);
}

export class LatencyBalancer<Target extends BalancedTarget> extends Balancer<Target> {
  readonly ewma: Float64Array = new Float64Array(this.targets.length);
  readonly #random: () => number;

  constructor(
    targets: readonly Target[],
    shared: SharedBalancerState,
    thresholdPercent = 0,
    maxEjectionPercent = 50,
    random: () => number = Math.random,
  ) {
    super(targets, shared, thresholdPercent, maxEjectionPercent);
    this.#random = random;
  }

  override observe(target: Target, ms: number): void {
    this.ewma[target.index] = ewmaUpdate(this.ewma[target.index], ms);
  }

  cost(i: number): number {
    const t = this.targets[i];
    const inFlight = t.slot < 0 ? 0 : this.shared.targets[t.slot * T.Stride + T.InFlight];
    // An unmeasured target costs nothing, so every new target gets sampled.
    return (this.ewma[i] * (inFlight + 1)) / this.weights[i];
  }

  protected choose(_source: HashSource | null, eligibleCount: number): Target {
    const list = this.eligibleList;
    if (eligibleCount === 1) return this.targets[list[0]];
    const a = list[(this.#random() * eligibleCount) | 0];
    let b = list[(this.#random() * (eligibleCount - 1)) | 0];
    if (b === a) b = list[eligibleCount - 1];
    return this.targets[this.cost(b) < this.cost(a) ? b : a];
  }
}
