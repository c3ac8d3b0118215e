/**
 * One worker's listener: a uWS app on the shared port (SO_REUSEPORT, uSockets' default on Linux,
 * so the kernel spreads connections across workers) with a single catch-all handler.
 *
 * The handler's job is the part that must be synchronous: attach onAborted, copy the request head
 * out of uWS, reject malformed input with a 4xx, route, and hook up the body stream. Everything
 * after that lives in the stages (ARCHITECTURE.md "Life of a request"): the request context and
 * its plugin chain (chain.ts), upstream attempt (attempt.ts) and downstream writer (downstream.ts).
 */
import type { Logger } from 'pino';
import type { NodeSettings } from '../settings';
import type { AccessLog } from '../util/logger';
import type { WorkerMetrics } from '../metrics/worker-metrics';
import { accessLogRecord, shouldLog } from '../logging/access-log';
import { lastRequestSerial, nextRequestId } from '../logging/request-id';
import { TraceContext } from '../tracing/trace-context';
import { normalizePath } from '../router/normalize';
import { messageBody } from '../util/status-messages';
import type { TlsListener } from '../tls/listener';
import { defaultWebSocketSettings, type WebSocketBridge, type WebSocketSettings } from '../websocket/bridge';
import { prepareUpgradeHead, webSocketBehavior, type BridgeRef } from '../websocket/upgrade';
import { Errors, type ProxyError } from './errors';
import { answerPlainHttp, httpsOnly } from './https-only';
import { Admission, CONNECTION_REFUSAL } from './admission';
import { BodyRateGuard } from './body-rate';
import { attachConnectionLimits, registerConnectionGauge, type ConnectionCounter } from './connection-limit';
import { RequestBody } from './request-body';
import { PeerAddresses, remoteAddressText } from './remote-address';
import { RequestContext } from './request-context';
import { DownstreamHead } from './request-head';
import {
  addTransferEncoding,
  climbsAboveRoot,
  hasControlByte,
  hasEncodedNul,
  isForwardableValue,
  isToken,
  isValidHostHeader,
  needsValueCheck,
  parseRequestContentLength,
  TransferCoding,
} from './request-validation';
import { ForwardedParts } from './upstream-request';
import type { Snapshot } from './snapshot';
import { addConnectionFilter, setHttpIdleTimeout, uws, uwsBuild, type ConnectionFilter, type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from './uws';
import type { us_socket_context_t, WebSocketBehavior } from 'uWebSockets.js';

/** The head being filled by req.forEach; forEach is synchronous, so one module slot suffices. */
let collecting: DownstreamHead | null = null;

/** h2 front: a header of an HTTP/2 request, counted and classified as uWS's would be. */
export function collectStreamHeader(name: string, value: string): void {
  collectHeader(name, value);
}

function collectHeader(name: string, value: string): void {
  const head = collecting!;
  head.headerNames.push(name);
  head.headerValues.push(value);
  head.headBytes += name.length + value.length + 4;
  if (needsValueCheck(value)) {
    head.nonAsciiValues = true;
    if (!isForwardableValue(value)) head.badHeaderValue = true;
  }
  switch (name) {
    case 'host':
      head.hostHeader = value;
      head.hostCount++;
      break;
    case 'content-length':
      // A second Content-Length, even an equal one, is refused as NGINX does: no list to collapse.
      head.contentLength = head.contentLength === -1 ? parseRequestContentLength(value) : -2;
      break;
    case 'transfer-encoding':
      head.hasTransferEncoding = true;
      head.transferCoding = addTransferEncoding(head.transferCoding, value);
      break;
    case 'connection': {
      const lower = value.toLowerCase();
      // uWS closes after the response when the first Connection value is 5 bytes long ("close").
      if (head.connectionFields++ === 0) head.uwsClosesSilently = value.length === 5;
      head.connection = head.connection === '' ? lower : head.connection + ', ' + lower;
      break;
    }
    case 'x-forwarded-for':
      head.xForwardedFor = head.xForwardedFor === '' ? value : head.xForwardedFor + ', ' + value;
      break;
    case 'via':
      head.via = value;
      break;
    case 'traceparent':
      head.traceparent = value;
      break;
    case 'tracestate':
      head.tracestate = head.tracestate === '' ? value : head.tracestate + ',' + value;
      break;
    default:
      break;
  }
}

/** The head copy without a uWS request, for bench/micro/pipeline.ts: the same collectHeader. */
export function collectHeadersInto(head: DownstreamHead, names: readonly string[], values: readonly string[]): void {
  collecting = head;
  for (let i = 0; i < names.length; i++) collectHeader(names[i], values[i]);
  collecting = null;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export class ProxyServer {
  readonly settings: NodeSettings;
  readonly logger: Logger;
  readonly portString: string;
  /** The TLS listener's port, for X-Forwarded-Port, default Host ports and https redirects. */
  readonly tlsPort: number;
  readonly tlsPortString: string;
  /** The HTTPS listener (src/tls/listener.ts), once started; it calls `handleSecure`. */
  tls: TlsListener | null = null;
  /** WebSocket limits (--ws-max-message-bytes, --ws-idle-timeout). */
  readonly websocket: WebSocketSettings;
  /** Proxied WebSockets open on this worker; a drain closes them with 1001. */
  readonly websockets = new Set<WebSocketBridge>();
  /** uWS `ws` behaviors: the plain listener's, and the one the TLS listener registers. */
  readonly wsBehavior: WebSocketBehavior<BridgeRef>;
  readonly wsBehaviorSecure: WebSocketBehavior<BridgeRef>;
  /** X-Forwarded-* and Via parts fixed per listener (upstream-request.ts): plain and TLS. */
  readonly forwarded: ForwardedParts;
  readonly forwardedSecure: ForwardedParts;
  /** --request-id-header, lower-case; '' = no request id. */
  readonly requestIdHeader: string;
  snapshot: Snapshot;
  draining = false;
  inFlight = 0;
  /** Date.now() of the last request that arrived; a retiring worker waits for quiet. */
  lastRequestAt = 0;
  /** Per-route counters and latency histograms; `null` with --metrics off. */
  metrics: WorkerMetrics | null = null;
  /** Overload protection (admission.ts); null when no limit is set, so the default path skips it. */
  readonly admission: Admission | null;
  /** --client-body-min-rate (body-rate.ts); null when off. */
  readonly bodyRate: BodyRateGuard | null;
  /** Per-connection timeouts tighter than uWS's own (connection-limit.ts); null unless needed. */
  /** Open connections from uWS's connection filter (v20.57); null on the v20.30 fallback. */
  readonly connections: ConnectionCounter | null;
  /** h2 front (src/h2/edge.ts): GOAWAY on drain, sessions and pipes cut after it. */
  edge: { close(): void; destroy(): void } | null = null;
  /**
   * h2 front (h2/loopback-peers.ts): a piped HTTPS/1.1 connection arrives from a loopback address
   * the front chose for it; `restore` puts back the client's address (and, with mTLS, its certificate).
   */
  loopbackPeers: { restore(head: DownstreamHead): void } | null = null;

  /** Each connection's client address, read once (remote-address.ts); null without the addon. */
  readonly peers: PeerAddresses | null = PeerAddresses.create();

  /**
   * uWS's connection filter, for every app of this server (the TLS listener's and the inner
   * listener's too): connections are counted and their addresses kept. The address entry comes
   * first, so a connection refused at open (--max-connections) closes after it and drops it.
   */
  readonly connectionFilter: ConnectionFilter | null;

  readonly #accessLog: AccessLog | null;
  readonly #app: TemplatedApp;
  readonly #workerId: number;
  #listenSocket: us_listen_socket | null = null;
  #pendingHeads: RequestContext[] = [];
  #spareHeads: RequestContext[] = [];
  #headFlushScheduled = false;
  #drained: (() => void) | null = null;

  constructor(settings: NodeSettings, logger: Logger, accessLog: AccessLog | null, snapshot: Snapshot, workerId: number) {
    this.settings = settings;
    this.logger = logger;
    this.#accessLog = accessLog;
    this.snapshot = snapshot;
    this.#workerId = workerId;
    this.portString = String(settings.listenPort);
    this.tlsPort = settings.tls?.port ?? 8443;
    this.tlsPortString = String(this.tlsPort);
    this.requestIdHeader = settings.requestIdHeader ?? 'x-floodgate-request-id';
    this.websocket = settings.websocket ?? defaultWebSocketSettings;
    this.wsBehavior = webSocketBehavior(this.websocket, (res, req, context) => this.#accept(res, req, false, context));
    this.wsBehaviorSecure = webSocketBehavior(this.websocket, (res, req, context) => this.#accept(res, req, true, context));
    this.#app = uws.App().any('/*', this.#handle).ws('/*', this.wsBehavior);
    const idle = settings.clientIdleTimeoutS ?? 0;
    if (idle > 0 && !setHttpIdleTimeout(this.#app, idle) && workerId <= 1) logger.warn('--client-idle-timeout needs uWS v20.57; the v20.30 fallback closes at a fixed 10 s');
    this.forwarded = new ForwardedParts('http', settings.listenPort, this.requestIdHeader);
    this.forwardedSecure = new ForwardedParts('https', this.tlsPort, this.requestIdHeader);
    if (this.peers !== null) addConnectionFilter(this.#app, this.peers.onFilter);
    const connections = attachConnectionLimits(this.#app, settings, logger, workerId, CONNECTION_REFUSAL);
    this.connections = connections.counter;
    this.connectionFilter = combineFilters(this.peers === null ? null : this.peers.onFilter, connections.counter === null ? null : connections.counter.onFilter);
    if (connections.counter !== null) registerConnectionGauge(connections.counter);
    this.admission = Admission.needed(settings) ? new Admission(settings, logger) : null;
    if (this.admission !== null) this.admission.attachConnections(connections.counter, connections.limit);
    this.bodyRate = (settings.clientBodyMinRate ?? 0) > 0 ? new BodyRateGuard(settings.clientBodyMinRate!) : null;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#app.listen(this.settings.listenHost, this.settings.listenPort, (socket) => {
        if (socket === false) {
          reject(new Error(`cannot listen on ${this.settings.listenHost}:${this.settings.listenPort}`));
          return;
        }
        this.#listenSocket = socket;
        resolve();
      });
    });
  }

  /** Swap in a new config. Requests in flight keep the snapshot they started with. */
  swap(snapshot: Snapshot): void {
    const old = this.snapshot;
    this.snapshot = snapshot;
    if (old !== snapshot) old.retire(this.#pluginCloseFailed);
  }

  /** The worker drained: close the current snapshot's plugins (retired ones closed as they emptied). */
  closePlugins(): void {
    this.snapshot.closePlugins(this.#pluginCloseFailed);
  }

  #pluginCloseFailed = (err: unknown): void => {
    this.logger.error({ err }, 'plugin failed in close');
  };

  /** Stop accepting, then resolve when in-flight requests finish or the deadline passes. */
  drain(deadlineMs: number): Promise<boolean> {
    this.draining = true;
    this.tls?.close();
    this.edge?.close();
    for (const bridge of [...this.websockets]) bridge.shutdown();
    if (this.#listenSocket !== null) {
      uws.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = null;
    }
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      // An infinite deadline (a retiring worker) waits for the last request, however long.
      const timer = Number.isFinite(deadlineMs)
        ? setTimeout(() => {
            this.#drained = null;
            resolve(false);
          }, deadlineMs)
        : null;
      this.#drained = () => {
        if (timer !== null) clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Queue a response head for the end of this event-loop turn (see RequestContext.headPending). */
  deferHead(ctx: RequestContext): void {
    this.#pendingHeads.push(ctx);
    if (!this.#headFlushScheduled) {
      this.#headFlushScheduled = true;
      setImmediate(this.#flushHeads);
    }
  }

  /** One timer per loop turn, not per request; the two arrays are swapped, never reallocated. */
  #flushHeads = (): void => {
    this.#headFlushScheduled = false;
    const list = this.#pendingHeads;
    this.#pendingHeads = this.#spareHeads;
    for (let i = 0; i < list.length; i++) list[i].flushPendingHead();
    list.length = 0;
    this.#spareHeads = list;
  };

  /**
   * Close every connection, idle keep-alive ones included, with uWS's App.close() (v20.57). After
   * it the worker's loop holds no uWS socket, so the thread can end normally. False on the v20.30
   * fallback, which has no way to close its connections: the caller then keeps the thread alive
   * and the process leaves through _exit (util/process-exit.ts).
   */
  get closeConnectionsAvailable(): boolean {
    return uwsBuild.hasAppClose;
  }

  closeConnections(): boolean {
    if (!uwsBuild.hasAppClose) return false;
    if (this.#listenSocket !== null) {
      uws.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = null;
    }
    this.#app.close();
    this.tls?.closeConnections();
    this.edge?.destroy();
    return true;
  }

  reopenLogs(): void {
    this.#accessLog?.reopen();
  }

  closeLogs(): void {
    this.#accessLog?.close();
  }

  #handle = (res: HttpResponse, req: HttpRequest): void => {
    this.#accept(res, req, false);
  };

  /** The TLS listener's handler: the same request path, with the scheme set to https. */
  readonly handleSecure = (res: HttpResponse, req: HttpRequest): void => {
    this.#accept(res, req, true);
  };

  #accept(res: HttpResponse, req: HttpRequest, secure: boolean, wsContext: us_socket_context_t | null = null): void {
    const head = new DownstreamHead();
    if (secure) head.scheme = 'https';
    const ctx = new RequestContext(this, res, this.snapshot, head, performance.now());
    ctx.wsContext = wsContext;
    // uWS aborts the process if a response is left without onAborted across an async boundary.
    res.onAborted(ctx.onDownstreamAborted);
    this.inFlight++;
    ctx.snapshot.inFlight++;
    if (this.draining) this.lastRequestAt = Date.now();
    try {
      this.#start(ctx, res, req, head);
    } catch (err) {
      // A bug must cost one request, not the worker.
      this.logger.error({ err }, 'unexpected error in request handler');
      ctx.fail(Errors.internal);
    }
  }

  #start(ctx: RequestContext, res: HttpResponse, req: HttpRequest, head: DownstreamHead): void {
    head.method = req.getCaseSensitiveMethod();
    head.rawPath = req.getUrl();
    head.query = req.getQuery() ?? '';
    head.headBytes = head.method.length + head.rawPath.length + head.query.length + 12;
    collecting = head;
    req.forEach(collectHeader);
    collecting = null;
    ctx.announceClose = head.uwsClosesSilently;
    head.remoteAddress = this.peers === null ? remoteAddressText(res) : this.peers.addressOf(res);
    // h2 front (src/h2/front.ts): an HTTPS/1.1 connection piped from it arrives from a loopback
    // address the front chose for it; the client's own address replaces it.
    if (this.loopbackPeers !== null && head.scheme === 'https') this.loopbackPeers.restore(head);
    if (ctx.wsContext !== null) prepareUpgradeHead(head);
    this.#proceed(ctx, res, head);
  }

  /**
   * h2 front (src/h2/): one HTTP/2 stream enters the request path here, its head already copied
   * by the caller (h2/downstream.ts), `res` being the stream dressed as a uWS response.
   */
  acceptStream(res: HttpResponse, fill: (head: DownstreamHead) => void): void {
    const head = new DownstreamHead();
    head.scheme = 'https';
    const ctx = new RequestContext(this, res, this.snapshot, head, performance.now());
    ctx.headerBlocks = false;
    res.onAborted(ctx.onDownstreamAborted);
    this.inFlight++;
    ctx.snapshot.inFlight++;
    if (this.draining) this.lastRequestAt = Date.now();
    try {
      collecting = head;
      fill(head);
      collecting = null;
      this.#proceed(ctx, res, head, true);
    } catch (err) {
      collecting = null;
      this.logger.error({ err }, 'unexpected error in request handler');
      ctx.fail(Errors.internal);
    }
  }

  /** The request path after the head is copied, shared by uWS requests and h2 streams. */
  #proceed(ctx: RequestContext, res: HttpResponse, head: DownstreamHead, stream = false): void {
    this.#identify(ctx, head);

    const invalid = this.#validate(head);
    if (invalid !== null) return invalid.closesConnection === true ? ctx.failAfterRead(invalid) : ctx.fail(invalid);

    if (this.settings.faultInjection && head.header('x-floodgate-fault') === 'block-loop') {
      // Lets tests stall this worker's event loop, as a CPU-bound plugin or a GC pause would.
      const until = performance.now() + Number(head.header('x-floodgate-fault-ms') ?? 100);
      while (performance.now() < until);
    }
    if (this.settings.faultInjection && head.header('x-floodgate-fault') === 'crash-worker') {
      ctx.respond(200, messageBody('crashing worker'), JSON_TYPE, null);
      setImmediate(() => {
        throw new Error('injected worker crash (x-floodgate-fault)');
      });
      return;
    }

    head.parseHost(head.scheme === 'https' ? this.tlsPort : this.settings.listenPort);
    const snapshot = ctx.snapshot;
    if (!snapshot.router.match(head, ctx.match)) return ctx.fail(Errors.noRoute);
    ctx.route = snapshot.routesByOrder[ctx.match.route!.order];
    ctx.chain = head.scheme === 'https' ? ctx.route.https.chain : ctx.route.chain;
    // gRPC (src/grpc/): a grpc/grpcs-only route does not match a request that is not gRPC.
    if (ctx.route.grpcOnly && !(head.header('content-type') ?? '').startsWith('application/grpc')) return ctx.fail(Errors.noRoute);
    // Kong answers an https-only route reached over plain HTTP before any plugin runs.
    if (head.scheme === 'http' && httpsOnly(ctx.route.config)) return answerPlainHttp(ctx, head, ctx.route.config, this.tlsPort);
    // --trace-context off: only a route whose plugins export spans starts or continues a trace.
    if (ctx.trace === null && ctx.route.needsTraceContext) ctx.trace = TraceContext.from(head.traceparent, head.tracestate);

    if (head.contentLength > 0 || head.hasTransferEncoding) {
      const max = this.settings.maxBodyBytes;
      if (max > 0 && head.contentLength > max) return ctx.fail(Errors.bodyTooLarge);
      const writeTimeout = ctx.route.service === null ? 60_000 : ctx.route.service.config.writeTimeout;
      ctx.body = new RequestBody(res, writeTimeout, (why) =>
        ctx.fail(why === 'stall' ? Errors.upstreamWriteTimeout : Errors.bodyTooLarge),
      );
      // Must be attached before the handler returns, or uWS drops the body.
      res.onData((chunk, isLast) => ctx.onBodyChunk(chunk, isLast));
      if (this.bodyRate !== null) this.bodyRate.watch(ctx);
      // uWS frames a chunked body itself, and refuses or misreads some chunks: hold the request
      // until the body is complete (or 64 KiB), so nothing of such a request reaches the upstream.
      // (An h2 stream's body has no uWS framing, and gRPC streams must flow at once: not held.)
      if (head.hasTransferEncoding && !stream) return ctx.startOnFirstBodyChunk();
    }
    this.startRequest(ctx);
  }

  /** Admission control first (when any limit is set), then the plugin chain. */
  startRequest(ctx: RequestContext): void {
    if (this.admission !== null) this.admission.admit(ctx);
    else ctx.runRequestPhase();
  }

  /**
   * Request id and W3C trace context, before anything can answer, so every reply (a 400 too)
   * carries the id and every log line has both. The upstream gets them in #buildUpstreamHeaders.
   */
  #identify(ctx: RequestContext, head: DownstreamHead): void {
    if (this.settings.traceContext !== false) ctx.trace = TraceContext.from(head.traceparent, head.tracestate);
    // Written by the context with the response head, not as a response-header edit: an edit list
    // on every request would make each upstream header pay a name comparison against it.
    if (this.requestIdHeader !== '') {
      ctx.requestId = nextRequestId();
      ctx.requestSerial = lastRequestSerial();
    }
  }

  /** The head rules of request-validation.ts; every failure but 405 also closes the connection. */
  #validate(head: DownstreamHead): ProxyError | null {
    // mTLS (--tls-client-verify): set by the TLS front for a connection without a required or with an unverified certificate.
    if (head.clientCertificateRefusal !== null) return head.clientCertificateRefusal;
    if (head.headBytes > this.settings.maxHeaderBytes) return Errors.headersTooLarge;
    if (head.contentLength === -2) return Errors.badFraming;
    // Both framings at once is the classic request-smuggling vector: refuse it (RFC 9112 §6.1).
    if (head.hasTransferEncoding && head.contentLength !== -1) return Errors.badFraming;
    if (head.transferCoding === TransferCoding.Unsupported) return Errors.unsupportedTransferCoding;
    if (!isToken(head.method)) return Errors.badMethod;
    if (head.hostCount !== 1 || !isValidHostHeader(head.hostHeader)) return Errors.badHost;
    if (head.badHeaderValue) return Errors.badHeaderValue;
    if (head.method === 'CONNECT' || head.method === 'TRACE') return Errors.methodNotAllowed;
    const raw = head.rawPath;
    if (raw.charCodeAt(0) !== 47 /* / */) return Errors.badRequest;
    if (hasControlByte(raw) || hasControlByte(head.query)) return Errors.badTarget;
    if (hasEncodedNul(raw)) return Errors.encodedNul;
    if (climbsAboveRoot(raw)) return Errors.pathAboveRoot;
    // U+FFFD: uWS met bytes in the target that are not UTF-8; what they were is lost.
    if (raw.indexOf('\ufffd') !== -1) return Errors.badPath;
    const path = normalizePath(raw);
    if (path === null) return Errors.badPath;
    head.path = path;
    return null;
  }

  /** Called exactly once per request: on end, on local reply, on abort. */
  requestFinished(ctx: RequestContext): void {
    this.inFlight--;
    if (this.admission !== null) this.admission.finished(ctx);
    ctx.releaseUpstream();
    ctx.finishedAt = performance.now();
    try {
      ctx.runLogPhase();
    } catch (err) {
      this.logger.error({ err }, 'plugin failed in onLog');
    }
    const log = this.#accessLog;
    if (log !== null && shouldLog(ctx, log.sampleRate)) log.logger.info(accessLogRecord(ctx, this.#workerId));
    if (this.metrics !== null) this.metrics.record(ctx);
    ctx.snapshot.requestEnded(this.#pluginCloseFailed);
    if (this.inFlight === 0 && this.#drained !== null) {
      const drained = this.#drained;
      this.#drained = null;
      drained();
    }
  }
}

/** Both filters in order, one of them, or null. */
function combineFilters(first: ConnectionFilter | null, second: ConnectionFilter | null): ConnectionFilter | null {
  if (first === null || second === null) return first ?? second;
  return (res, count) => {
    first(res, count);
    second(res, count);
  };
}
