/**
 * The request context: one object per request, of one fixed shape, that is at once
 *   - the plugin context (PluginContext: what plugins read and edit, plugins/api.ts),
 *   - the host the plugin chain runs on (chain.ts: phases and the one exception policy),
 *   - the owner of the upstream attempt (attempt.ts: engine exchange, retries, breaker, health),
 *   - the downstream response it extends (downstream.ts: uWS writes, backpressure, local replies),
 *   - and, once finished, the read-only request record logging and metrics read (record.ts).
 * The stages live in their own files; this one holds the request's state and plugin edits and
 * hands each event to the stage whose job it is. See ARCHITECTURE.md, "The life of a request".
 */
import type { Logger } from 'pino';
import type { GateWaiter } from './concurrency-gate';
import { Verdict, type PluginContext, type ResponseBodyFilter } from '../plugins/api';
import type { ConsumerConfig } from '../config/types';
import { MatchResult } from '../router/types';
import { escapePath } from '../router/normalize';
import { upstreamPath } from '../router/upstream-path';
import { Errors, type ProxyError } from './errors';
import { UpstreamAttempt, type AttemptOwner } from './attempt';
import type { ResponseHead } from '../upstream/response-head';
import { headerValueOnWire } from '../upstream/exchange';
import { buildUpstreamHeaders, type ForwardedParts } from './upstream-request';
import { DownstreamHead } from './request-head';
import { connectionHasClose, lowerName, lowerTokenName, NOT_A_TOKEN } from './headers';
import type { PeerAddresses } from './remote-address';
import { DownstreamResponse, hasFlat, REMOVED_HEADER } from './downstream';
import type { RequestBody } from './request-body';
import type { CompiledRoute, Snapshot, UpstreamTarget } from './snapshot';
import { EMPTY_CHAIN, type ConsumerChains, type PluginChain } from './plugin-chains';
import type { HttpResponse } from './uws';
import { TransferCoding } from './request-validation';
import type { us_socket_context_t } from 'uWebSockets.js';
import type { Socket } from 'node:net';
import { completeUpgrade, hostOnly, UpgradeAttempt } from '../websocket/upgrade';
import { requestUpgrade } from '../websocket/upstream';
import type { WebSocketBridge, WebSocketSettings } from '../websocket/bridge';
import type { NodeSettings } from '../settings';
import type { RequestRecord } from './record';
import type { Redaction } from '../logging/redaction';
import { logPluginFailure, runLogPhase, runRequestPhase, runResponsePhase, runUpstreamRequestPhase, type ChainHost } from './chain';
import { forwardGrpc, type GrpcOutcome } from '../grpc/proxy';
import type { TraceContext } from '../tracing/trace-context';
import { serializeLog, type LogRecord } from '../logging/serializer';

const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_BODY = Buffer.alloc(0);

/** A chunked body is held until complete up to this size (the body stream's high-water mark). */
const HELD_CHUNKED_BYTES = 64 * 1024;

function failDeferred(ctx: RequestContext, error: ProxyError): void {
  if (!ctx.aborted && !ctx.done) ctx.fail(error);
}

function startDeferred(ctx: RequestContext): void {
  if (!ctx.aborted && !ctx.done) ctx.server.startRequest(ctx);
}

/**
 * What a request needs from the worker's listener (server.ts implements it). An interface, so the
 * stages below the server never import it back.
 */
export interface RequestHost {
  readonly settings: NodeSettings;
  readonly logger: Logger;
  /** The per-listener parts of X-Forwarded-* and Via (upstream-request.ts): plain and TLS. */
  readonly forwarded: ForwardedParts;
  readonly forwardedSecure: ForwardedParts;
  /** WebSocket limits, and the bridges open on this worker (websocket/). */
  readonly websocket: WebSocketSettings;
  readonly websockets: Set<WebSocketBridge>;
  /** Each connection's client address (remote-address.ts), or null without the addon. */
  readonly peers: PeerAddresses | null;
  /** --request-id-header, lower-case; '' = no request id. */
  readonly requestIdHeader: string;
  readonly draining: boolean;
  readonly inFlight: number;
  /** Queue a response head for the end of this event-loop turn. */
  deferHead(ctx: RequestContext): void;
  /** Exactly once per request: on end, on local reply, on abort. */
  requestFinished(ctx: RequestContext): void;
  /** Admission control, then the request phase (a held chunked request starts here). */
  startRequest(ctx: RequestContext): void;
}

export class RequestContext extends DownstreamResponse implements PluginContext, ChainHost, AttemptOwner, RequestRecord {
  readonly server: RequestHost;
  readonly snapshot: Snapshot;
  readonly request: DownstreamHead;
  readonly match: MatchResult;
  readonly startedAt: number;

  route: CompiledRoute | null = null;
  /**
   * The plugins this request runs: the route's chain, or a consumer's chain once an auth plugin
   * authenticated a consumer that has consumer-scoped plugins on this route (plugin-chains.ts).
   */
  chain: PluginChain = EMPTY_CHAIN;
  target: UpstreamTarget | null = null;
  body: RequestBody | null = null;
  bodyBytes = 0;

  upstreamStartedAt = 0;
  upstreamHeadersAt = 0;
  error: ProxyError | null = null;
  /** The gateway's id for this request (logging/request-id.ts); '' when --request-id-header is off. */
  requestId = '';
  /** The request id's serial number (the response head writes the id from it: logging/request-id.ts); 0 with no id. */
  requestSerial = 0;
  /** W3C trace context of this hop (tracing/trace-context.ts), set before routing. */
  trace: TraceContext | null = null;
  /** performance.now() when requestFinished ran; 0 before. */
  finishedAt = 0;

  /** Admission control (proxy/admission.ts): holds an --max-in-flight slot / waits for one. */
  holdsAdmission = false;
  admissionWait: GateWaiter | null = null;
  /** Close the connection after a local reply (a refusal under --max-connections). */
  closeAfterReply = false;

  /** The next onRequest plugin to run in `chain` (the running one is at chainIndex - 1); chain.ts. */
  chainIndex = 0;
  /** The onResponse plugin running now, so a body filter it registers is logged under its name. */
  responsePluginAt = 0;
  /** The upstream attempt (attempt.ts), created when the request is forwarded. */
  #attempt: UpstreamAttempt | null = null;
  /** uWS's socket context when this is a WebSocket upgrade (websocket/upgrade.ts); else null. */
  wsContext: us_socket_context_t | null = null;
  #cancelUpgrade: (() => void) | null = null;
  /** A chunked request waits for its first body chunk before the request phase (startOnFirstBodyChunk). */
  #startOnBody = false;
  /** Before dispatch: plugin additions only. From dispatch on: the full upstream header list. */
  #upstreamHeaders: string[] | null = null;
  #upstreamHeadersBuilt = false;
  /** A plugin set an upstream header that cannot be sent (setUpstreamHeader): answered 400. */
  #badUpstreamHeader = false;
  #upstreamPath = '';
  #upstreamRemovals: string[] | null = null;
  /** A plugin's replacement for the query sent upstream (setUpstreamQuery); null = the client's. */
  #upstreamQuery: string | null = null;
  #responseHeaderEdits: string[] | null = null;
  #responseHead: ResponseHead | null = null;
  /** Kept for the log serializer: the upstream's raw head, or a local reply's content type and headers. */
  #loggedHead: ResponseHead | null = null;
  #localContentType = '';
  #localHeaders: readonly string[] | null = null;
  /** A local reply's body and whether to close after it, held only while `respond` corks. */
  #localBody: string | Buffer = '';
  #localClose = false;
  /** Plugin edits of the upstream request: method, and a body read and possibly replaced. */
  #upstreamMethod: string | null = null;
  #upstreamPathOverride: string | null = null;
  #upstreamBody: Buffer | null = null;
  /** Response body filters (filterResponseBody); `#rewritesBody` drops the upstream's Content-Length. */
  #bodyFilters: ResponseBodyFilter[] | null = null;
  /** The plugin that registered each body filter, for the failure log line. */
  #bodyFilterPlugins: string[] | null = null;
  #rewritesBody = false;
  /** The onResponse phase ran (or runs now): a local reply from it, or after it, does not run it again. */
  #responsePhaseRan = false;
  #logRecord: LogRecord | null = null;

  constructor(server: RequestHost, res: HttpResponse, snapshot: Snapshot, head: DownstreamHead, startedAt: number) {
    super(res);
    this.server = server;
    this.snapshot = snapshot;
    this.request = head;
    this.match = new MatchResult();
    this.startedAt = startedAt;
  }

  // ---------------------------------------------------------------- PluginContext

  get routeId(): string {
    return this.route === null ? '' : this.route.config.id;
  }
  get routeName(): string | null {
    return this.route === null ? null : this.route.config.name;
  }
  get serviceId(): string | null {
    return this.route === null || this.route.service === null ? null : this.route.service.config.id;
  }
  get pathCaptures(): Readonly<Record<string, string>> | null {
    return this.match.captures;
  }

  consumer: ConsumerConfig | null = null;
  credentialId: string | null = null;
  anonymous = false;

  authenticate(consumer: ConsumerConfig, credentialId: string | null, credentialIdentifier: string | null, anonymous: boolean): void {
    this.consumer = consumer;
    this.credentialId = credentialId;
    this.anonymous = anonymous;
    // Names known to be lower-case tokens: the checks a plugin's own names get are skipped.
    this.#setUpstreamHeaderLower('x-consumer-id', consumer.id);
    if (consumer.username !== null) this.#setUpstreamHeaderLower('x-consumer-username', consumer.username);
    else this.#removeUpstreamHeaderLower('x-consumer-username');
    if (consumer.customId !== null) this.#setUpstreamHeaderLower('x-consumer-custom-id', consumer.customId);
    else this.#removeUpstreamHeaderLower('x-consumer-custom-id');
    if (credentialIdentifier !== null) this.#setUpstreamHeaderLower('x-credential-identifier', credentialIdentifier);
    else this.#removeUpstreamHeaderLower('x-credential-identifier');
    if (anonymous) this.#setUpstreamHeaderLower('x-anonymous-consumer', 'true');
    else this.#removeUpstreamHeaderLower('x-anonymous-consumer');
    const byConsumer = this.route === null ? null : this.request.scheme === 'https' ? this.route.https.consumerChains : this.route.consumerChains;
    if (byConsumer !== null) this.#applyConsumerPlugins(byConsumer, consumer.id);
  }

  /**
   * Kong re-resolves the plugins after the one that authenticated: switch to the chain compiled
   * for this consumer and that auth plugin, and resume after the auth plugin's rank.
   */
  #applyConsumerPlugins(byConsumer: ReadonlyMap<string, ConsumerChains>, consumerId: string): void {
    const current = this.chain;
    const at = this.chainIndex - 1;
    // Only an onRequest plugin can change what the rest of the chain is.
    if (current.onRequest === null || at < 0 || at >= current.onRequest.length) return;
    const rank = current.requestRanks[at];
    const chains = byConsumer.get(consumerId);
    if (chains === undefined) {
      // A second auth plugin replaced a consumer that had plugins by one without (Kong's logical OR).
      const base = this.request.scheme === 'https' ? this.route!.https.chain : this.route!.chain;
      if (current !== base) {
        this.chain = base;
        this.chainIndex = base.resumeIndexAfter(rank);
      }
      return;
    }
    const k = chains.authRanks.indexOf(rank);
    if (k < 0) return;
    const next = chains.chains[k];
    this.chain = next;
    this.chainIndex = next.resumeAt;
  }

  respond(status: number, body: string | Buffer, contentType: string, headers: readonly string[] | null): Verdict.Stop {
    if (this.aborted || this.done || this.headSent) return Verdict.Stop;
    this.headSent = true;
    this.done = true;
    this.responseStatus = status;
    this.responseBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    this.#localContentType = contentType;
    this.#localHeaders = headers;
    this.#cancelUpstream();
    // As in Kong, response plugins (CORS headers, for one) see local replies too; a reply made
    // from onResponse itself replaces the upstream's and the phase is not run twice.
    if (!this.#responsePhaseRan && this.chain.onResponse !== null) {
      this.#responsePhaseRan = true;
      // `done` is already set: a plugin calling respond here is ignored, and every plugin runs.
      if (!runResponsePhase(this, false)) {
        // The exception policy: the reply being decorated becomes Kong's 500.
        const error = Errors.internal;
        this.error = error;
        this.responseStatus = error.status;
        this.responseBytes = error.body.length;
        this.#localContentType = JSON_TYPE;
        this.#localHeaders = null;
        body = error.body;
      }
    }
    // A body we did not read would be parsed as the next request, and after a malformed head
    // nothing that follows can be trusted: close instead (uWS writes `Connection: close`).
    this.#localClose =
      this.server.draining ||
      this.closeAfterReply ||
      (this.body !== null && !this.body.readableEnded) ||
      (this.error !== null && this.error.closesConnection === true);
    this.#localBody = body;
    this.body?.detach();
    this.sendLocalReply();
    this.#localBody = '';
    this.server.requestFinished(this);
    return Verdict.Stop;
  }

  /** @internal called inside cork: the head and body of a local reply (see `respond`). */
  writeLocalReply(): void {
    const idHeader = this.requestId === '' ? '' : this.server.requestIdHeader;
    this.writeLocal(this.#localContentType, this.#localHeaders, this.#responseHeaderEdits, idHeader, this.requestId, this.#localBody, this.#localClose);
  }

  setUpstreamHeader(name: string, value: string): void {
    // Checked here, once, so the engine can trust the whole list (exchange.prepare `validated`).
    const lower = lowerTokenName(name);
    if (lower === NOT_A_TOKEN) this.#badUpstreamHeader = true;
    else this.#setUpstreamHeaderLower(lower, value);
  }

  /** `lower` is a lower-case token; the value is checked (and put in wire form) here. */
  #setUpstreamHeaderLower(lower: string, value: string): void {
    const wire = headerValueOnWire(value);
    if (wire === null) {
      // A header with a control character cannot be sent (header injection): the request is
      // refused when it is forwarded.
      this.#badUpstreamHeader = true;
      return;
    }
    this.#removeUpstreamHeaderLower(lower);
    (this.#upstreamHeaders ??= []).push(lower, wire);
  }

  removeUpstreamHeader(name: string): void {
    this.#removeUpstreamHeaderLower(lowerName(name));
  }

  #removeUpstreamHeaderLower(lower: string): void {
    // Before the upstream request is built, remember the removal so client headers are skipped too.
    if (!this.#upstreamHeadersBuilt) (this.#upstreamRemovals ??= []).push(lower);
    const h = this.#upstreamHeaders;
    if (h === null) return;
    for (let i = h.length - 2; i >= 0; i -= 2) if (h[i] === lower) h.splice(i, 2);
  }

  setUpstreamQuery(query: string): void {
    this.#upstreamQuery = query;
  }

  get hasRequestBody(): boolean {
    return this.body !== null;
  }

  setUpstreamPath(path: string): void {
    this.#upstreamPathOverride = path;
  }

  setUpstreamMethod(method: string): void {
    this.#upstreamMethod = method;
  }

  readRequestBody(maxBytes: number): Promise<Buffer | null> {
    // A second reader (request-size-limiting, then request-transformer or hmac-auth) gets what
    // the first one read, as replaced since: the stream itself is consumed.
    const read = this.#upstreamBody;
    if (read !== null) return Promise.resolve(read.length > maxBytes ? null : read);
    const body = this.body;
    if (body === null) return Promise.resolve(EMPTY_BODY);
    if (this.request.contentLength > maxBytes) return Promise.resolve(null);
    return readWholeBody(body, maxBytes).then((bytes) => {
      if (bytes !== null) this.setUpstreamBody(bytes);
      return bytes;
    });
  }

  setUpstreamBody(body: Buffer): void {
    this.#upstreamBody = body;
    // The client's Content-Length (forwarded as is) would no longer match; a chunked body gets one.
    this.setUpstreamHeader('content-length', String(body.length));
  }

  upstreamResponseHeader(name: string): string | undefined {
    const head = this.#loggedHead;
    return head === null ? undefined : head.get(name.toLowerCase());
  }

  setResponseHeader(name: string, value: string): void {
    // A name that is not a token cannot be written without breaking the head: such an edit is
    // left out (PluginContext.setResponseHeader says so).
    const lower = lowerTokenName(name);
    if (lower === NOT_A_TOKEN) return;
    const edits = this.#responseHeaderEdits;
    if (edits === null) {
      this.#responseHeaderEdits = [lower, value];
      return;
    }
    // Replace, as documented: a second set of the same name (Miss, then Bypass) leaves one header.
    removeFlat(edits, lower);
    edits.push(lower, value);
  }

  addResponseHeader(name: string, value: string): void {
    const lower = lowerTokenName(name);
    if (lower === NOT_A_TOKEN) return;
    const edits = (this.#responseHeaderEdits ??= []);
    // An edit replaces the upstream's copies on the wire: carry them over once so they are kept.
    if (!hasFlat(edits, lower)) {
      const head = this.#responseHead;
      if (head !== null) for (let i = 0; i < head.count; i++) if (head.nameString(i) === lower) edits.push(lower, head.valueString(i));
    }
    removeFlatValue(edits, lower, REMOVED_HEADER);
    edits.push(lower, value);
  }

  removeResponseHeader(name: string): void {
    const lower = lowerName(name);
    const edits = (this.#responseHeaderEdits ??= []);
    removeFlat(edits, lower);
    // Kept as an edit whose value is never written: it hides the upstream's copies.
    edits.push(lower, REMOVED_HEADER);
  }

  responseHeader(name: string): string | undefined {
    const head = this.#localContentType === '' ? this.#loggedHead : null;
    return head === null ? undefined : head.get(name.toLowerCase());
  }

  upstreamResponseHeaders(): string[] {
    const out: string[] = [];
    const head = this.#localContentType === '' ? this.#loggedHead : null;
    if (head !== null) for (let i = 0; i < head.count; i++) out.push(head.nameString(i), head.valueString(i));
    return out;
  }

  filterResponseBody(filter: ResponseBodyFilter, rewrites: boolean): void {
    (this.#bodyFilters ??= []).push(filter);
    (this.#bodyFilterPlugins ??= []).push(this.chain.onResponseNames[this.responsePluginAt] ?? '');
    if (rewrites) this.#rewritesBody = true;
  }

  /** Answer with one of the error table's entries, as JSON `{"message": ...}`. */
  fail(error: ProxyError): void {
    this.error = error;
    if (this.headSent) {
      // Too late for a status code: cut the connection so the client sees a truncated response.
      this.closeDownstream();
      return;
    }
    this.respond(error.status, error.body, JSON_TYPE, null);
  }

  /**
   * Refuse a malformed request and close its connection, at the end of this event-loop turn rather
   * than now. uWS keeps parsing the rest of the read after a response ended with close, and serves
   * a request smuggled behind this one. Answering later leaves ours pending while uWS parses, and
   * uWS closes a connection that sends a request while one is pending (it refuses async
   * pipelining): the hidden request is dropped with the connection, never forwarded. Alone in its
   * read, the bad request gets its answer with `Connection: close`.
   */
  failAfterRead(error: ProxyError): void {
    this.error = error;
    setImmediate(failDeferred, this, error);
  }

  // ---------------------------------------------------------------- request phases

  /** Run the route's onRequest plugins from where we left off; forward when all continue (chain.ts). */
  runRequestPhase(): void {
    runRequestPhase(this);
  }

  // ---------------------------------------------------------------- ChainHost (chain.ts)

  get finished(): boolean {
    return this.aborted || this.done;
  }

  get logger(): Logger {
    return this.server.logger;
  }

  failInternal(): void {
    this.fail(Errors.internal);
  }

  /** Every onRequest plugin continued: pick a target, build the upstream request, dispatch. */
  forward(): void {
    if (this.aborted || this.done) return;
    const route = this.route!;
    const service = route.service;
    if (service === null) return this.fail(Errors.noService);
    const attempt = (this.#attempt = new UpstreamAttempt(this, service, route.config.preserveHost));
    const refused = attempt.begin();
    if (refused !== null) return this.fail(refused);

    const head = this.request;
    const cfg = route.config;
    const host = cfg.preserveHost && head.hostHeader !== '' ? head.hostHeader : this.target!.hostHeader;
    const stripped = cfg.stripPath ? this.match.matchedLength : 0;
    const parts = head.scheme === 'https' ? this.server.forwardedSecure : this.server.forwarded;
    this.#upstreamHeaders = buildUpstreamHeaders(head, host, stripped, this.trace, this.requestId, parts, this.#upstreamRemovals, this.#upstreamHeaders);
    this.#upstreamHeadersBuilt = true;
    if (!runUpstreamRequestPhase(this)) return;
    if (this.#badUpstreamHeader) return this.fail(Errors.badRequest);

    const override = this.#upstreamPathOverride;
    let path = escapePath(override !== null ? override : upstreamPath(service.config.path, head.path, this.match.matchedLength, cfg.stripPath));
    const query = this.#upstreamQuery ?? head.query;
    if (query !== '') path = path + '?' + query;

    this.upstreamStartedAt = performance.now();
    this.#upstreamPath = path;
    if (this.wsContext !== null) return this.#dispatchUpgrade();
    // gRPC (src/grpc/proxy.ts): protocol grpc/grpcs goes upstream over HTTP/2, not the engine;
    // the cancel slot is the upgrade's (one or the other, never both).
    const protocol = service.config.protocol;
    if (protocol === 'grpc' || protocol === 'grpcs') {
      attempt.startedAt = this.upstreamStartedAt;
      this.#cancelUpgrade = forwardGrpc(this, this.target!, service.config, path, this.#upstreamHeaders);
      return;
    }
    attempt.send(this.#upstreamMethod ?? head.method, path, this.#upstreamHeaders, this.#upstreamBody);
  }

  /**
   * A WebSocket upgrade goes to the upstream outside the HTTP engine (websocket/upstream.ts): the
   * connection leaves HTTP for good. No retry: an upgrade is not replayed.
   */
  #dispatchUpgrade(): void {
    const service = this.route!.service!.config;
    const target = this.target!;
    this.#cancelUpgrade = requestUpgrade(
      { address: target.address, tls: service.protocol === 'https', servername: hostOnly(target.hostHeader), verify: service.tlsVerify },
      this.#upstreamPath,
      this.#upstreamHeaders!,
      service.readTimeout,
      new UpgradeAttempt(this),
    );
  }

  /** @internal the upstream answered 101: bridge its socket and upgrade the client. */
  completeWebSocket(rawHeaders: readonly string[], socket: Socket, head: Buffer): void {
    this.#cancelUpgrade = null;
    if (this.aborted || this.done) {
      socket.destroy();
      return;
    }
    this.upstreamHeadersAt = performance.now();
    this.responseStatus = 101;
    this.headSent = true;
    this.done = true;
    // uWS moves the upgraded socket and reports no close for it: drop its address entry now.
    this.server.peers?.forget(this.res);
    completeUpgrade(this.res, this.request, this.wsContext!, rawHeaders, socket, head, this.server.websocket, this.server.websockets);
    // The HTTP exchange ends here (logged as 101); the bridge carries the connection from now on.
    this.server.requestFinished(this);
  }

  #cancelUpstream(): void {
    if (this.#cancelUpgrade !== null) {
      this.#cancelUpgrade();
      this.#cancelUpgrade = null;
    }
    this.#attempt?.cancel();
  }

  // ---------------------------------------------------------------- downstream events

  /**
   * A chunked request: run the request phase only once uWS delivered the whole body, or 64 KiB of
   * it (then it streams), and then at the end of this event-loop turn. uWS frames the chunks
   * itself after calling the handler: a chunk it refuses (an extension, a bad size) makes it answer
   * 400 and abort within the same read, and one it misreads (a size with a non-hex byte) swallows
   * the rest of the stream as body and never ends. Either way nothing reaches the upstream.
   * NGINX buffers request bodies by default; this holds back only the first 64 KiB.
   */
  startOnFirstBodyChunk(): void {
    this.#startOnBody = true;
  }

  /** uWS onData: the client's body arrives here, whether or not we dispatched yet. */
  onBodyChunk(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.aborted || this.done) return;
    this.bodyBytes += chunk.byteLength;
    const max = this.server.settings.maxBodyBytes;
    if (max > 0 && this.bodyBytes > max) {
      this.fail(Errors.bodyTooLarge);
      return;
    }
    this.body!.pushChunk(chunk, isLast);
    if (this.#startOnBody && (isLast || this.bodyBytes >= HELD_CHUNKED_BYTES)) {
      this.#startOnBody = false;
      setImmediate(startDeferred, this);
    }
  }

  /** uWS onAborted: the client went away. Cancel the upstream request; never touch res again. */
  onDownstreamAborted = (): void => {
    if (this.done) return;
    this.aborted = true;
    this.body?.detach();
    this.body?.destroy();
    this.#cancelUpstream();
    this.server.requestFinished(this);
  };

  // ---------------------------------------------------------------- the response, from attempt.ts

  /** The upstream's final head (the attempt already did passive health and latency). */
  upstreamHead(head: ResponseHead, at: number): void {
    this.upstreamHeadersAt = at;
    this.responseStatus = head.status;
    this.#responseHead = head;
    this.#loggedHead = head;
    if (this.chain.onResponse !== null) {
      this.#responsePhaseRan = true;
      // A plugin that throws costs a 500 of ours (never an upstream 502); the exchange is cancelled.
      if (!runResponsePhase(this, true)) return this.fail(Errors.internal);
      // A plugin answered instead (respond from onResponse): the upstream exchange is cancelled.
      if (this.done) return;
    }
    this.headPending = true;
    this.server.deferHead(this);
  }

  upstreamData(chunk: Buffer): boolean {
    // Done (every declared byte is out): whatever is left is discarded, and the engine goes on
    // to the end of the response so the connection can be reused.
    if (this.aborted || this.done) return true;
    if (this.#bodyFilters !== null) {
      // Filters may keep what they are given (proxy-cache stores it); the chunk may be a view of
      // the engine's shared read buffer (upstream/pool.ts): they get a copy.
      const out = this.#filterChunk(Buffer.from(chunk), false);
      if (out === null || out.length === 0) return true;
      chunk = out;
    }
    return this.sendChunk(chunk);
  }

  /** A gRPC call's outcome (grpc/call.ts), for the attempt's passive health and latency. */
  reportGrpcOutcome(kind: GrpcOutcome, status: number): void {
    this.#attempt?.reportGrpcOutcome(kind, status);
  }

  upstreamEnd(): void {
    if (this.aborted) return;
    if (this.done) {
      // A sized body already went out whole (tryEnd ended it): observing filters still see the end.
      if (this.#bodyFilters !== null && !this.#rewritesBody && this.error === null) this.#filterChunk(null, true);
      return;
    }
    const tail = this.#bodyFilters === null ? null : this.#filterChunk(null, true);
    if (this.done) return;
    this.sendEnd(tail);
  }

  /**
   * Run the response body filters on one chunk (or, with `end`, their tails). A filter that throws
   * costs this response (a 500 while the head is pending, else a cut connection), not the worker.
   */
  #filterChunk(chunk: Buffer | null, end: boolean): Buffer | null {
    const filters = this.#bodyFilters!;
    let data = chunk;
    for (let i = 0; i < filters.length; i++) {
      try {
        if (!end) {
          if (data === null) break;
          data = filters[i].onChunk(data);
        } else {
          // At the end each filter first gets what the earlier ones released, then its own tail.
          const passed: Buffer | null = data !== null && data.length > 0 ? filters[i].onChunk(data) : null;
          const tail = filters[i].onEnd();
          data = passed === null ? tail : tail === null ? passed : Buffer.concat([passed, tail]);
        }
      } catch (err) {
        // The exception policy: a 500 while the head is only pending, else the connection is cut.
        logPluginFailure(this, err, this.#bodyFilterPlugins![i], 'onResponseBody');
        this.error = Errors.internal;
        if (this.headSent) this.closeDownstream();
        else this.respond(Errors.internal.status, Errors.internal.body, JSON_TYPE, null);
        return null;
      }
    }
    return data;
  }

  // ---------------------------------------------------------------- DownstreamResponse (downstream.ts)

  /** @internal inside cork: the upstream head with the plugins' edits and the request id. */
  writeHead(): void {
    const idHeader = this.requestId === '' ? '' : this.server.requestIdHeader;
    this.writeUpstreamHead(this.#responseHead!, this.#responseHeaderEdits, idHeader, this.requestId, this.requestSerial, this.request.method === 'HEAD', this.#rewritesBody);
    this.#responseHead = null;
  }

  /**
   * Close the client connection after this response: when draining, when the client's Connection
   * header holds `close` (uWS itself only sees a first value of 5 bytes), and after a chunked request.
   * uWS does not check the CRLF that ends the last chunk, so a request hidden behind `0\r\nXX`
   * would be read as the next request on this connection; no next request is read instead. uWS
   * can only say `Connection: close` before the body starts, so a response streamed in several
   * pieces, or chunked, keeps the connection (see test/conformance/http1/uws-issues/).
   */
  protected get closeAfterResponse(): boolean {
    return this.server.draining || this.request.transferCoding === TransferCoding.Chunked || (this.request.connection !== '' && connectionHasClose(this.request.connection));
  }

  protected responseEnded(): void {
    this.body?.detach();
    this.server.requestFinished(this);
  }

  protected cancelUpstream(): void {
    this.#cancelUpstream();
  }

  protected resumeUpstream(): void {
    this.#attempt?.resume();
  }

  /** The request ended (server.requestFinished): the attempt gives back its node-wide counts. */
  releaseUpstream(): void {
    this.#attempt?.release();
  }

  // ---------------------------------------------------------------- log phase

  get requestSize(): number {
    return this.request.headBytes + this.bodyBytes;
  }
  get responseSize(): number {
    return this.responseBytes;
  }
  get finalStatus(): number {
    return this.aborted ? 499 : this.responseStatus;
  }
  get responseSource(): 'service' | 'error' | 'exit' {
    if (this.error !== null) return 'error';
    return this.upstreamHeadersAt !== 0 ? 'service' : 'exit';
  }

  get redaction(): Redaction {
    return this.snapshot.redaction;
  }
  get configVersion(): number {
    return this.snapshot.version;
  }

  /** The path and query sent upstream ('' when the request never got that far). */
  get upstreamUri(): string {
    return this.#upstreamPath;
  }

  /**
   * Kong's log serializer output for this request, secrets redacted; for log plugins. Built once
   * and shared by every log plugin on the route (http-log + opentelemetry pay for one).
   */
  serializeLog(): LogRecord {
    return (this.#logRecord ??= serializeLog(this, this.snapshot.redaction));
  }

  /** Response headers as the client got them (before hop-by-hop filtering), for the serializer. */
  responseHeaderList(): { names: string[]; values: string[] } {
    const names: string[] = [];
    const values: string[] = [];
    const head = this.#loggedHead;
    if (head !== null && this.#localContentType === '') {
      for (let i = 0; i < head.count; i++) {
        names.push(head.nameString(i));
        values.push(head.valueString(i));
      }
    } else if (this.#localContentType !== '') {
      names.push('content-type');
      values.push(this.#localContentType);
      const h = this.#localHeaders;
      if (h !== null) for (let i = 0; i + 1 < h.length; i += 2) names.push(h[i].toLowerCase()), values.push(h[i + 1]);
    }
    const edits = this.#responseHeaderEdits;
    if (edits !== null) {
      for (let i = 0; i + 1 < edits.length; i += 2) {
        const at = names.indexOf(edits[i]);
        if (edits[i + 1] === REMOVED_HEADER) {
          if (at >= 0) names.splice(at, 1), values.splice(at, 1);
        } else if (at >= 0) values[at] = edits[i + 1];
        else names.push(edits[i]), values.push(edits[i + 1]);
      }
    }
    if (this.requestId !== '') {
      const idHeader = this.server.requestIdHeader;
      const at = names.indexOf(idHeader);
      if (at >= 0) values[at] = this.requestId;
      else names.push(idHeader), values.push(this.requestId);
    }
    return { names, values };
  }

  /** onLog phase: after the end, an abort or an error. */
  runLogPhase(): void {
    runLogPhase(this);
  }
}

/** Collect a request body up to `maxBytes`; null once it is larger (the rest is not read). */
function readWholeBody(body: RequestBody, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      body.pause();
    };
    // An abort destroys the stream before its end: the caller gets null, as for a body too large.
    const onClose = (): void => {
      cleanup();
      resolve(null);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/** Drop the entries of `name` whose value is `value`. */
function removeFlatValue(out: string[], name: string, value: string): void {
  for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === name && out[i + 1] === value) out.splice(i, 2);
}

function removeFlat(out: string[], name: string): void {
  for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === name) out.splice(i, 2);
}
