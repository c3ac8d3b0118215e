/**
 * Smooth weighted round-robin (the algorithm NGINX uses): over any window of sum(weights) picks,
 * each item is picked exactly `weight` times, and picks of a heavy item are spread out rather than
 * bunched. Each worker keeps its own instance; with N workers the node-wide split still converges
 * to the weights because every worker's split does.
 *
 * Weight 0 means drained: the item is never picked.
 */
export class SmoothWeightedRoundRobin<T> {
  readonly #items: readonly T[];
  readonly #weights: Float64Array;
  readonly #current: Float64Array;
  readonly #totalWeight: number;

  constructor(items: readonly T[], weights: readonly number[]) {
    this.#items = items;
    this.#weights = Float64Array.from(weights);
    this.#current = new Float64Array(items.length);
    let total = 0;
    for (const w of weights) total += w;
    this.#totalWeight = total;
  }

  get size(): number {
    return this.#items.length;
  }

  /** `null` when every weight is 0. */
  pick(): T | null {
    const n = this.#items.length;
    if (n === 1) return this.#weights[0] > 0 ? this.#items[0] : null;
    if (this.#totalWeight <= 0) return null;
    let best = -1;
    let bestValue = -Infinity;
    const current = this.#current;
    const weights = this.#weights;
    for (let i = 0; i < n; i++) {
      if (weights[i] <= 0) continue;
      const value = (current[i] += weights[i]);
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    }
    current[best] -= this.#totalWeight;
    return this.#items[best];
  }
}
