/**
 * gRPC proxying: a request routed to a service with `protocol: grpc` or `grpcs` goes to the
 * picked target over HTTP/2 (node:http2 client sessions, one per target, shared by all calls:
 * gRPC multiplexes), instead of through the HTTP/1.1 engine. GrpcCaller calls `forwardGrpc`
 * where it would dispatch to the engine, after routing, plugins and balancing.
 *
 * - All four call kinds are the same thing on the wire: one stream, DATA both ways, and the
 *   response's trailers (`grpc-status`, `grpc-message`) passed through as trailers; a
 *   trailers-only answer (an error before any message) is passed through as one HEADERS frame.
 * - Flow control end to end: the client's body is piped into the upstream stream, the upstream's
 *   DATA pauses when the client's stream is full and resumes on 'drain'.
 * - `grpc-timeout` is forwarded (the upstream sees the deadline) and enforced here: past it the
 *   upstream stream is cancelled and the client gets DEADLINE_EXCEEDED (status 4).
 * - An upstream that cannot be reached gets the client UNAVAILABLE (14), whose message names the
 *   target and the reason; a client that resets its stream cancels the upstream's.
 * - The downstream must be HTTP/2 (h2/stream-response.ts): HTTP/1.1 cannot carry trailers, so a
 *   gRPC request over HTTP/1.1 gets 426.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { ServiceConfig } from '../config/types';
import type { Readable } from 'node:stream';
import type { UpstreamTarget } from '../proxy/snapshot';
import { H2StreamResponse } from '../h2/stream-response';
import { messageBody } from '../util/status-messages';

const { NGHTTP2_CANCEL } = http2.constants;
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'content-length']);

export const GRPC_STATUS = { DEADLINE_EXCEEDED: 4, UNAVAILABLE: 14, INTERNAL: 13 } as const;

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
}

/** One HTTP/2 session per target (`grpc://host:port`), reopened when it closes. */
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

/** Forward one gRPC call; returns the cancel function the context calls when the client leaves. */
export function forwardGrpc(ctx: GrpcCaller, target: UpstreamTarget, service: ServiceConfig, path: string, headers: readonly string[]): () => void {
  const res = ctx.res as unknown as H2StreamResponse;
  if (!(res instanceof H2StreamResponse)) {
    ctx.respond(426, messageBody('gRPC needs HTTP/2'), 'application/json; charset=utf-8', ['upgrade', 'h2']);
    return noop;
  }
  const call = new GrpcCall(ctx, res);
  call.start(target, service, path, headers);
  return call.cancel;
}

function noop(): void {}

class GrpcCall {
  readonly #ctx: GrpcCaller;
  readonly #res: H2StreamResponse;
  #upstream: ClientHttp2Stream | null = null;
  #trailers: OutgoingHttpHeaders | null = null;
  #timer: NodeJS.Timeout | null = null;
  #finished = false;
  #upstreamEnded = false;

  constructor(ctx: GrpcCaller, res: H2StreamResponse) {
    this.#ctx = ctx;
    this.#res = res;
  }

  start(target: UpstreamTarget, service: ServiceConfig, path: string, flat: readonly string[]): void {
    const ctx = this.#ctx;
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

    let upstream: ClientHttp2Stream;
    try {
      upstream = sessionFor(service, target).request(out, { endStream: ctx.body === null });
    } catch (err) {
      this.#unavailable(`${target.address}: ${(err as Error).message}`);
      return;
    }
    this.#upstream = upstream;
    ctx.upstreamStartedAt = performance.now();
    upstream.on('response', this.#onResponse);
    upstream.on('trailers', (t: IncomingHttpHeaders) => (this.#trailers = withoutPseudo(t)));
    upstream.on('data', this.#onData);
    upstream.on('end', this.#onEnd);
    upstream.on('error', (err: Error) => this.#onUpstreamError(`${target.address}: ${err.message}`));
    upstream.on('close', () => {
      if (!this.#finished && !this.#upstreamEnded) this.#onUpstreamError(`${target.address}: stream closed (code ${upstream.rstCode})`);
    });
    this.#res.stream.on('drain', () => upstream.resume());
    const body = ctx.body;
    if (body !== null) body.pipe(upstream);
  }

  cancel = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimer();
    const up = this.#upstream;
    if (up !== null && !up.destroyed) up.close(NGHTTP2_CANCEL);
  };

  #onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    const ctx = this.#ctx;
    ctx.upstreamHeadersAt = performance.now();
    const status = Number(headers[':status']);
    ctx.responseStatus = status;
    const down = this.#res.stream;
    if (down.destroyed) return;
    ctx.headSent = true;
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const out = withoutPseudo(headers);
    out[':status'] = status;
    if (ctx.requestId !== '') out[ctx.server.requestIdHeader] = ctx.requestId;
    this.#res.takeOver();
    if (endStream) {
      // trailers-only: grpc-status and grpc-message are in this one HEADERS frame
      down.respond(out, { endStream: true });
      this.#done();
      return;
    }
    down.respond(out, { waitForTrailers: true });
    down.on('wantTrailers', () => down.sendTrailers(this.#trailers ?? { 'grpc-status': String(GRPC_STATUS.INTERNAL), 'grpc-message': 'upstream sent no trailers' }));
    down.on('close', () => this.#done());
  };

  #onData = (chunk: Buffer): void => {
    const down = this.#res.stream;
    if (down.destroyed) return;
    this.#ctx.responseBytes += chunk.length;
    if (!down.write(chunk)) this.#upstream!.pause();
  };

  #onEnd = (): void => {
    this.#upstreamEnded = true;
    const down = this.#res.stream;
    if (!down.destroyed && down.headersSent) down.end();
  };

  #deadline = (): void => {
    this.#timer = null;
    const up = this.#upstream;
    if (up !== null && !up.destroyed) up.close(NGHTTP2_CANCEL);
    this.#status(GRPC_STATUS.DEADLINE_EXCEEDED, 'Deadline Exceeded (grpc-timeout at the gateway)');
  };

  #onUpstreamError(reason: string): void {
    if (this.#finished) return;
    this.#unavailable(reason);
  }

  #unavailable(reason: string): void {
    this.#status(GRPC_STATUS.UNAVAILABLE, `upstream unavailable: ${reason}`);
  }

  /** A status of our own: trailers-only before the head, as trailers after it. */
  #status(code: number, message: string): void {
    if (this.#finished) return;
    const ctx = this.#ctx;
    const down = this.#res.stream;
    if (down.destroyed) return this.#done();
    const grpcMessage = percentEncode(message);
    if (!ctx.headSent) {
      ctx.headSent = true;
      ctx.responseStatus = 200;
      this.#res.takeOver();
      down.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': grpcMessage }, { endStream: true });
    } else {
      this.#trailers = { 'grpc-status': String(code), 'grpc-message': grpcMessage };
      if (!down.writableEnded) down.end();
    }
    this.#done();
  }

  #done(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimer();
    const ctx = this.#ctx;
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

function withoutPseudo(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 58 /* : */ || CONNECTION_SPECIFIC.has(name)) continue;
    out[name] = h[name];
  }
  return out;
}

/** grpc-message encoding: bytes outside printable ASCII, and '%', as %XX (gRPC over HTTP/2). */
function percentEncode(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
