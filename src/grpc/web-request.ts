/**
 * A grpc-web request that the grpc-web plugin (plugins/grpc-web) accepted: its mode, its body
 * already read and un-base64'd, and what the response needs (the allowed origin, the `.proto`
 * catalog for JSON). The plugin claims the request with it in onRequest; forwardGrpc (proxy.ts)
 * takes it when the call is dispatched and answers in grpc-web instead of native gRPC.
 *
 * The hand-over is a WeakMap keyed by the request's context object, so the request path itself
 * carries no grpc-web field: requests without the plugin pay one WeakMap lookup on gRPC routes
 * only, and an entry never outlives its request.
 */
import { frame, DATA_FLAG, splitFrames, type GrpcWebMode } from './web-codec';
import type { ProtoCatalog, ProtoMethod } from './proto-catalog';

export class GrpcWebRequest {
  readonly mode: GrpcWebMode;
  /** Access-Control-Allow-Origin on every answer; null = none. */
  readonly allowOrigin: string | null;
  readonly catalog: ProtoCatalog | null;
  /** JSON modes: the method resolved by `upstreamBody`, whose output type decodes the response. */
  method: ProtoMethod | null = null;
  readonly #body: Buffer;

  /** `body` is the request body as bytes (base64 already decoded; frames checked whole). */
  constructor(mode: GrpcWebMode, body: Buffer, allowOrigin: string | null, catalog: ProtoCatalog | null) {
    this.mode = mode;
    this.#body = body;
    this.allowOrigin = allowOrigin;
    this.catalog = catalog;
  }

  /**
   * The body to send upstream for a call to `callPath`: as received for protobuf messages, each
   * JSON message encoded as protobuf for JSON ones. A string says why the body cannot be sent
   * (the client gets 400).
   */
  upstreamBody(callPath: string): Buffer | string {
    if (!this.mode.json) return this.#body;
    const catalog = this.catalog;
    // The plugin refuses JSON without a proto before claiming the request.
    if (catalog === null) return 'transcoding requests require a .proto file defining the service';
    const method = catalog.method(callPath);
    if (method === undefined) return `unknown method path "${callPath}" (not in ${catalog.file})`;
    this.method = method;
    let messages: Buffer[];
    if (this.mode.framed) {
      const frames = splitFrames(this.#body);
      if (frames === null) return 'grpc-web request body ends inside a message frame';
      messages = frames.map((f) => f.payload);
    } else {
      messages = [this.#body];
    }
    const out: Buffer[] = [];
    for (const json of messages) {
      let value: unknown;
      try {
        value = JSON.parse(json.toString('utf8'));
      } catch (err) {
        return `request body is not valid JSON: ${(err as Error).message}`;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return `request message must be a JSON object (${method.input.fullName.slice(1)})`;
      let bytes: Uint8Array;
      try {
        bytes = method.input.encode(method.input.fromObject(value as Record<string, unknown>)).finish();
      } catch (err) {
        return `request message does not fit ${method.input.fullName.slice(1)}: ${(err as Error).message}`;
      }
      out.push(frame(DATA_FLAG, bytes));
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }
}

const claimed = new WeakMap<object, GrpcWebRequest>();

/** The plugin takes the request: its gRPC call is answered in grpc-web. */
export function claimGrpcWeb(request: object, web: GrpcWebRequest): void {
  claimed.set(request, web);
}

/** The grpc-web request claimed for this request context, if any (removed: taken once). */
export function takeGrpcWeb(request: object): GrpcWebRequest | null {
  const web = claimed.get(request);
  if (web === undefined) return null;
  claimed.delete(request);
  return web;
}
