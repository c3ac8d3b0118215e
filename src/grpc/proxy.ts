/**
 * gRPC proxying: a request routed to a service with `protocol: grpc` or `grpcs` goes to the
 * picked target over HTTP/2 (call.ts: one node:http2 client session per target, shared by all
 * calls), instead of through the HTTP/1.1 engine. GrpcCaller calls `forwardGrpc` where it would
 * dispatch to the engine, after routing, plugins and balancing.
 *
 * Two ways to the client:
 * - native gRPC (this file): the client's own HTTP/2 stream. All four call kinds are the same
 *   thing on the wire: one stream, DATA both ways, and the response's trailers (`grpc-status`,
 *   `grpc-message`) passed through as trailers; a trailers-only answer (an error before any
 *   message) is passed through as one HEADERS frame. Flow control end to end: the client's body
 *   is piped into the upstream stream, the upstream's DATA pauses when the client's stream is
 *   full and resumes on 'drain'. The downstream must be HTTP/2 (h2/stream-response.ts):
 *   HTTP/1.1 cannot carry trailers, so a gRPC request over HTTP/1.1 gets 426.
 * - grpc-web (web-call.ts), when the grpc-web plugin claimed the request (web-request.ts): over
 *   HTTP/1.1 or HTTP/2, trailers moved into the body.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import type { ServiceConfig } from '../config/types';
import type { UpstreamTarget } from '../proxy/snapshot';
import { H2StreamResponse } from '../h2/stream-response';
import { messageBody } from '../util/status-messages';
import { GrpcCall, GRPC_STATUS, type GrpcCaller } from './call';
import { takeGrpcWeb } from './web-request';
import { GrpcWebCall } from './web-call';

export { GRPC_STATUS, GrpcOutcome, grpcTimeoutMs, type GrpcCaller } from './call';

const JSON_TYPE = 'application/json; charset=utf-8';
const NO_TRAILERS = { 'grpc-status': String(GRPC_STATUS.INTERNAL), 'grpc-message': 'upstream sent no trailers' };

/** Forward one gRPC call; returns the cancel function the context calls when the client leaves. */
export function forwardGrpc(ctx: GrpcCaller, target: UpstreamTarget, service: ServiceConfig, path: string, headers: readonly string[]): () => void {
  const web = takeGrpcWeb(ctx);
  if (web !== null) {
    const query = path.indexOf('?');
    const body = web.upstreamBody(query < 0 ? path : path.slice(0, query));
    if (typeof body === 'string') {
      ctx.respond(400, messageBody(body), JSON_TYPE, null);
      return noop;
    }
    const call = new GrpcWebCall(ctx, web);
    call.start(target, service, path, headers, body);
    return call.cancel;
  }
  const res = ctx.res as unknown as H2StreamResponse;
  if (!(res instanceof H2StreamResponse)) {
    ctx.respond(426, messageBody('gRPC needs HTTP/2'), JSON_TYPE, ['upgrade', 'h2']);
    return noop;
  }
  const call = new H2GrpcCall(ctx, res);
  call.start(target, service, path, headers, null);
  return call.cancel;
}

function noop(): void {}

/** Native gRPC: the upstream's stream mirrored onto the client's HTTP/2 stream, trailers and all. */
class H2GrpcCall extends GrpcCall {
  readonly #res: H2StreamResponse;

  constructor(ctx: GrpcCaller, res: H2StreamResponse) {
    super(ctx);
    this.#res = res;
    res.stream.on('drain', () => this.resumeUpstream());
  }

  protected get downstreamGone(): boolean {
    return this.#res.stream.destroyed;
  }

  protected sendHead(status: number, headers: OutgoingHttpHeaders, trailersOnly: boolean): void {
    const down = this.#res.stream;
    headers[':status'] = status;
    this.#res.takeOver();
    if (trailersOnly) {
      // trailers-only: grpc-status and grpc-message are in this one HEADERS frame
      down.respond(headers, { endStream: true });
      return;
    }
    down.respond(headers, { waitForTrailers: true });
    down.on('wantTrailers', () => down.sendTrailers(this.trailers ?? NO_TRAILERS));
    down.on('close', () => this.finish());
  }

  protected sendData(chunk: Buffer): boolean {
    this.ctx.responseBytes += chunk.length;
    return this.#res.stream.write(chunk);
  }

  protected sendEnd(): void {
    const down = this.#res.stream;
    if (down.headersSent && !down.writableEnded) down.end();
  }

  protected sendStatus(code: number, message: string, headSent: boolean): void {
    const down = this.#res.stream;
    if (!headSent) {
      this.#res.takeOver();
      const head: OutgoingHttpHeaders = { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': message };
      this.addRequestId(head);
      down.respond(head, { endStream: true });
      return;
    }
    this.trailers = { 'grpc-status': String(code), 'grpc-message': message };
    if (!down.writableEnded) down.end();
  }
}

