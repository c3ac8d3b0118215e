/**
 * Worker-level admission control: what Envoy's overload manager and NGINX's limits give, decided
 * once per request right before the plugin chain (server.ts calls `admit` where it would call
 * `runRequestPhase`, after the body stream is attached, so a queued request keeps its body).
 *
 * In order, cheapest refusal first:
 * 1. --shed-lag-ms: the event loop is late (lag-monitor.ts). New requests are refused with a
 *    probability that grows from 0 at the threshold to 1 at twice the threshold, so the worker
 *    sheds just enough work to get back under it instead of flapping between all and nothing.
 *    Requests already admitted finish; only new ones are refused, and a refusal costs a fixed
 *    small reply, which is what keeps p99 of the admitted ones bounded past saturation.
 * 2. --max-connections: connections open on this worker (connection-limit.ts).
 * 3. --max-in-flight: requests being proxied by this worker, with a bounded FIFO wait
 *    (--in-flight-queue, --in-flight-queue-timeout) before refusing.
 *
 * A refusal is a fast 503 with `Retry-After: 1` and a JSON body naming the limit:
 * `{"message": "...", "reason": "max_in_flight"}`. Every limit has a counter on /metrics
 * (`floodgate_overload_rejections_total{reason}` and friends, registered here).
 */
import type { Logger } from 'pino';
import type { NodeSettings } from '../settings';
import { workerCollectors, type MetricFamily } from '../metrics/registry';
import { ConcurrencyGate, type GateWaiter } from './concurrency-gate';
import { LagMonitor } from './lag-monitor';
import { Errors, type ProxyError } from './errors';
import type { RequestContext } from './request-context';
import type { ConnectionCounter } from './connection-limit';

const JSON_TYPE = 'application/json; charset=utf-8';
/** Seconds a refused client should wait; short, since overload is usually a burst. */
export const RETRY_AFTER_S = '1';
const RETRY_AFTER_HEADERS: readonly string[] = ['retry-after', RETRY_AFTER_S];

export type OverloadReason = 'event_loop_lag' | 'max_connections' | 'max_in_flight' | 'queue_timeout';

function overloadError(code: string, reason: OverloadReason, message: string): ProxyError {
  return Object.freeze({
    code,
    status: 503,
    source: 'internal' as const,
    retryable: false,
    message,
    body: JSON.stringify({ message, reason }),
  });
}

/** The replies, built once (errors are values; the body is serialized here, not per request). */
export const OverloadErrors = {
  lag: overloadError('FG_OVERLOAD_LAG', 'event_loop_lag', 'Service temporarily overloaded: event loop lag over --shed-lag-ms'),
  connections: overloadError('FG_OVERLOAD_CONNECTIONS', 'max_connections', 'Service temporarily overloaded: too many connections (--max-connections)'),
  inFlight: overloadError('FG_OVERLOAD_IN_FLIGHT', 'max_in_flight', 'Service temporarily overloaded: too many requests in flight (--max-in-flight)'),
  queueTimeout: overloadError('FG_OVERLOAD_QUEUE_TIMEOUT', 'queue_timeout', 'Service temporarily overloaded: no request slot freed within --in-flight-queue-timeout'),
} as const;

/** Answer a refused request: 503, Retry-After, JSON reason; optionally close the connection. */
export function refuse(ctx: RequestContext, error: ProxyError, close: boolean): void {
  ctx.error = error;
  if (close) ctx.closeAfterReply = true;
  ctx.respond(error.status, error.body, JSON_TYPE, RETRY_AFTER_HEADERS);
}

/** A request waiting for an in-flight slot; allocated only for requests that have to wait. */
class QueuedRequest implements GateWaiter {
  readonly #ctx: RequestContext;
  readonly #admission: Admission;

  constructor(ctx: RequestContext, admission: Admission) {
    this.#ctx = ctx;
    this.#admission = admission;
  }

  admitted(): void {
    const ctx = this.#ctx;
    ctx.admissionWait = null;
    ctx.holdsAdmission = true;
    // Not synchronously: this runs inside another request's finish (and maybe its cork).
    queueMicrotask(this.#start);
  }

  #start = (): void => {
    this.#admission.startAdmitted(this.#ctx);
  };

  expired(): void {
    const ctx = this.#ctx;
    ctx.admissionWait = null;
    this.#admission.queueTimeouts++;
    if (!ctx.aborted && !ctx.done) refuse(ctx, OverloadErrors.queueTimeout, false);
  }
}

/** The 503 a connection opened past --max-connections gets from uWS's filter (connection-limit.ts). */
export const CONNECTION_REFUSAL = {
  statusLine: '503 Service Unavailable',
  retryAfter: RETRY_AFTER_S,
  contentType: JSON_TYPE,
  body: OverloadErrors.connections.body,
} as const;

/** The v20.30 fallback's per-request --max-connections check (connection-limit.ts). */
export interface ConnectionLimit {
  /** True when this request's connection is past the limit (it gets a 503 and is closed). */
  overLimit(ctx: RequestContext): boolean;
  /** Open connections on this worker, or -1 when the uWS build cannot tell. */
  readonly open: number;
}

export class Admission {
  readonly lag: LagMonitor | null;
  readonly inFlight: ConcurrencyGate | null;
  /** v20.30 fallback only: --max-connections checked per request. */
  connections: ConnectionLimit | null = null;
  /** v20.57: connections counted (and refused past the limit) by uWS's connection filter. */
  #counter: ConnectionCounter | null = null;
  /** --shed-lag-ms; 0 = off. */
  readonly #shedLagMs: number;
  // Counters for /metrics (per worker, summed by the scrape).
  shedLag = 0;
  refusedConnections = 0;
  refusedInFlight = 0;
  queueTimeouts = 0;
  readonly #logger: Logger;

  constructor(settings: NodeSettings, logger: Logger) {
    this.#logger = logger;
    this.#shedLagMs = settings.shedLagMs ?? 0;
    this.lag = this.#shedLagMs > 0 ? new LagMonitor() : null;
    this.lag?.start();
    const max = settings.maxInFlight ?? 0;
    this.inFlight = max > 0 ? new ConcurrencyGate(max, settings.inFlightQueue ?? 0, settings.inFlightQueueTimeoutMs ?? 1000) : null;
    workerCollectors.register('overload', this.#collect);
  }

  attachConnections(counter: ConnectionCounter | null, limit: ConnectionLimit | null): void {
    this.#counter = counter;
    this.connections = limit;
  }

  /** Any admission flag set? Otherwise server.ts skips `admit` entirely. */
  static needed(settings: NodeSettings): boolean {
    return (settings.shedLagMs ?? 0) > 0 || (settings.maxInFlight ?? 0) > 0 || (settings.maxConnections ?? 0) > 0;
  }

  /** Decide now: run the chain, queue, or refuse. Never throws for an expected outcome. */
  admit(ctx: RequestContext): void {
    const lag = this.lag;
    if (lag !== null && lag.lagMs > this.#shedLagMs && this.#shouldShed(lag.lagMs)) {
      this.shedLag++;
      return refuse(ctx, OverloadErrors.lag, false);
    }
    const conns = this.connections;
    if (conns !== null && conns.overLimit(ctx)) {
      this.refusedConnections++;
      return refuse(ctx, OverloadErrors.connections, true);
    }
    const gate = this.inFlight;
    if (gate === null) return ctx.runRequestPhase();
    if (gate.tryEnter()) {
      ctx.holdsAdmission = true;
      return ctx.runRequestPhase();
    }
    const waiter = new QueuedRequest(ctx, this);
    if (gate.wait(waiter)) {
      ctx.admissionWait = waiter;
      return;
    }
    this.refusedInFlight++;
    refuse(ctx, OverloadErrors.inFlight, false);
  }

  /** @internal a queued request got its slot: run its chain (it may have gone meanwhile). */
  startAdmitted(ctx: RequestContext): void {
    if (ctx.aborted || ctx.done) {
      // It went away meanwhile; its finish gave the slot back unless it has not run yet.
      if (ctx.holdsAdmission) {
        ctx.holdsAdmission = false;
        this.inFlight!.leave();
      }
      return;
    }
    try {
      ctx.runRequestPhase();
    } catch (err) {
      // As in the uWS handler: a bug costs this request (a 500), not the worker.
      this.#logger.error({ err }, 'unexpected error starting a queued request');
      if (!ctx.aborted && !ctx.done) ctx.fail(Errors.internal);
    }
  }

  /** From requestFinished, exactly once per request: give back what it holds. */
  finished(ctx: RequestContext): void {
    if (ctx.holdsAdmission) {
      ctx.holdsAdmission = false;
      this.inFlight!.leave();
    } else if (ctx.admissionWait !== null) {
      this.inFlight!.cancel(ctx.admissionWait);
      ctx.admissionWait = null;
    }
  }

  stop(): void {
    this.lag?.stop();
  }

  /** Shed with probability (lag - threshold) / threshold: 0 at the threshold, 1 at twice it. */
  #shouldShed(lagMs: number): boolean {
    const over = (lagMs - this.#shedLagMs) / this.#shedLagMs;
    return over >= 1 || Math.random() < over;
  }

  #collect = (): MetricFamily[] => {
    const families: MetricFamily[] = [
      {
        name: 'floodgate_overload_rejections_total',
        help: 'Requests refused with 503 by worker admission control, by the limit that refused them.',
        type: 'counter',
        merge: 'sum',
        samples: [
          { labels: { reason: 'event_loop_lag' }, value: this.shedLag },
          { labels: { reason: 'max_connections' }, value: this.refusedConnections + (this.#counter?.refused ?? 0) },
          { labels: { reason: 'max_in_flight' }, value: this.refusedInFlight },
          { labels: { reason: 'queue_timeout' }, value: this.queueTimeouts },
        ],
      },
    ];
    const gate = this.inFlight;
    if (gate !== null) {
      families.push(
        { name: 'floodgate_overload_in_flight', help: 'Requests holding an --max-in-flight slot.', type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: gate.active }] },
        { name: 'floodgate_overload_queued', help: 'Requests waiting for an --max-in-flight slot.', type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: gate.queued }] },
        { name: 'floodgate_overload_admitted_after_wait_total', help: 'Requests that waited in the --in-flight-queue and were then admitted.', type: 'counter', merge: 'sum', samples: [{ labels: {}, value: gate.admittedAfterWait }] },
      );
    }
    if (this.lag !== null) {
      families.push({ name: 'floodgate_overload_event_loop_lag_ms', help: 'Smoothed event-loop lag the shedder compares with --shed-lag-ms.', type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: Math.round(this.lag.lagMs * 10) / 10 }] });
    }
    return families;
  };
}
