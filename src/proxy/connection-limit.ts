/**
 * Downstream connections per worker: how many are open, and --max-connections.
 *
 * uWS.js has no accept hook, but v20.57 has `App.filter(cb)`, called with +1 when an HTTP
 * connection opens and -1 when it closes, with a response object bound to that connection. So:
 *
 * - **Counting** is exact and costs one callback per connection, nothing per request
 *   (`floodgate_downstream_connections_open`, per worker; the primary's
 *   `floodgate_downstream_connections` is the kernel's node-wide count).
 * - **--max-connections**: a connection that opens past the limit is answered from the filter, at
 *   once, with the same 503, Retry-After and JSON reason as the other limits, plus
 *   `Connection: close`, and closed. NGINX and Envoy close at accept, which tells the client
 *   nothing; writing the answer before the request is read is what HTTP/1.1 allows a server that
 *   is closing (RFC 9112 §9.6), and clients read it as the answer to the request they send.
 *
 * What v20.57 does not let JavaScript do: tie a request to its connection. The filter's response
 * object and the handler's are different objects, and there is no `getRemotePort`, so head and
 * idle timeouts cannot be kept per connection here. uWS's own clock bounds slowloris heads and
 * idle keep-alive connections (measured: closed after about 32 s, 30 s on a 4 s timer; 8-12 s on
 * v20.30); `--client-idle-timeout` sets it through App.setIdleTimeout (uws.ts).
 * `--client-body-min-rate` (body-rate.ts) is per request and works on every build.
 *
 * On the v20.30 fallback (no filter) --max-connections uses NGINX's `limit_conn` semantics:
 * requests in progress, one per HTTP/1.1 connection; past the limit the request gets the 503 and
 * its connection is closed. A warning at start says so.
 */
import type { Logger } from 'pino';
import type { NodeSettings } from '../settings';
import type { ConnectionLimit } from './admission';
import type { RequestContext } from './request-context';
import { addConnectionFilter, uwsBuild, type HttpResponse, type TemplatedApp } from './uws';
import { workerCollectors } from '../metrics/registry';

/** uWS's own fixed timeout for a connection with no full head, or idle (see above). */
export const UWS_FIXED_TIMEOUT_MS = uwsBuild.variant === 'legacy' ? 10_000 : 30_000;

/** The refusal written from the filter: fixed bytes, built once. */
export interface ConnectionRefusal {
  readonly statusLine: string;
  readonly retryAfter: string;
  readonly contentType: string;
  readonly body: string;
}

let refusing: ConnectionCounter | null = null;

/** Inside cork (a method, not a closure per connection): the 503 for a connection past the limit. */
function writeRefusal(this: HttpResponse): void {
  const r = refusing!.refusal;
  this.writeStatus(r.statusLine).writeHeader('retry-after', r.retryAfter).writeHeader('content-type', r.contentType).end(r.body, true);
}

/** Filter mode: exact counts from uWS's connection filter; refusal at open. */
export class ConnectionCounter {
  open = 0;
  /** Connections refused at open for --max-connections. */
  refused = 0;
  readonly #max: number;
  readonly refusal: ConnectionRefusal;

  constructor(max: number, refusal: ConnectionRefusal) {
    this.#max = max;
    this.refusal = refusal;
  }

  /** uWS's filter callback: +1 on open, -1 on close. */
  onFilter = (res: HttpResponse, count: number): void => {
    if (count < 0) {
      this.open--;
      return;
    }
    this.open++;
    if (this.#max > 0 && this.open > this.#max) {
      this.refused++;
      refusing = this;
      res.cork(writeRefusal.bind(res));
      refusing = null;
    }
  };
}

/** Fallback mode (no filter in the v20.30 build): NGINX limit_conn, requests in progress. */
export class BusyConnections implements ConnectionLimit {
  readonly open = -1;
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  overLimit(ctx: RequestContext): boolean {
    // inFlight counts this request too.
    return ctx.server.inFlight > this.#max;
  }
}

/**
 * Attach to `app` before it listens. With a filter (v20.57): the counter (always, since counting
 * is free), and no per-request limit. Without: the per-request fallback when --max-connections is
 * set, with a warning that says what is lost.
 */
export function attachConnectionLimits(
  app: TemplatedApp,
  settings: NodeSettings,
  logger: Logger,
  workerId: number,
  refusal: ConnectionRefusal,
): { counter: ConnectionCounter | null; limit: ConnectionLimit | null } {
  const max = settings.maxConnections ?? 0;
  const counter = new ConnectionCounter(max, refusal);
  if (addConnectionFilter(app, counter.onFilter)) return { counter, limit: null };
  if (max > 0 && workerId <= 1) {
    logger.warn(
      { uwsConnectionFilter: false },
      'this uWebSockets.js build has no connection filter: --max-connections counts connections with a request in progress (NGINX limit_conn semantics), not idle ones',
    );
  }
  return { counter: null, limit: max > 0 ? new BusyConnections(max) : null };
}

/** The worker's open connections on /metrics, exact (uWS's filter), beside the kernel's node-wide count. */
export function registerConnectionGauge(counter: ConnectionCounter): void {
  workerCollectors.register('connections', () => [
    { name: 'floodgate_downstream_connections_open', help: 'Downstream connections open on the worker (uWS connection filter).', type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: counter.open }] },
  ]);
}
