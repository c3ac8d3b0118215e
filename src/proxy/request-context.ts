/**
 * One request's life: the per-request state (a fixed shape, created once per request), the
 * plugin-facing context, and the upstream engine's exchange handler, all in one object so a
 * proxied request costs one context, one head, one exchange, and the header array it sends upstream.
 *
 * The life of a request (see ARCHITECTURE.md):
 *   uWS handler -> copy head -> route -> onRequest phase (sync fast path, await only a promise)
 *   -> pick target -> onUpstreamRequest -> engine pool.dispatch(exchange) (src/upstream/)
 *   -> onResponseHead (onResponse phase, write head) -> onResponseData* (stream with
 *   backpressure) -> onResponseEnd
 *   -> onLog phase + access log.
 *
 * uWS rules this file lives by: every write after the handler returns happens inside
 * `res.cork`; after the response ends or the client aborts, `res` is never touched again.
 */
import { Readable } from 'node:stream';
import type { GateWaiter } from './concurrency-gate';
import { Verdict, type PluginContext, type ResponseBodyFilter } from '../plugins/api';
import type { ConsumerConfig } from '../config/types';
import { MatchResult } from '../router/types';
import { escapePath } from '../router/normalize';
import { upstreamPath } from '../router/upstream-path';
import { backoffDelay } from '../balancer/backoff';
import { Outcome, recordOutcome } from '../balancer/health-state';
import { T } from '../balancer/shared-state';
import { errorForFailure, Errors, type ProxyError } from './errors';
import { Failure } from '../upstream/failures';
import { ExchangeState, UpstreamExchange, type ExchangeHandler } from '../upstream/exchange';
import type { ResponseHead } from '../upstream/response-head';
import {
  classifyResponseHeader,
  connectionTokens,
  isDroppedRequestHeader,
  nameInFlatList,
  nameIs,
  parseContentLength,
  ResponseHeaderKind,
  statusLine,
} from './headers';
import { DownstreamHead } from './request-head';
import type { RequestBody } from './request-body';
import type { CompiledRoute, CompiledService, Snapshot, UpstreamTarget } from './snapshot';
import { EMPTY_CHAIN, type ConsumerChains, type PluginChain } from './plugin-chains';
import type { HttpResponse } from './uws';
import type { us_socket_context_t } from 'uWebSockets.js';
import type { Socket } from 'node:net';
import { completeUpgrade, hostOnly, UpgradeAttempt } from '../websocket/upgrade';
import { requestUpgrade } from '../websocket/upstream';
import { forwardGrpc } from '../grpc/proxy';
import type { ProxyServer } from './server';
import type { TraceContext } from '../tracing/trace-context';
import { serializeLog, type LogRecord } from '../logging/serializer';

const enum BodyMode {
  /** Response head not written yet. */
  None = 0,
  /** Upstream gave Content-Length: stream with tryEnd so the client gets the same framing. */
  Sized = 1,
  /** No length known: uWS writes chunked encoding. */
  Chunked = 2,
  /** HEAD, 204, 304: headers only. */
  Bodiless = 3,
}

const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_BODY = Buffer.alloc(0);

/** The context being corked. cork() runs its callback synchronously, so one slot is enough. */
let corked: RequestContext | null = null;
let corkedChunk: Buffer | null = null;
let corkedResult = true;

/** Unix seconds, for the retry budget's buckets and ejection times. */
function nowSeconds(): number {
  return (Date.now() / 1000) | 0;
}

function retryTimerFired(ctx: RequestContext): void {
  ctx.retryNow();
}

/** Methods a retry may repeat after the request reached the upstream (RFC 9110 §9.2.2). */
function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}

function corkedWriteHead(): void {
  corked!.writeHead();
}
function corkedWriteChunk(): void {
  const ctx = corked!;
  if (ctx.headPending) ctx.writeHead();
  corkedResult = ctx.writeChunk(corkedChunk!);
}
function corkedLocalReply(): void {
  corked!.writeLocalReply();
}
function corkedFinish(): void {
  const ctx = corked!;
  if (ctx.headPending) ctx.writeHead();
  // The last bytes a response body filter held back (see filterResponseBody).
  if (corkedChunk !== null && corkedChunk.length > 0) ctx.writeChunk(corkedChunk);
  ctx.finishBody();
}

export class RequestContext implements PluginContext, ExchangeHandler {
  readonly server: ProxyServer;
  readonly res: HttpResponse;
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

  /** The client went away: never touch `res` again. */
  aborted = false;
  /** The response has ended: never touch `res` again. */
  done = false;
  /** Status and headers are on the wire (or in uWS's buffer); a local reply is no longer possible. */
  headSent = false;
  /**
   * The upstream head arrived but is not written yet. It goes out together with the first body
   * chunk (or the end), so a small response costs one send(2) instead of two; a response whose
   * body is slow to start gets its head flushed at the end of the event-loop turn instead.
   */
  headPending = false;

  responseStatus = 0;
  /** uWS's socket context when this is a WebSocket upgrade (websocket/upgrade.ts); else null. */
  wsContext: us_socket_context_t | null = null;
  #cancelUpgrade: (() => void) | null = null;
  responseBytes = 0;
  upstreamStartedAt = 0;
  upstreamHeadersAt = 0;
  error: ProxyError | null = null;
  /** The gateway's id for this request (logging/request-id.ts); '' when --request-id-header is off. */
  requestId = '';
  /** W3C trace context of this hop (tracing/trace-context.ts), set before routing. */
  trace: TraceContext | null = null;
  /** performance.now() when requestFinished ran; 0 before. */
  finishedAt = 0;

  /** Retries done so far (the service's `retries` caps them). */
  retriesDone = 0;
  /** Admission control (proxy/admission.ts): holds an --max-in-flight slot / waits for one. */
  holdsAdmission = false;
  admissionWait: GateWaiter | null = null;
  /** Close the connection after a local reply (a refusal under --max-connections). */
  closeAfterReply = false;

  /** The next onRequest plugin to run in `chain` (the running one is at #chainIndex - 1). */
  #chainIndex = 0;
  /** Bit i: target i of the balancer already failed this request. */
  #tried = 0;
  /** This request counts in its target's node-wide in-flight slot. */
  #holdsTarget = false;
  /** This request holds a circuit-breaker request slot / a retry slot. */
  #holdsBreaker = false;
  #holdsRetry = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #attemptStartedAt = 0;
  /** The upstream exchange, created at the first attempt and reused by retries. */
  #exchange: UpstreamExchange | null = null;
  /** Before dispatch: plugin additions only. From dispatch on: the full upstream header list. */
  #upstreamHeaders: string[] | null = null;
  #upstreamHeadersBuilt = false;
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
  #rewritesBody = false;
  /** Running the onResponse phase: a `respond` from there must not run it again. */
  #inResponsePhase = false;
  #logRecord: LogRecord | null = null;
  #mode = BodyMode.None;
  #total = 0;
  #pendingChunk: Buffer | null = null;
  #pendingStart = 0;
  #writableRegistered = false;

  constructor(server: ProxyServer, res: HttpResponse, snapshot: Snapshot, head: DownstreamHead, startedAt: number) {
    this.server = server;
    this.res = res;
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
    this.setUpstreamHeader('x-consumer-id', consumer.id);
    if (consumer.username !== null) this.setUpstreamHeader('x-consumer-username', consumer.username);
    else this.removeUpstreamHeader('x-consumer-username');
    if (consumer.customId !== null) this.setUpstreamHeader('x-consumer-custom-id', consumer.customId);
    else this.removeUpstreamHeader('x-consumer-custom-id');
    if (credentialIdentifier !== null) this.setUpstreamHeader('x-credential-identifier', credentialIdentifier);
    else this.removeUpstreamHeader('x-credential-identifier');
    if (anonymous) this.setUpstreamHeader('x-anonymous-consumer', 'true');
    else this.removeUpstreamHeader('x-anonymous-consumer');
    const byConsumer = this.route === null ? null : this.route.consumerChains;
    if (byConsumer !== null) this.#applyConsumerPlugins(byConsumer, consumer.id);
  }

  /**
   * Kong re-resolves the plugins after the one that authenticated: switch to the chain compiled
   * for this consumer and that auth plugin, and resume after the auth plugin's rank.
   */
  #applyConsumerPlugins(byConsumer: ReadonlyMap<string, ConsumerChains>, consumerId: string): void {
    const current = this.chain;
    const at = this.#chainIndex - 1;
    // Only an onRequest plugin can change what the rest of the chain is.
    if (current.onRequest === null || at < 0 || at >= current.onRequest.length) return;
    const rank = current.requestRanks[at];
    const chains = byConsumer.get(consumerId);
    if (chains === undefined) {
      // A second auth plugin replaced a consumer that had plugins by one without (Kong's logical OR).
      const base = this.route!.chain;
      if (current !== base) {
        this.chain = base;
        this.#chainIndex = base.resumeIndexAfter(rank);
      }
      return;
    }
    const k = chains.authRanks.indexOf(rank);
    if (k < 0) return;
    const next = chains.chains[k];
    this.chain = next;
    this.#chainIndex = next.resumeAt;
  }

  respond(status: number, body: string | Buffer, contentType: string, headers: readonly string[] | null): void {
    if (this.aborted || this.done || this.headSent) return;
    this.headSent = true;
    this.done = true;
    this.responseStatus = status;
    this.responseBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    this.#localContentType = contentType;
    this.#localHeaders = headers;
    this.#cancelUpstream();
    // As in Kong, response plugins (CORS headers, for one) see local replies too; a reply made
    // from onResponse itself replaces the upstream's and the phase is not run twice.
    const phase = this.#inResponsePhase ? null : this.chain.onResponse;
    if (phase !== null) {
      for (let i = 0; i < phase.length; i++) {
        try {
          phase[i].onResponse!(this);
        } catch (err) {
          this.server.logger.error({ err, route: this.routeName }, 'plugin failed in onResponse of a local reply');
        }
      }
    }
    // A body we did not read would be parsed as the next request: close instead.
    this.#localClose = this.server.draining || this.closeAfterReply || (this.body !== null && !this.body.readableEnded);
    this.#localBody = body;
    this.body?.detach();
    corked = this;
    this.res.cork(corkedLocalReply);
    corked = null;
    this.#localBody = '';
    this.server.requestFinished(this);
  }

  /** @internal called inside cork: the head and body of a local reply (see `respond`). */
  writeLocalReply(): void {
    const res = this.res;
    const headers = this.#localHeaders;
    const edits = this.#responseHeaderEdits;
    res.writeStatus(statusLine(this.responseStatus));
    res.writeHeader('content-type', this.#localContentType);
    if (headers !== null) for (let i = 0; i + 1 < headers.length; i += 2) res.writeHeader(headers[i], headers[i + 1]);
    if (edits !== null) {
      for (let i = 0; i + 1 < edits.length; i += 2) {
        // The replying plugin's own headers win over what response plugins add.
        if (edits[i + 1] !== REMOVED_HEADER && (headers === null || !hasFlatIgnoreCase(headers, edits[i]))) res.writeHeader(edits[i], edits[i + 1]);
      }
    }
    const idHeader = this.server.requestIdHeader;
    if (this.requestId !== '' && (headers === null || !hasFlatIgnoreCase(headers, idHeader)) && (edits === null || !hasFlat(edits, idHeader))) {
      res.writeHeader(idHeader, this.requestId);
    }
    res.end(this.#localBody, this.#localClose);
  }

  setUpstreamHeader(name: string, value: string): void {
    const lower = name.toLowerCase();
    this.removeUpstreamHeader(lower);
    (this.#upstreamHeaders ??= []).push(lower, value);
  }

  removeUpstreamHeader(name: string): void {
    const lower = name.toLowerCase();
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
    const lower = name.toLowerCase();
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
    const lower = name.toLowerCase();
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
    const lower = name.toLowerCase();
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
    if (rewrites) this.#rewritesBody = true;
  }

  /** Answer with one of the error table's entries, as JSON `{"message": ...}`. */
  fail(error: ProxyError): void {
    this.error = error;
    if (this.headSent) {
      // Too late for a status code: cut the connection so the client sees a truncated response.
      this.#closeDownstream();
      return;
    }
    this.respond(error.status, error.body, JSON_TYPE, null);
  }

  // ---------------------------------------------------------------- request phases

  /** Run the route's onRequest plugins from where we left off; dispatch when all continue. */
  runRequestPhase(): void {
    for (;;) {
      // Re-read each time: authentication may have switched to a consumer's chain.
      const plugins = this.chain.onRequest;
      const i = this.#chainIndex;
      if (plugins === null || i >= plugins.length) break;
      this.#chainIndex = i + 1;
      const verdict = plugins[i].onRequest!(this);
      if (verdict === Verdict.Continue) continue;
      if (verdict === Verdict.Stop) return;
      // Only an asynchronous plugin pays for these closures.
      verdict.then(
        (v) => this.#resumeAfter(v),
        (err) => this.#pluginFailed(err),
      );
      return;
    }
    this.#forward();
  }

  #resumeAfter(verdict: Verdict): void {
    if (this.aborted || this.done) return;
    if (verdict === Verdict.Stop) return;
    this.runRequestPhase();
  }

  #pluginFailed(err: unknown): void {
    this.server.logger.error({ err, route: this.routeName }, 'plugin failed in onRequest');
    if (!this.aborted && !this.done) this.fail(Errors.internal);
  }

  #forward(): void {
    if (this.aborted || this.done) return;
    const route = this.route!;
    const service = route.service;
    if (service === null) return this.fail(Errors.noService);
    const breaker = service.breaker;
    if (breaker !== null) {
      const overflow = breaker.acquire();
      if (overflow !== null) return this.fail(overflow);
      this.#holdsBreaker = true;
      service.budget!.recordRequest(nowSeconds());
    }
    const target = service.balancer.pick(this, 0);
    if (target === null) return this.fail(Errors.noHealthyTarget);
    this.#useTarget(target);

    this.#upstreamHeaders = this.#buildUpstreamHeaders(target, route);
    this.#upstreamHeadersBuilt = true;
    const phase = this.chain.onUpstreamRequest;
    if (phase !== null) for (let i = 0; i < phase.length; i++) phase[i].onUpstreamRequest!(this);

    const head = this.request;
    const cfg = route.config;
    const override = this.#upstreamPathOverride;
    let path = escapePath(override !== null ? override : upstreamPath(service.config.path, head.path, this.match.matchedLength, cfg.stripPath));
    const query = this.#upstreamQuery ?? head.query;
    if (query !== '') path = path + '?' + query;

    this.upstreamStartedAt = performance.now();
    this.#attemptStartedAt = this.upstreamStartedAt;
    this.#upstreamPath = path;
    this.#dispatch();
  }

  #useTarget(target: UpstreamTarget): void {
    this.target = target;
    if (target.slot >= 0) {
      Atomics.add(this.route!.service!.balancer.shared.targets, target.slot * T.Stride + T.InFlight, 1);
      this.#holdsTarget = true;
    }
  }

  #releaseTarget(): void {
    if (!this.#holdsTarget) return;
    this.#holdsTarget = false;
    Atomics.sub(this.route!.service!.balancer.shared.targets, this.target!.slot * T.Stride + T.InFlight, 1);
  }

  /** The request ended (server.requestFinished): give back every node-wide count it holds. */
  releaseUpstream(): void {
    if (this.#retryTimer !== null) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
    this.#releaseTarget();
    const breaker = this.route?.service?.breaker ?? null;
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

  /**
   * Whether the failed attempt may be retried on another target: retries left, a request that
   * can be replayed (never reached the upstream, or idempotent without a body), and room in the
   * circuit breaker's max_retries and the upstream's retry budget.
   */
  #mayRetry(service: CompiledService, error: ProxyError): boolean {
    if (this.retriesDone >= service.config.retries || this.responseStatus !== 0) return false;
    if (!error.retryable && error !== Errors.upstreamReadTimeout) return false;
    // Once a byte of the request was written to a socket, it may have reached the upstream.
    const ex = this.#exchange!;
    // A body a plugin read whole is a buffer that can be sent again.
    const body = this.#upstreamBody !== null ? null : this.body;
    if (ex.headWritten) {
      if (body !== null || !isIdempotent(this.request.method)) return false;
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

  #scheduleRetry(service: CompiledService): void {
    const failed = this.target!;
    this.#releaseTarget();
    if (failed.index < 31) this.#tried |= 1 << failed.index;
    this.retriesDone++;
    const delay = backoffDelay(this.retriesDone, service.backoffBaseMs, service.backoffMaxMs);
    this.#retryTimer = setTimeout(retryTimerFired, delay, this);
  }

  /** @internal the backoff is over: dispatch again, to another target when one is available. */
  retryNow(): void {
    this.#retryTimer = null;
    if (this.aborted || this.done) return;
    const route = this.route!;
    const service = route.service!;
    const target = service.balancer.pick(this, this.#tried);
    if (target === null) return this.fail(Errors.noHealthyTarget);
    this.#useTarget(target);
    const headers = this.#upstreamHeaders!;
    if (!route.config.preserveHost && headers[0] === 'host') headers[1] = target.hostHeader;
    this.#attemptStartedAt = performance.now();
    this.#dispatch();
  }

  #dispatch(): void {
    if (this.wsContext !== null) return this.#dispatchUpgrade();
    const config = this.route!.service!.config;
    // gRPC (src/grpc/proxy.ts): protocol grpc/grpcs goes upstream over HTTP/2, not the engine;
    // the cancel slot is the upgrade's (one or the other, never both).
    if (config.protocol === 'grpc' || config.protocol === 'grpcs') {
      this.#cancelUpgrade = forwardGrpc(this, this.target!, config, this.#upstreamPath, this.#upstreamHeaders!);
      return;
    }
    const ex = (this.#exchange ??= new UpstreamExchange(this));
    // A body a plugin read whole (readRequestBody, setUpstreamBody) goes as a buffer, and a retry
    // sends it again; otherwise the client's stream.
    const buffered = this.#upstreamBody;
    const body = buffered !== null ? Readable.from([buffered]) : this.body;
    const length = buffered !== null ? buffered.length : body === null || this.request.contentLength < 0 ? -1 : this.request.contentLength;
    // A header a plugin set with a control character in it cannot be sent: a malformed request.
    if (!ex.prepare(this.#upstreamMethod ?? this.request.method, this.#upstreamPath, this.#upstreamHeaders!, body, length, config.readTimeout, config.writeTimeout)) {
      return this.fail(Errors.badRequest);
    }
    ex.beginAttempt();
    this.target!.pool.dispatch(ex);
  }

  /** Passive health check: count this outcome against the target, node-wide. */
  #reportPassive(service: CompiledService, outcome: number, status: number): void {
    const target = this.target;
    if (target === null || target.slot < 0 || outcome < 0) return;
    const balancer = service.balancer;
    recordOutcome(balancer.shared, target.slot, outcome, status, service.passive!, true, nowSeconds(), balancer);
  }

  #buildUpstreamHeaders(target: UpstreamTarget, route: CompiledRoute): string[] {
    const head = this.request;
    const names = head.headerNames;
    const values = head.headerValues;
    const extraHopByHop = connectionTokens(head.connection);
    const removals = this.#upstreamRemovals;
    const out: string[] = [];
    out.push('host', route.config.preserveHost && head.hostHeader !== '' ? head.hostHeader : target.hostHeader);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (isDroppedRequestHeader(name)) continue;
      if (extraHopByHop !== null && extraHopByHop.includes(name)) continue;
      if (removals !== null && removals.includes(name)) continue;
      out.push(name, values[i]);
    }
    const client = head.remoteAddress;
    out.push(
      'x-forwarded-for', head.xForwardedFor === '' ? client : head.xForwardedFor + ', ' + client,
      'x-forwarded-proto', head.scheme,
      'x-forwarded-host', head.host,
      'x-forwarded-port', head.scheme === 'https' ? this.server.tlsPortString : this.server.portString,
      'x-forwarded-path', head.rawPath,
      'x-real-ip', client,
      'via', head.via === '' ? '1.1 floodgate' : head.via + ', 1.1 floodgate',
    );
    // Kong tells the upstream which prefix strip_path removed.
    if (route.config.stripPath && this.match.matchedLength > 0) out.push('x-forwarded-prefix', head.path.slice(0, this.match.matchedLength));
    // Trace context and request id before plugin additions, so a plugin may still override them.
    const trace = this.trace;
    if (trace !== null) {
      // The client's own traceparent (and, for a restarted trace, its tracestate: W3C 3.3.1) is
      // replaced; without one, a push instead of a scan of the list.
      if (head.traceparent === '') out.push('traceparent', trace.upstreamTraceparent());
      else setFlat(out, 'traceparent', trace.upstreamTraceparent());
      if (!trace.continued && head.tracestate !== '') removeFlat(out, 'tracestate');
    }
    if (this.requestId !== '') setFlat(out, this.server.requestIdHeader, this.requestId);
    const additions = this.#upstreamHeaders;
    if (additions !== null) for (let i = 0; i < additions.length; i += 2) setFlat(out, additions[i], additions[i + 1]);
    return out;
  }

  // ---------------------------------------------------------------- downstream events

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

  #writable(offset: number): boolean {
    if (this.aborted || this.done) return true;
    if (this.#mode === BodyMode.Sized && this.#pendingChunk !== null) {
      const [ok, done] = this.res.tryEnd(this.#pendingChunk.subarray(offset - this.#pendingStart), this.#total);
      if (done) this.#markDone();
      if (!ok) return false;
      this.#pendingChunk = null;
    }
    // Also when the last bytes just went out (done): the engine still holds the end of the
    // response, and reading it is what returns the connection to its pool.
    const ex = this.#exchange;
    if (ex !== null) ex.resume();
    return true;
  }

  // ---------------------------------------------------------------- ExchangeHandler (src/upstream/)

  onResponseHead(head: ResponseHead): void {
    if (this.aborted || this.done) return;
    // 1xx never get here: the engine drops them as NGINX does (uWS cannot send an interim head
    // before the final one anyway), and a 101 is a failure (WebSocket upgrades never reach the engine: websocket/upstream.ts).
    const statusCode = head.status;
    this.upstreamHeadersAt = performance.now();
    this.responseStatus = statusCode;
    const service = this.route!.service!;
    if (service.passive !== null) this.#reportPassive(service, service.passive.classifyStatus(statusCode), statusCode);
    if (service.observesLatency) service.balancer.observe(this.target!, this.upstreamHeadersAt - this.#attemptStartedAt);
    this.#responseHead = head;
    this.#loggedHead = head;
    const phase = this.chain.onResponse;
    if (phase !== null) {
      this.#inResponsePhase = true;
      for (let i = 0; i < phase.length && !this.done; i++) phase[i].onResponse!(this);
      this.#inResponsePhase = false;
      // A plugin answered instead (respond from onResponse): the upstream exchange is cancelled.
      if (this.done) return;
    }
    this.headPending = true;
    this.server.deferHead(this);
  }

  /** End of the event-loop turn: write a head whose body has not started yet. */
  flushPendingHead(): void {
    if (!this.headPending || this.aborted || this.done) return;
    corked = this;
    this.res.cork(corkedWriteHead);
    corked = null;
  }

  onResponseData(chunk: Buffer): boolean {
    // Done (every declared byte is out): whatever is left is discarded, and the engine goes on
    // to the end of the response so the connection can be reused.
    if (this.aborted || this.done) return true;
    if (this.#bodyFilters !== null) {
      const out = this.#filterChunk(chunk, false);
      if (out === null || out.length === 0) return true;
      chunk = out;
    }
    corked = this;
    corkedChunk = chunk;
    this.res.cork(corkedWriteChunk);
    corked = null;
    corkedChunk = null;
    return corkedResult;
  }

  onResponseEnd(): void {
    if (this.aborted) return;
    if (this.done) {
      // A sized body already went out whole (tryEnd ended it): observing filters still see the end.
      if (this.#bodyFilters !== null && !this.#rewritesBody && this.error === null) this.#filterChunk(null, true);
      return;
    }
    const tail = this.#bodyFilters === null ? null : this.#filterChunk(null, true);
    if (this.done) return;
    corked = this;
    corkedChunk = tail;
    this.res.cork(corkedFinish);
    corked = null;
    corkedChunk = null;
  }

  /**
   * Run the response body filters on one chunk (or, with `end`, their tails). A filter that throws
   * costs this response (the connection is cut, as for any failure after the head), not the worker.
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
        this.server.logger.error({ err, route: this.routeName }, 'plugin failed in a response body filter');
        this.error = Errors.internal;
        this.#closeDownstream();
        return null;
      }
    }
    return data;
  }

  onExchangeFailed(failure: Failure, detail: string, cause: Error | null): void {
    if (this.aborted || this.done) return;
    const error = errorForFailure(failure, detail);
    const service = this.route!.service!;
    // Only the target's own faults count against its health: not a full pool queue, not a
    // request we could not send, not a plugin that threw.
    if (service.passive !== null && this.responseStatus === 0 && error.source === 'upstream' && error.status !== 503) {
      const timedOut = failure === Failure.ConnectTimeout || failure === Failure.ReadTimeout || failure === Failure.WriteTimeout;
      this.#reportPassive(service, timedOut ? Outcome.Timeout : Outcome.TcpFailure, 0);
    }
    if (this.#mayRetry(service, error)) return this.#scheduleRetry(service);
    if (failure === Failure.HandlerError) this.server.logger.error({ err: cause, route: this.routeName }, 'plugin failed while the upstream response arrived');
    else if (error === Errors.upstreamUnavailable || failure === Failure.Protocol || failure === Failure.Tls) {
      this.server.logger.warn({ err: cause, reason: detail, target: this.target?.address }, 'upstream error');
    }
    this.fail(error);
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
    completeUpgrade(this.res, this.request, this.wsContext!, rawHeaders, socket, head, this.server.websocket, this.server.websockets);
    // The HTTP exchange ends here (logged as 101); the bridge carries the connection from now on.
    this.server.requestFinished(this);
  }

  // ---------------------------------------------------------------- response writing (always inside cork)

  /** @internal called inside cork */
  writeHead(): void {
    const res = this.res;
    const head = this.#responseHead!;
    const status = this.responseStatus;
    this.headSent = true;
    this.headPending = false;
    res.writeStatus(statusLine(status));
    let contentLength = -1;
    let extraHopByHop: string[] | null = null;
    const edits = this.#responseHeaderEdits;
    // The request id replaces an upstream's copy of the same header.
    const idHeader = this.requestId === '' ? '' : this.server.requestIdHeader;
    for (let i = 0; i < head.count; i++) {
      const name = head.name(i);
      switch (classifyResponseHeader(name)) {
        case ResponseHeaderKind.Forward:
          if (extraHopByHop !== null && extraHopByHop.includes(name.toString('latin1').toLowerCase())) break;
          // Compared as bytes, length first: no string is made for a header that is kept.
          if (edits !== null && nameInFlatList(name, edits)) break;
          if (idHeader !== '' && nameIs(name, idHeader)) break;
          res.writeHeader(name, head.value(i));
          break;
        case ResponseHeaderKind.ContentLength:
          contentLength = parseContentLength(head.value(i));
          break;
        case ResponseHeaderKind.Connection:
          extraHopByHop = connectionTokens(head.valueString(i).toLowerCase());
          break;
        default:
          break;
      }
    }
    if (edits !== null) for (let i = 0; i < edits.length; i += 2) if (edits[i + 1] !== REMOVED_HEADER) res.writeHeader(edits[i], edits[i + 1]);
    if (idHeader !== '' && (edits === null || !hasFlat(edits, idHeader))) res.writeHeader(idHeader, this.requestId);
    this.#responseHead = null;
    if (this.request.method === 'HEAD' || status === 204 || status === 304) {
      this.#mode = BodyMode.Bodiless;
      this.#total = contentLength;
    } else if (contentLength >= 0 && !this.#rewritesBody) {
      this.#mode = BodyMode.Sized;
      this.#total = contentLength;
    } else {
      this.#mode = BodyMode.Chunked;
    }
  }

  /** @internal called inside cork. Returns false when the client is slow (the engine then pauses). */
  writeChunk(chunk: Buffer): boolean {
    const res = this.res;
    this.responseBytes += chunk.length;
    if (this.#mode === BodyMode.Sized) {
      const start = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.#total);
      if (done) {
        this.#markDone();
        return true;
      }
      if (ok) return true;
      this.#pendingChunk = chunk;
      this.#pendingStart = start;
      this.#awaitWritable();
      return false;
    }
    if (this.#mode === BodyMode.Chunked) {
      if (res.write(chunk)) return true;
      this.#awaitWritable();
      return false;
    }
    // Bodiless: an upstream that sends a body to HEAD is ignored.
    return true;
  }

  /** @internal called inside cork */
  finishBody(): void {
    const res = this.res;
    switch (this.#mode) {
      case BodyMode.Sized:
        if (this.done) break;
        if (this.#total === 0) {
          res.end(undefined, this.server.draining);
          this.#markDone();
        } else {
          // The upstream's body ended before the length it declared (a chunked body with a
          // Content-Length never gets here: the parser refuses CL with TE).
          this.#closeDownstream();
        }
        break;
      case BodyMode.Chunked:
        // No closeConnection here: uWS v20.30 would write a Connection header after the body.
        res.end();
        this.#markDone();
        break;
      case BodyMode.Bodiless:
        // uWS reads an explicit `undefined` length as a number; omit the argument instead.
        // A 204 never carries Content-Length (RFC 9110 §8.6).
        if (this.#total >= 0 && this.responseStatus !== 204) res.endWithoutBody(this.#total, this.server.draining);
        else res.endWithoutBody();
        this.#markDone();
        break;
      default:
        break;
    }
  }

  #awaitWritable(): void {
    if (this.#writableRegistered) return;
    this.#writableRegistered = true;
    // Registered once, and only for clients slow enough to push back.
    this.res.onWritable((offset) => this.#writable(offset));
  }

  #markDone(): void {
    if (this.done) return;
    this.done = true;
    this.body?.detach();
    this.server.requestFinished(this);
  }

  #closeDownstream(): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.body?.detach();
    this.#cancelUpstream();
    this.res.close();
    this.server.requestFinished(this);
  }

  #cancelUpstream(): void {
    if (this.#cancelUpgrade !== null) {
      this.#cancelUpgrade();
      this.#cancelUpgrade = null;
    }
    const ex = this.#exchange;
    if (ex !== null && ex.state !== ExchangeState.Done) ex.abort();
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
    const phase = this.chain.onLog;
    if (phase !== null) for (let i = 0; i < phase.length; i++) phase[i].onLog!(this);
  }
}

/** The value of a response-header edit that hides the header instead of writing it. */
const REMOVED_HEADER = '\u0000removed';

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

function setFlat(out: string[], name: string, value: string): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] === name) {
      out[i + 1] = value;
      return;
    }
  }
  out.push(name, value);
}

function removeFlat(out: string[], name: string): void {
  for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === name) out.splice(i, 2);
}

function hasFlatIgnoreCase(list: readonly string[], lowerName: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i].toLowerCase() === lowerName) return true;
  return false;
}

function hasFlat(list: readonly string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true;
  return false;
}
