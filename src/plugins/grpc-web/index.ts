/**
 * Kong's grpc-web: browsers call a gRPC service (`protocol: grpc|grpcs`) with grpc-web, over
 * HTTP/1.1 or HTTP/2. This plugin is the request half:
 *
 * - OPTIONS is a CORS preflight, answered here as Kong does (200 "OK", the allowed origin,
 *   method POST and the grpc-web request headers);
 * - the Content-Type picks the mode (grpc-web-codec.ts: binary or `-text` base64, protobuf or
 *   JSON messages, or a bare `application/json` body); JSON needs `proto`;
 * - the body is read whole (grpc-web has no client streaming), base64-decoded for `-text`, and
 *   checked to be whole frames; the upstream request gets `Content-Type: application/grpc` and
 *   `TE: trailers`, and the client's own path unless `pass_stripped_path`;
 * - the request is then claimed for grpc-web (grpc/web-request.ts): the gRPC forwarder calls the
 *   upstream over HTTP/2 and answers in grpc-web (grpc/web-call.ts), trailers in the body.
 *
 * Native gRPC requests (application/grpc) on the same route pass through untouched, so one route
 * serves browsers and gRPC clients alike (Kong answers them 400).
 */
import { messageBody } from '../../util/status-messages';
import { grpcWebMode, isNativeGrpc, splitFrames, decodeBase64Body, GRPC_WEB_CONTENT_TYPES } from '../../grpc/web-codec';
import { claimGrpcWeb, GrpcWebRequest } from '../../grpc/web-request';
import { loadProtoOrLastGood, ProtoCatalog } from '../../grpc/proto-catalog';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { GrpcWebSchema, type GrpcWebConfig } from './schema';

const JSON_TYPE = 'application/json; charset=utf-8';
/** gRPC's default maximum message size (4 MiB) and its frame prefix: a larger body is refused. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024 + 5;
/** The same limit for a base64 body (4 characters per 3 bytes, and a little for line breaks). */
const MAX_TEXT_BYTES = Math.ceil((MAX_MESSAGE_BYTES * 4) / 3) + 1024;

/**
 * Kong's preflight headers. grpc-timeout is allowed besides Kong's three: grpc-web clients send
 * it when a call has a deadline, and a browser would otherwise refuse the call.
 */
const PREFLIGHT_CONTENT_TYPE = 'application/grpc-web-text+proto';
const ALLOW_METHODS = 'POST';
const ALLOW_HEADERS = 'content-type,x-grpc-web,x-user-agent,grpc-timeout';

const UNSUPPORTED_TYPE = (type: string | undefined) =>
  messageBody(`grpc-web: unsupported Content-Type ${type === undefined ? '(none)' : `"${type}"`}; expected one of ${GRPC_WEB_CONTENT_TYPES.join(', ')}`);
const NEEDS_PROTO = messageBody('transcoding requests require a .proto file defining the service');
const NOT_POST = messageBody('grpc-web calls are POST requests');
const TOO_LARGE = messageBody('grpc-web request body is larger than 4 MiB');
const BAD_BASE64 = messageBody('grpc-web-text request body is not valid base64');
const PARTIAL_FRAME = messageBody('grpc-web request body ends inside a message frame');
const NOT_GRPC_SERVICE = messageBody('grpc-web needs a service with protocol grpc or grpcs');

export class GrpcWeb implements PluginInstance {
  readonly #allowOrigin: string | null;
  readonly #passStrippedPath: boolean;
  readonly #catalog: ProtoCatalog | null;
  readonly #preflightHeaders: readonly string[];
  /** Ids of the config's services that speak gRPC; null when unknown (outside a data plane). */
  readonly #grpcServices: ReadonlySet<string> | null;

  constructor(conf: GrpcWebConfig, env: PluginEnv) {
    this.#allowOrigin = conf.allow_origin_header;
    this.#passStrippedPath = conf.pass_stripped_path === true;
    // Checked at load (checkConfig); a file broken since then falls back (JSON calls then get 400).
    this.#catalog = conf.proto === null ? null : loadProtoOrLastGood(conf.proto);
    const preflight = ['access-control-allow-methods', ALLOW_METHODS, 'access-control-allow-headers', ALLOW_HEADERS];
    if (conf.allow_origin_header !== null) preflight.unshift('access-control-allow-origin', conf.allow_origin_header);
    this.#preflightHeaders = preflight;
    const services = env.config?.services;
    this.#grpcServices = services === undefined ? null : new Set(services.filter((s) => s.protocol === 'grpc' || s.protocol === 'grpcs').map((s) => s.id));
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    const req = ctx.request;
    // Kong sets it first, so local replies (400, 405) carry it too.
    if (this.#allowOrigin !== null) ctx.setResponseHeader('access-control-allow-origin', this.#allowOrigin);
    if (req.method === 'OPTIONS') return ctx.respond(200, 'OK', PREFLIGHT_CONTENT_TYPE, this.#preflightHeaders);
    const type = req.header('content-type');
    if (isNativeGrpc(type)) return Verdict.Continue;
    if (req.method !== 'POST') return ctx.respond(405, NOT_POST, JSON_TYPE, ['allow', 'POST, OPTIONS']);
    const mode = grpcWebMode(type);
    if (mode === null) return ctx.respond(400, UNSUPPORTED_TYPE(type), JSON_TYPE, null);
    if (mode.json && this.#catalog === null) return ctx.respond(400, NEEDS_PROTO, JSON_TYPE, null);
    const services = this.#grpcServices;
    if (services !== null && ctx.serviceId !== null && !services.has(ctx.serviceId)) return ctx.respond(500, NOT_GRPC_SERVICE, JSON_TYPE, null);

    // gRPC calls name their method by path: without pass_stripped_path the upstream gets the
    // client's path, as Kong's grpc_pass does; with it, the path strip_path and the service made.
    if (!this.#passStrippedPath) ctx.setUpstreamPath(req.path);
    ctx.setUpstreamHeader('content-type', 'application/grpc');
    ctx.setUpstreamHeader('te', 'trailers');
    // Transcoding needs plain protobuf back.
    if (mode.json) ctx.setUpstreamHeader('grpc-accept-encoding', 'identity');
    return ctx.readRequestBody(mode.text ? MAX_TEXT_BYTES : MAX_MESSAGE_BYTES).then((raw) => {
      if (raw === null) return ctx.respond(413, TOO_LARGE, JSON_TYPE, null);
      let body = raw;
      if (mode.text) {
        const decoded = decodeBase64Body(raw);
        if (decoded === null) return ctx.respond(400, BAD_BASE64, JSON_TYPE, null);
        body = decoded;
      }
      if (mode.framed && splitFrames(body) === null) return ctx.respond(400, PARTIAL_FRAME, JSON_TYPE, null);
      claimGrpcWeb(ctx, new GrpcWebRequest(mode, body, this.#allowOrigin, this.#catalog));
      return Verdict.Continue;
    });
  }
}

export const grpcWeb: PluginDefinition<GrpcWebConfig> = {
  name: 'grpc-web',
  // Kong's: after auth, rate limiting and transformations, just before the call goes out.
  priority: 3,
  version: '1.0.0',
  configSchema: GrpcWebSchema,
  checkConfig(conf) {
    if (conf.proto === null) return null;
    try {
      ProtoCatalog.load(conf.proto);
    } catch (err) {
      return { path: ['proto'], message: `cannot load ${conf.proto}: ${(err as Error).message}` };
    }
    return null;
  },
  create: (conf, env) => new GrpcWeb(conf, env),
};
