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
import type { NodeSettings } from '../settings';
import type { RequestRecord } from './record';
import type { Redaction } from '../logging/redaction';
import { logPluginFailure, runLogPhase, runRequestPhase, runResponsePhase, runUpstreamRequestPhase, type ChainHost } from './chain';
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

/**
 * What a request needs from the worker's listener (server.ts implements it). An interface, so the
 * stages below the server never import it back.
 */
export interface RequestHost {
  readonly settings: NodeSettings;
  readonly logger: Logger;
  readonly portString: string;
  /** --request-id-header, lower-case; '' = no request id. */
  readonly requestIdHeader: string;
  readonly draining: boolean;
  readonly inFlight: number;
  /** Queue a response head for the end of this event-loop turn. */
  deferHead(ctx: RequestContext): void;
  /** Exactly once per request: on end, on local reply, on abort. */
  requestFinished(ctx: RequestContext): void;
}

export class RequestContext implements PluginContext, ChainHost, AttemptOwner, RequestRecord {
  readonly server: RequestHost;
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
  /** The plugin that registered each body filter, for the failure log line. */
  #bodyFilterPlugins: string[] | null = null;
  #rewritesBody = false;
  /** The onResponse phase ran (or runs now): a local reply from it, or after it, does not run it again. */
  #responsePhaseRan = false;
  #logRecord: LogRecord | null = null;
  #mode = BodyMode.None;
  #total = 0;
  #pendingChunk: Buffer | null = null;
  #pendingStart = 0;
  #writableRegistered = false;

  constructor(server: RequestHost, res: HttpResponse, snapshot: Snapshot, head: DownstreamHead, startedAt: number) {
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
    const at = this.chainIndex - 1;
    // Only an onRequest plugin can change what the rest of the chain is.
    if (current.onRequest === null || at < 0 || at >= current.onRequest.length) return;
    const rank = current.requestRanks[at];
    const chains = byConsumer.get(consumerId);
    if (chains === undefined) {
      // A second auth plugin replaced a consumer that had plugins by one without (Kong's logical OR).
      const base = this.route!.chain;
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
    // A body we did not read would be parsed as the next request: close instead.
    this.#localClose = this.server.draining || this.closeAfterReply || (this.body !== null && !this.body.readableEnded);
    this.#localBody = body;
    this.body?.detach();
    corked = this;
    this.res.cork(corkedLocalReply);
    corked = null;
    this.#localBody = '';
    this.server.requestFinished(this);
    return Verdict.Stop;
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
    (this.#bodyFilterPlugins ??= []).push(this.chain.onResponseNames[this.responsePluginAt] ?? '');
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

    this.#upstreamHeaders = this.#buildUpstreamHeaders(this.target!, route);
    this.#upstreamHeadersBuilt = true;
    if (!runUpstreamRequestPhase(this)) return;

    const head = this.request;
    const cfg = route.config;
    const override = this.#upstreamPathOverride;
    let path = escapePath(override !== null ? override : upstreamPath(service.config.path, head.path, this.match.matchedLength, cfg.stripPath));
    const query = this.#upstreamQuery ?? head.query;
    if (query !== '') path = path + '?' + query;

    this.upstreamStartedAt = performance.now();
    this.#upstreamPath = path;
    attempt.send(this.#upstreamMethod ?? head.method, path, this.#upstreamHeaders, this.#upstreamBody);
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
      'x-forwarded-proto', 'http',
      'x-forwarded-host', head.host,
      'x-forwarded-port', this.server.portString,
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
    this.#attempt?.resume();
    return true;
  }

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

  /** End of the event-loop turn: write a head whose body has not started yet. */
  flushPendingHead(): void {
    if (!this.headPending || this.aborted || this.done) return;
    corked = this;
    this.res.cork(corkedWriteHead);
    corked = null;
  }

  upstreamData(chunk: Buffer): boolean {
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

  upstreamEnd(): void {
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
        // The exception policy: a 500 while the head is only pending, else the connection is cut.
        logPluginFailure(this, err, this.#bodyFilterPlugins![i], 'onResponseBody');
        this.error = Errors.internal;
        if (this.headSent) this.#closeDownstream();
        else this.respond(Errors.internal.status, Errors.internal.body, JSON_TYPE, null);
        return null;
      }
    }
    return data;
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
    this.#attempt?.cancel();
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
