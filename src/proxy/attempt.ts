/**
 * The upstream attempt (Envoy's UpstreamRequest): the request's side of our engine's exchange
 * (src/upstream/exchange.ts). It owns what one upstream try needs and what ends with it:
 *   - the circuit breaker's request and retry slots and the retry budget;
 *   - the target's node-wide in-flight count;
 *   - passive health (outcomes reported node-wide) and latency observations;
 *   - the retry decision and its backoff timer, to another target when one is left.
 * The response itself goes on to the downstream side through `AttemptOwner`'s three methods, so
 * this file never touches uWS, plugins or logging.
 *
 * One attempt object per proxied request, created when the request is forwarded; its exchange is
 * created at the first dispatch and reused by every retry.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { backoffDelay } from '../balancer/backoff';
import type { HashSource } from '../balancer/balancer';
import { Outcome, recordOutcome } from '../balancer/health-state';
import { T } from '../balancer/shared-state';
import { GrpcOutcome } from '../grpc/call';
import { ExchangeState, UpstreamExchange, type ExchangeHandler } from '../upstream/exchange';
import { Failure } from '../upstream/failures';
import type { ResponseHead } from '../upstream/response-head';
import { errorForFailure, Errors, type ProxyError } from './errors';
import type { RequestBody } from './request-body';
import type { CompiledService, UpstreamTarget } from './snapshot';
import { isIdempotent } from '../util/http-methods';

/** What the attempt needs from its request (request-context.ts). */
export interface AttemptOwner extends HashSource {
  readonly request: HashSource['request'] & { readonly method: string; readonly contentLength: number };
  /** The client's body stream, or null. */
  readonly body: RequestBody | null;
  /** The target being tried: the log record reads it. */
  target: UpstreamTarget | null;
  /** The upstream's status once its head arrived (0 before): no retry after that. */
  readonly responseStatus: number;
  readonly finished: boolean;
  readonly logger: Logger;
  readonly routeName: string | null;
  fail(error: ProxyError): void;
  /** The downstream side of the response (request-context.ts hands it to downstream.ts). */
  upstreamHead(head: ResponseHead, at: number): void;
  upstreamData(chunk: Buffer): boolean;
  upstreamEnd(): void;
}

/** Unix seconds, for the retry budget's buckets and ejection times. */
function nowSeconds(): number {
  return (Date.now() / 1000) | 0;
}

function retryTimerFired(attempt: UpstreamAttempt): void {
  attempt.retryNow();
}


export class UpstreamAttempt implements ExchangeHandler {
  readonly #owner: AttemptOwner;
  readonly #service: CompiledService;
  /** The route keeps the client's Host (preserve_host): a retry leaves the host header alone. */
  readonly #preserveHost: boolean;
  /** Retries done so far (the service's `retries` caps them). */
  retriesDone = 0;
  /** performance.now() when the current try was dispatched. */
  startedAt = 0;
  /** Bit i: target i of the balancer already failed this request. */
  #tried = 0;
  #holdsTarget = false;
  #holdsBreaker = false;
  #holdsRetry = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #exchange: UpstreamExchange | null = null;
  #method = '';
  #path = '';
  #headers: string[] | null = null;
  /** A body a plugin read whole: sent as a buffer, and again by a retry. */
  #buffered: Buffer | null = null;

  constructor(owner: AttemptOwner, service: CompiledService, preserveHost: boolean) {
    this.#owner = owner;
    this.#service = service;
    this.#preserveHost = preserveHost;
  }

  /**
   * Take the breaker's slot and pick the first target. Null when the request may go on, else the
   * error to answer with (breaker open or full, no healthy target).
   */
  begin(): ProxyError | null {
    const service = this.#service;
    const breaker = service.breaker;
    if (breaker !== null) {
      const overflow = breaker.acquire();
      if (overflow !== null) return overflow;
      this.#holdsBreaker = true;
      service.budget!.recordRequest(nowSeconds());
    }
    const target = service.balancer.pick(this.#owner, 0);
    if (target === null) return Errors.noHealthyTarget;
    this.#useTarget(target);
    return null;
  }

  /** Send the request built by the context (the headers list is kept: a retry re-sends it). */
  send(method: string, path: string, headers: string[], buffered: Buffer | null): void {
    this.#method = method;
    this.#path = path;
    this.#headers = headers;
    this.#buffered = buffered;
    this.startedAt = performance.now();
    this.#dispatch();
  }

  /** The client was slow and is writable again: read on. */
  resume(): void {
    const ex = this.#exchange;
    if (ex !== null) ex.resume();
  }

  /** The request ended early (local reply, client gone, connection cut): stop the exchange. */
  cancel(): void {
    const ex = this.#exchange;
    if (ex !== null && ex.state !== ExchangeState.Done) ex.abort();
  }

  /** The request ended (server.requestFinished): give back every node-wide count it holds. */
  release(): void {
    if (this.#retryTimer !== null) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
    this.#releaseTarget();
    const breaker = this.#service.breaker;
    if (breaker === null) return;
    if (this.#holdsBreaker) {
      this.#holdsBreaker = false;
      breaker.release();
    }
    if (this.#holdsRetry) {
      this.#holdsRetry = false;
      breaker.releaseRetry();
    }
  }

  // ---------------------------------------------------------------- ExchangeHandler

  onResponseHead(head: ResponseHead): void {
    const owner = this.#owner;
    if (owner.finished) return;
    // 1xx never get here: the engine drops them as NGINX does (uWS cannot send an interim head
    // before the final one anyway), and a 101 is a failure (upgrades are not proxied).
    const service = this.#service;
    const now = performance.now();
    if (service.passive !== null) this.#reportPassive(service.passive.classifyStatus(head.status), head.status);
    if (service.observesLatency) service.balancer.observe(owner.target!, now - this.startedAt);
    owner.upstreamHead(head, now);
  }

  onResponseData(chunk: Buffer): boolean {
    return this.#owner.upstreamData(chunk);
  }

  onResponseEnd(): void {
    this.#owner.upstreamEnd();
  }

  onExchangeFailed(failure: Failure, detail: string, cause: Error | null): void {
    const owner = this.#owner;
    if (owner.finished) return;
    const error = errorForFailure(failure, detail);
    const service = this.#service;
    // Only the target's own faults count against its health: not a full pool queue, not a
    // request we could not send, not a failure of the gateway's own.
    if (service.passive !== null && owner.responseStatus === 0 && error.source === 'upstream' && error.status !== 503) {
      const timedOut = failure === Failure.ConnectTimeout || failure === Failure.ReadTimeout || failure === Failure.WriteTimeout;
      this.#reportPassive(timedOut ? Outcome.Timeout : Outcome.TcpFailure, 0);
    }
    if (this.#mayRetry(error)) return this.#scheduleRetry();
    // Plugins never get here (chain.ts catches them): this is a bug of the gateway's own.
    if (failure === Failure.HandlerError) owner.logger.error({ err: cause, route: owner.routeName }, 'unexpected error while the upstream response arrived');
    else if (error === Errors.upstreamUnavailable || failure === Failure.Protocol || failure === Failure.Tls) {
      owner.logger.warn({ err: cause, reason: detail, target: owner.target?.address }, 'upstream error');
    }
    owner.fail(error);
  }

  /**
   * A gRPC call (src/grpc/call.ts) goes around the engine, so it reports here what an exchange
   * reports above: its response head's status (and latency), or a failure before the head, a
   * TCP failure or a timeout against the target's passive health.
   */
  reportGrpcOutcome(kind: GrpcOutcome, status: number): void {
    const service = this.#service;
    if (kind === GrpcOutcome.Response) {
      if (service.passive !== null) this.#reportPassive(service.passive.classifyStatus(status), status);
      if (service.observesLatency) service.balancer.observe(this.#owner.target!, performance.now() - this.startedAt);
      return;
    }
    if (service.passive !== null) this.#reportPassive(kind === GrpcOutcome.TimedOut ? Outcome.Timeout : Outcome.TcpFailure, 0);
  }

  // ---------------------------------------------------------------- retries

  /**
   * Whether the failed try may be retried on another target: retries left, a request that can be
   * replayed (never reached the upstream, or idempotent without a body), and room in the circuit
   * breaker's max_retries and the upstream's retry budget.
   */
  #mayRetry(error: ProxyError): boolean {
    const service = this.#service;
    if (this.retriesDone >= service.config.retries || this.#owner.responseStatus !== 0) return false;
    if (!error.retryable && error !== Errors.upstreamReadTimeout) return false;
    // Once a byte of the request was written to a socket, it may have reached the upstream.
    const ex = this.#exchange!;
    // A body a plugin read whole is a buffer that can be sent again.
    const body = this.#buffered !== null ? null : this.#owner.body;
    if (ex.headWritten) {
      if (body !== null || !isIdempotent(this.#owner.request.method)) return false;
    } else if (body !== null && ex.bodyRead) {
      return false;
    }
    const breaker = service.breaker;
    if (breaker !== null) {
      if (!this.#holdsRetry) {
        if (!breaker.acquireRetry()) return false;
        this.#holdsRetry = true;
      }
      if (!service.budget!.tryRetry(nowSeconds())) return false;
    }
    return true;
  }

  #scheduleRetry(): void {
    const failed = this.#owner.target!;
    this.#releaseTarget();
    if (failed.index < 31) this.#tried |= 1 << failed.index;
    this.retriesDone++;
    const service = this.#service;
    const delay = backoffDelay(this.retriesDone, service.backoffBaseMs, service.backoffMaxMs);
    this.#retryTimer = setTimeout(retryTimerFired, delay, this);
  }

  /** @internal the backoff is over: dispatch again, to another target when one is available. */
  retryNow(): void {
    this.#retryTimer = null;
    const owner = this.#owner;
    if (owner.finished) return;
    const target = this.#service.balancer.pick(owner, this.#tried);
    if (target === null) return owner.fail(Errors.noHealthyTarget);
    this.#useTarget(target);
    const headers = this.#headers!;
    if (!this.#preserveHost && headers[0] === 'host') headers[1] = target.hostHeader;
    this.startedAt = performance.now();
    this.#dispatch();
  }

  #dispatch(): void {
    const owner = this.#owner;
    const config = this.#service.config;
    const ex = (this.#exchange ??= new UpstreamExchange(this));
    // A body a plugin read whole (readRequestBody, setUpstreamBody) goes as a buffer, and a retry
    // sends it again; otherwise the client's stream.
    const buffered = this.#buffered;
    const body = buffered !== null ? Readable.from([buffered]) : owner.body;
    const length = buffered !== null ? buffered.length : body === null || owner.request.contentLength < 0 ? -1 : owner.request.contentLength;
    // The header list is checked as it is built (request checks, setUpstreamHeader); the target
    // still is: a path a plugin set may hold a control character.
    if (!ex.prepare(this.#method, this.#path, this.#headers!, body, length, config.readTimeout, config.writeTimeout, true)) {
      return owner.fail(Errors.badRequest);
    }
    ex.beginAttempt();
    owner.target!.pool.dispatch(ex);
  }

  #useTarget(target: UpstreamTarget): void {
    this.#owner.target = target;
    if (target.slot >= 0) {
      Atomics.add(this.#service.balancer.shared.targets, target.slot * T.Stride + T.InFlight, 1);
      this.#holdsTarget = true;
    }
  }

  #releaseTarget(): void {
    if (!this.#holdsTarget) return;
    this.#holdsTarget = false;
    Atomics.sub(this.#service.balancer.shared.targets, this.#owner.target!.slot * T.Stride + T.InFlight, 1);
  }

  /** Passive health check: count this outcome against the target, node-wide. */
  #reportPassive(outcome: number, status: number): void {
    const target = this.#owner.target;
    if (target === null || target.slot < 0 || outcome < 0) return;
    const service = this.#service;
    const balancer = service.balancer;
    recordOutcome(balancer.shared, target.slot, outcome, status, service.passive!, true, nowSeconds(), balancer);
  }
}
