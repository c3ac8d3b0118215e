/**
 * Least connections: the eligible target with the fewest requests in flight per unit of weight,
 * counted node-wide (every worker increments the target's slot in the SharedArrayBuffer while it
 * has a request there). Ties go round the targets from a rotating start, so equal loads spread.
 */
import { Balancer, type BalancedTarget, type HashSource } from './balancer';
import { T } from './shared-state';

export class LeastConnectionsBalancer<Target extends BalancedTarget> extends Balancer<Target> {
  #rotor = 0;

  protected choose(_source: HashSource | null, eligibleCount: number): Target {
    const list = this.eligibleList;
    if (eligibleCount === 1) return this.targets[list[0]];
    const mem = this.shared.targets;
    const start = this.#rotor++ % eligibleCount;
    if (this.#rotor > 0x3fffffff) this.#rotor = 0;
    let best = list[start];
    let bestScore = Infinity;
    for (let k = 0; k < eligibleCount; k++) {
      const i = list[(start + k) % eligibleCount];
      const t = this.targets[i];
      const inFlight = t.slot < 0 ? 0 : mem[t.slot * T.Stride + T.InFlight];
      const score = (inFlight + 1) / this.weights[i];
      if (score < bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return this.targets[best];
  }
}
