/**
 * Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): the wait
 * before try n (n >= 1) is uniform in [0, min(max, base * 2^(n-1))). Spreading retries over the
 * whole interval keeps clients that failed together from retrying together.
 */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
