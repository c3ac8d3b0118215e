/**
 * The upstream half of one gRPC call, shared by the two ways a call reaches the client: native
 * gRPC on the client's own HTTP/2 stream (proxy.ts) and grpc-web (web-call.ts). A subclass says
 * how the head, the DATA, the end and a status of the gateway's own are written downstream.
 *
 * - One node:http2 client session per target (`grpc://host:port`), shared by all calls: gRPC
 *   multiplexes. A session that closes or gets GOAWAY is forgotten and reopened on next use.
 * - `grpc-timeout` is forwarded (the upstream sees the deadline) and enforced here: past it the
 *   upstream stream is cancelled and the client gets DEADLINE_EXCEEDED (4).
 * - An upstream that cannot be reached, or whose stream dies, gets the client UNAVAILABLE (14),
 *   whose message names the target and the reason.
 * - `cancel` (the client went away) resets the upstream stream with CANCEL.
 * - Passive health, as attempt.ts does for HTTP: the upstream's response head reports its
 *   `:status`, an upstream that fails before its head a TCP failure, and the gateway's deadline
 *   before a head a timeout (`GrpcCaller.reportGrpcOutcome`). A call the client cancelled reports
 *   nothing.
 * - Flow control: when the client side is full, `sendData` returns false and the upstream stream
 *   is paused until the subclass calls `resumeUpstream`.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { ServiceConfig } from '../config/types';
import type { UpstreamTarget } from '../proxy/snapshot';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;
export const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'content-length']);

export const GRPC_STATUS = { OK: 0, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const;

/** What a call learned about its target, for passive health checks (proxy/attempt.ts). */
export const enum GrpcOutcome {
  /** The upstream's response head arrived; its HTTP `:status` is classified as for HTTP. */
  Response = 0,
  /** The target could not be reached, or its session or stream died before the head. */
  Unreachable = 1,
  /** The gateway's `grpc-timeout` ran out before the head. */
  TimedOut = 2,
}

/**
 * What a gRPC call needs of the request context (proxy/request-context.ts implements it), so this
 * module does not import the context back.
 */
export interface GrpcCaller {
  readonly res: unknown;
  readonly request: { readonly method: string; header(name: string): string | undefined };
  readonly body: (Readable & { detach(): void }) | null;
  readonly requestId: string;
  readonly aborted: boolean;
  readonly server: { readonly requestIdHeader: string; requestFinished(ctx: GrpcCaller): void };
  done: boolean;
  headSent: boolean;
  responseStatus: number;
  responseBytes: number;
  upstreamStartedAt: number;
  upstreamHeadersAt: number;
  respond(status: number, body: string | Buffer, contentType: string, headers: string[] | null): void;
  /** Count this outcome against the picked target (passive health, latency); `status` 0 unless a head. */
  reportGrpcOutcome(kind: GrpcOutcome, status: number): void;
}

/** One HTTP/2 session per target, reopened when it closes. */
const sessions = new Map<string, ClientHttp2Session>();

function sessionFor(service: ServiceConfig, target: UpstreamTarget): ClientHttp2Session {
  const secure = service.protocol === 'grpcs';
  const key = `${secure ? 'https' : 'http'}://${target.address}`;
  let session = sessions.get(key);
  if (session !== undefined && !session.closed && !session.destroyed) return session;
  const servername = target.hostHeader.replace(/:\d+$/, '');
  session = http2.connect(key, secure ? { servername, rejectUnauthorized: service.tlsVerify === true } : {});
  const s = session;
  sessions.set(key, s);
  const forget = () => {
    if (sessions.get(key) === s) sessions.delete(key);
  };
  s.on('close', forget);
  s.on('goaway', forget);
  s.on('error', forget);
  // An idle session must not keep a draining worker's loop alive.
  s.unref();
  return s;
}

/** grpc-timeout (gRPC over HTTP/2 spec): up to 8 digits and a unit; -1 when absent or bad. */
export function grpcTimeoutMs(value: string | undefined): number {
  if (value === undefined) return -1;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return -1;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H': return n * 3_600_000;
    case 'M': return n * 60_000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return Math.ceil(n / 1000);
    default: return Math.ceil(n / 1_000_000);
  }
}

export abstract class GrpcCall {
  protected readonly ctx: GrpcCaller;
  protected upstream: ClientHttp2Stream | null = null;
  /** The upstream's trailers once they arrived (or a status of ours that replaces them). */
  protected trailers: OutgoingHttpHeaders | null = null;
  #timer: NodeJS.Timeout | null = null;
  #finished = false;
  #upstreamEnded = false;
  /** The upstream's response head arrived: later failures are not the target's connect faults. */
  #gotHead = false;

  constructor(ctx: GrpcCaller) {
    this.ctx = ctx;
  }

  /** The client's side is gone (reset stream, closed connection): write nothing more. */
  protected abstract get downstreamGone(): boolean;
  /**
   * The upstream's response head (pseudo-headers removed, the request id added). With
   * `trailersOnly` it carries grpc-status and nothing follows: the call finishes after it.
   */
  protected abstract sendHead(status: number, headers: OutgoingHttpHeaders, trailersOnly: boolean): void;
  /** One upstream DATA chunk; false = the client is full (call `resumeUpstream` when it drains). */
  protected abstract sendData(chunk: Buffer): boolean;
  /** The upstream ended after its head; its trailers are in `this.trailers` (null if none came). */
  protected abstract sendEnd(): void;
  /**
   * A status of the gateway's own (deadline, unavailable), `message` already percent-encoded:
   * as a trailers-only answer when `headSent` is false, else in place of the trailers. The call
   * finishes right after.
   */
  protected abstract sendStatus(code: number, message: string, headSent: boolean): void;

  /** Send the call upstream; `body` (when not null) replaces the client's body stream. */
  start(target: UpstreamTarget, service: ServiceConfig, path: string, flat: readonly string[], body: Buffer | null): void {
    const ctx = this.ctx;
    const out: OutgoingHttpHeaders = {
      ':method': ctx.request.method,
      ':path': path,
      ':scheme': service.protocol === 'grpcs' ? 'https' : 'http',
      ':authority': flat[0] === 'host' ? flat[1] : target.hostHeader,
    };
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i];
      if (CONNECTION_SPECIFIC.has(name)) continue;
      const prev = out[name];
      out[name] = prev === undefined ? flat[i + 1] : Array.isArray(prev) ? [...prev, flat[i + 1]] : [String(prev), flat[i + 1]];
    }
    out.te = 'trailers';
    const timeout = grpcTimeoutMs(ctx.request.header('grpc-timeout'));
    if (timeout >= 0) this.#timer = setTimeout(this.#deadline, timeout);

    const stream = body === null ? ctx.body : null;
    let upstream: ClientHttp2Stream;
    try {
      upstream = sessionFor(service, target).request(out, { endStream: stream === null && (body === null || body.length === 0) });
    } catch (err) {
      this.#onUpstreamError(`${target.address}: ${(err as Error).message}`);
      return;
    }
    this.upstream = upstream;
    ctx.upstreamStartedAt = performance.now();
    upstream.on('response', this.#onResponse);
    upstream.on('trailers', (t: IncomingHttpHeaders) => (this.trailers = withoutPseudo(t)));
    upstream.on('data', this.#onData);
    upstream.on('end', this.#onEnd);
    upstream.on('error', (err: Error) => this.#onUpstreamError(`${target.address}: ${err.message}`));
    upstream.on('close', () => {
      if (!this.#finished && !this.#upstreamEnded) this.#onUpstreamError(`${target.address}: stream closed (code ${upstream.rstCode})`);
    });
    if (stream !== null) stream.pipe(upstream);
    else if (body !== null && body.length > 0) upstream.end(body);
  }

  /** The client went away (or the request ended otherwise): reset the upstream stream. */
  cancel = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimer();
    const up = this.upstream;
    if (up !== null && !up.destroyed) up.close(NGHTTP2_CANCEL);
  };

  protected get finished(): boolean {
    return this.#finished;
  }

  protected resumeUpstream(): void {
    const up = this.upstream;
    if (up !== null && !this.#finished) up.resume();
  }

  /** The request id header, when the gateway has one, on a head going downstream. */
  protected addRequestId(headers: OutgoingHttpHeaders): void {
    const ctx = this.ctx;
    if (ctx.requestId !== '') headers[ctx.server.requestIdHeader] = ctx.requestId;
  }

  #onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    const ctx = this.ctx;
    ctx.upstreamHeadersAt = performance.now();
    const status = Number(headers[':status']);
    ctx.responseStatus = status;
    if (this.#finished) return;
    this.#gotHead = true;
    ctx.reportGrpcOutcome(GrpcOutcome.Response, status);
    if (this.downstreamGone) return;
    ctx.headSent = true;
    const trailersOnly = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    const out = withoutPseudo(headers);
    this.addRequestId(out);
    this.sendHead(status, out, trailersOnly);
    if (trailersOnly) this.finish();
  };

  #onData = (chunk: Buffer): void => {
    if (this.#finished || this.downstreamGone) return;
    if (!this.sendData(chunk)) this.upstream!.pause();
  };

  #onEnd = (): void => {
    this.#upstreamEnded = true;
    if (this.#finished || this.downstreamGone || !this.ctx.headSent) return;
    this.sendEnd();
  };

  #deadline = (): void => {
    this.#timer = null;
    if (!this.#finished && !this.#gotHead) this.ctx.reportGrpcOutcome(GrpcOutcome.TimedOut, 0);
    const up = this.upstream;
    if (up !== null && !up.destroyed) up.close(NGHTTP2_CANCEL);
    this.#status(GRPC_STATUS.DEADLINE_EXCEEDED, 'Deadline Exceeded (grpc-timeout at the gateway)');
  };

  #onUpstreamError(reason: string): void {
    if (this.#finished) return;
    if (!this.#gotHead) this.ctx.reportGrpcOutcome(GrpcOutcome.Unreachable, 0);
    this.#unavailable(reason);
  }

  #unavailable(reason: string): void {
    this.#status(GRPC_STATUS.UNAVAILABLE, `upstream unavailable: ${reason}`);
  }

  /** A status of our own: trailers-only before the head, in place of the trailers after it. */
  #status(code: number, message: string): void {
    if (this.#finished) return;
    const ctx = this.ctx;
    if (this.downstreamGone) return this.finish();
    const headSent = ctx.headSent;
    if (!headSent) {
      ctx.headSent = true;
      ctx.responseStatus = 200;
    }
    this.sendStatus(code, percentEncode(message), headSent);
    this.finish();
  }

  /** Give up on the call: release the request and reset the upstream stream. */
  protected abandon(): void {
    this.finish();
    const up = this.upstream;
    if (up !== null && !up.destroyed) up.close(NGHTTP2_CANCEL);
  }

  /** The call is over: release the request (exactly once). */
  protected finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimer();
    const ctx = this.ctx;
    if (ctx.done || ctx.aborted) return;
    ctx.done = true;
    ctx.body?.detach();
    ctx.server.requestFinished(ctx);
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

export function withoutPseudo(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 58 /* : */ || CONNECTION_SPECIFIC.has(name)) continue;
    out[name] = h[name];
  }
  return out;
}

/** grpc-message encoding: bytes outside printable ASCII, and '%', as %XX (gRPC over HTTP/2). */
export function percentEncode(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
