/**
 * Envoy-style circuit breaking, node-wide per upstream: the counts live in the upstream's slot of
 * the SharedArrayBuffer, so the limits hold across workers. Over a limit the request gets a fast
 * 503 whose message names the limit, without touching the upstream.
 *
 * HTTP/1.1 carries one request per connection at a time, so "connections" are the requests in
 * flight up to `max_connections`; the ones beyond wait in the pool as "pending", at most
 * `max_pending_requests` of them. `max_requests` caps everything in flight, `max_retries` the
 * retries in flight (waiting for their backoff or sent).
 */
import type { UpstreamConfig } from '../config/types';
import { messageBody } from '../util/status-messages';
import type { ProxyError } from '../proxy/errors';
import { type SharedBalancerState, U } from './shared-state';

function overflow(code: string, message: string): ProxyError {
  return Object.freeze({ code, status: 503, source: 'upstream' as const, retryable: false, message, body: messageBody(message) });
}

export class CircuitBreaker {
  readonly #mem: Int32Array;
  readonly #base: number;
  readonly #maxRequests: number;
  readonly #maxInFlight: number;
  readonly #maxRetries: number;
  readonly tooManyRequests: ProxyError;
  readonly tooManyPending: ProxyError;
  readonly tooManyRetries: ProxyError;

  constructor(shared: SharedBalancerState, slot: number, upstream: UpstreamConfig) {
    const cb = upstream.circuitBreakers;
    this.#mem = shared.upstreams;
    this.#base = slot * U.Stride;
    this.#maxRequests = cb.maxRequests;
    this.#maxInFlight = cb.maxConnections + cb.maxPendingRequests;
    this.#maxRetries = cb.maxRetries;
    const name = upstream.name;
    this.tooManyRequests = overflow('FG_CIRCUIT_OPEN', `circuit breaker open: upstream '${name}' has ${cb.maxRequests} requests in flight (max_requests)`);
    this.tooManyPending = overflow(
      'FG_CIRCUIT_OPEN',
      `circuit breaker open: upstream '${name}' has ${cb.maxConnections} connections busy and ${cb.maxPendingRequests} requests pending (max_pending_requests)`,
    );
    this.tooManyRetries = overflow('FG_CIRCUIT_OPEN', `circuit breaker open: upstream '${name}' has ${cb.maxRetries} retries in flight (max_retries)`);
  }

  get active(): number {
    return Atomics.load(this.#mem, this.#base + U.ActiveRequests);
  }

  /** Take a request slot; the error to answer with when a limit is reached (nothing taken then). */
  acquire(): ProxyError | null {
    const mem = this.#mem;
    const at = this.#base + U.ActiveRequests;
    const before = Atomics.add(mem, at, 1);
    if (before < this.#maxRequests && before < this.#maxInFlight) return null;
    Atomics.sub(mem, at, 1);
    return before >= this.#maxRequests ? this.tooManyRequests : this.tooManyPending;
  }

  release(): void {
    Atomics.sub(this.#mem, this.#base + U.ActiveRequests, 1);
  }

  acquireRetry(): boolean {
    const at = this.#base + U.RetriesInFlight;
    if (Atomics.add(this.#mem, at, 1) < this.#maxRetries) return true;
    Atomics.sub(this.#mem, at, 1);
    return false;
  }

  releaseRetry(): void {
    Atomics.sub(this.#mem, this.#base + U.RetriesInFlight, 1);
  }
}
