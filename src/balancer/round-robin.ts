/**
 * Smooth weighted round-robin (the algorithm NGINX uses): over any window of sum(weights) picks,
 * each target is picked exactly `weight` times, and picks of a heavy target are spread out rather
 * than bunched. Targets that are unhealthy, drained (weight 0) or already tried by this request
 * sit the pick out, as in NGINX's `tried` bitmap. Each worker keeps its own position; with N
 * workers the node-wide split still converges to the weights because every worker's split does.
 */
import { Balancer, type BalancedTarget, type HashSource } from './balancer';

export class RoundRobinBalancer<Target extends BalancedTarget> extends Balancer<Target> {
  readonly #current: Float64Array = new Float64Array(this.targets.length);

  protected choose(_source: HashSource | null, eligibleCount: number): Target {
    const list = this.eligibleList;
    if (eligibleCount === 1) return this.targets[list[0]];
    return this.targets[smoothPick(this.#current, this.weights, list, eligibleCount)];
  }
}

/** One step of smooth weighted round-robin over the eligible indices; returns the chosen index. */
export function smoothPick(current: Float64Array, weights: Float64Array, list: Int32Array, count: number): number {
  let best = -1;
  let bestValue = -Infinity;
  let total = 0;
  for (let k = 0; k < count; k++) {
    const i = list[k];
    const w = weights[i];
    total += w;
    const value = (current[i] += w);
    if (value > bestValue) {
      bestValue = value;
      best = i;
    }
  }
  current[best] -= total;
  return best;
}
