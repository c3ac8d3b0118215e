/**
 * Downstream connections per worker: --max-connections, --client-header-timeout and
 * --client-idle-timeout, through whatever the uWS build lets JavaScript see.
 *
 * uWS.js has no accept hook. Builds since v20.4x have `App.filter(cb)`, called with +1 when an
 * HTTP connection opens and -1 when it closes, and `HttpResponse.getRemotePort()`; v20.30 (the
 * build this machine loads today) has neither, and a request cannot tell which connection it came
 * on. So there are two modes, picked at start by feature detection (no version checks):
 *
 * - **filter** (uWS with `App.filter`): exact. `open` counts connections; one that opens past
 *   --max-connections is remembered by remote address and port, and its first request gets the
 *   503 and `Connection: close` (we cannot answer HTTP before a request, and closing at accept, as
 *   NGINX and Envoy do, would tell the client nothing). With timeouts below uWS's fixed 10 s, each
 *   connection is tracked (address:port -> state) and a 1 s sweep closes one that has had no
 *   request in progress for longer than --client-header-timeout (no request yet) or
 *   --client-idle-timeout (after a response).
 * - **busy** (v20.30): NGINX's `limit_conn` semantics. NGINX counts "only connections with a
 *   request being processed whose header has been read"; over HTTP/1.1 that is one request per
 *   connection, i.e. this worker's requests in progress. Past the limit the request gets the 503
 *   and the connection is closed. Idle keep-alive connections are not counted: uWS bounds them
 *   itself (it closes a connection idle for 10 s, and one that has not sent a full head in 10 s).
 *
 * When the lead's uWS upgrade lands, the filter mode turns on by itself; nothing here changes.
 */
import type { Logger } from 'pino';
import type { NodeSettings } from '../settings';
import type { ConnectionLimit } from './admission';
import type { RequestContext } from './request-context';
import type { HttpResponse, TemplatedApp } from './uws';
import { workerCollectors } from '../metrics/registry';

/** What uWS itself enforces on v20.30 (HTTP_IDLE_TIMEOUT_S): no head in 10 s, or idle 10 s. */
export const UWS_FIXED_TIMEOUT_MS = 10_000;
const SWEEP_MS = 1000;

/** The parts of newer uWS builds we use, feature-detected. */
interface FilterApp {
  filter(cb: (res: HttpResponse, count: number) => void): unknown;
}
interface PortResponse {
  getRemotePort(): number;
}

const decoder = new TextDecoder();

/**
 * A connection's identity as JavaScript can see it: remote address and port. (Builds with
 * `filter` also have `getRemotePort`; without it, connections from one address would share a key.)
 */
function keyOf(res: HttpResponse): string {
  const address = decoder.decode(res.getRemoteAddressAsText());
  const withPort = res as unknown as Partial<PortResponse>;
  return typeof withPort.getRemotePort === 'function' ? address + ' ' + withPort.getRemotePort() : address;
}

class TrackedConnection {
  readonly res: HttpResponse;
  /** performance.now() of open, or of the end of its last request. */
  since: number;
  busy = 0;
  requests = 0;
  constructor(res: HttpResponse, now: number) {
    this.res = res;
    this.since = now;
  }
}

/** filter mode: exact counts from uWS's connection filter. */
export class FilteredConnections implements ConnectionLimit {
  open = 0;
  closedHeaderTimeout = 0;
  closedIdleTimeout = 0;
  readonly #max: number;
  readonly #headerTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  /** Connections opened past the limit, by "address port"; their first request is refused. */
  readonly #refusing = new Set<string>();
  /** Only with timeouts below uWS's own: every open connection. */
  readonly #tracked: Map<string, TrackedConnection> | null;
  /** Requests in progress on tracked connections (the key cannot be read once `res` has ended). */
  readonly #byRequest = new Map<RequestContext, TrackedConnection>();
  #sweep: NodeJS.Timeout | null = null;
  readonly #now: () => number;

  constructor(max: number, headerTimeoutMs: number, idleTimeoutMs: number, now: () => number = performance.now.bind(performance)) {
    this.#max = max;
    this.#headerTimeoutMs = headerTimeoutMs;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#now = now;
    const tighter = headerTimeoutMs < UWS_FIXED_TIMEOUT_MS || idleTimeoutMs < UWS_FIXED_TIMEOUT_MS;
    this.#tracked = tighter ? new Map() : null;
  }

  /** Its series on /metrics (a separate step so unit tests can build one without registering). */
  register(): void {
    workerCollectors.register('connections', () => [
      { name: 'floodgate_client_timeouts_closed_total', help: 'Connections closed for sending no full request head in time (header) or idling too long (idle).', type: 'counter', merge: 'sum', samples: [{ labels: { kind: 'header' }, value: this.closedHeaderTimeout }, { labels: { kind: 'idle' }, value: this.closedIdleTimeout }] },
    ]);
  }

  get tracking(): boolean {
    return this.#tracked !== null;
  }

  /** uWS's filter callback: +1 on open, -1 on close. */
  onFilter = (res: HttpResponse, count: number): void => {
    if (count > 0) {
      this.open++;
      const over = this.#max > 0 && this.open > this.#max;
      if (over || this.#tracked !== null) {
        const key = keyOf(res);
        if (over) this.#refusing.add(key);
        if (this.#tracked !== null) {
          this.#tracked.set(key, new TrackedConnection(res, this.#now()));
          if (this.#sweep === null) this.#startSweep();
        }
      }
    } else {
      this.open--;
      if (this.#refusing.size > 0 || this.#tracked !== null) {
        const key = keyOf(res);
        this.#refusing.delete(key);
        this.#tracked?.delete(key);
      }
    }
  };

  overLimit(ctx: RequestContext): boolean {
    return this.#refusing.size > 0 && this.#refusing.has(keyOf(ctx.res));
  }

  /** A request arrived on its connection (only called while tracking). */
  requestStarted(ctx: RequestContext): void {
    const conn = this.#tracked!.get(keyOf(ctx.res));
    if (conn === undefined) return;
    conn.busy++;
    conn.requests++;
    this.#byRequest.set(ctx, conn);
  }

  /** That request ended: its connection is idle from now. */
  requestEnded(ctx: RequestContext): void {
    const conn = this.#byRequest.get(ctx);
    if (conn === undefined) return;
    this.#byRequest.delete(ctx);
    conn.busy--;
    conn.since = this.#now();
  }

  /** @internal one sweep (exported for tests): close connections past their timeout. */
  sweep(): void {
    const now = this.#now();
    for (const conn of this.#tracked!.values()) {
      if (conn.busy > 0) continue;
      const limit = conn.requests === 0 ? this.#headerTimeoutMs : this.#idleTimeoutMs;
      if (now - conn.since <= limit) continue;
      if (conn.requests === 0) this.closedHeaderTimeout++;
      else this.closedIdleTimeout++;
      // Its -1 filter call removes it from the map (deleting while iterating a Map is safe).
      conn.res.close();
    }
  }

  stop(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  #startSweep(): void {
    this.#sweep = setInterval(() => this.sweep(), SWEEP_MS);
    this.#sweep.unref();
  }
}

/** busy mode (no filter in this uWS build): NGINX limit_conn, connections with a request in progress. */
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
 * Attach to `app` before it listens. Returns the filter-mode tracker when the build has one
 * (null when nothing needs it), and says in the log what the build can and cannot enforce.
 */
export function attachConnectionLimits(app: TemplatedApp, settings: NodeSettings, logger: Logger, workerId: number): { limit: ConnectionLimit | null; tracker: FilteredConnections | null } {
  const max = settings.maxConnections ?? 0;
  const headerMs = settings.clientHeaderTimeoutMs ?? UWS_FIXED_TIMEOUT_MS;
  const idleMs = settings.clientIdleTimeoutMs ?? UWS_FIXED_TIMEOUT_MS;
  const wantsTimeouts = headerMs < UWS_FIXED_TIMEOUT_MS || idleMs < UWS_FIXED_TIMEOUT_MS;
  if (max === 0 && !wantsTimeouts) return { limit: null, tracker: null };
  const filterable = typeof (app as unknown as Partial<FilterApp>).filter === 'function';
  if (filterable) {
    const tracker = new FilteredConnections(max, headerMs, idleMs);
    tracker.register();
    (app as unknown as FilterApp).filter(tracker.onFilter);
    return { limit: max > 0 ? tracker : null, tracker: tracker.tracking ? tracker : null };
  }
  if (workerId <= 1) {
    const lost: string[] = [];
    if (max > 0) lost.push('--max-connections counts connections with a request in progress (NGINX limit_conn semantics), not idle ones');
    if (wantsTimeouts) lost.push(`--client-header-timeout and --client-idle-timeout below ${UWS_FIXED_TIMEOUT_MS} ms are not enforced (uWS closes at its fixed 10 s)`);
    logger.warn({ uwsConnectionFilter: false }, `this uWebSockets.js build has no connection filter: ${lost.join('; ')}`);
  }
  return { limit: max > 0 ? new BusyConnections(max) : null, tracker: null };
}
