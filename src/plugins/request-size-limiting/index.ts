/**
 * Kong's request-size-limiting. A numeric Content-Length is judged at once, before any body byte
 * is read. Without one (a chunked body), the body is read up to the limit: past it the client gets
 * the error and the connection is closed (the rest is never read); within it the body is sent
 * upstream as read. `Expect: 100-continue` turns 413 into 417, as in Kong.
 */
import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { RequestSizeLimitingSchema, type RequestSizeLimitingConfig } from './schema';

const JSON_TYPE = 'application/json; charset=utf-8';
const UNIT_BYTES = { bytes: 1, kilobytes: 1024, megabytes: 1024 * 1024 } as const;
const TOO_LARGE = messageBody('Request size limit exceeded');
const LENGTH_REQUIRED = messageBody('A valid Content-Length header is required');

export class RequestSizeLimiting implements PluginInstance {
  readonly #allowed: number;
  readonly #requireLength: boolean;

  constructor(conf: RequestSizeLimitingConfig) {
    this.#allowed = conf.allowed_payload_size * UNIT_BYTES[conf.size_unit];
    this.#requireLength = conf.require_content_length;
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    const req = ctx.request;
    const length = req.header('content-length');
    if (length !== undefined && /^\s*\d+\s*$/.test(length)) {
      if (Number(length) > this.#allowed) return this.#refuse(ctx);
      return Verdict.Continue;
    }
    const te = req.header('transfer-encoding');
    if (this.#requireLength && te !== 'chunked') {
      ctx.respond(411, LENGTH_REQUIRED, JSON_TYPE, null);
      return Verdict.Stop;
    }
    // No body at all: nothing to measure (Kong logs "missing request body" and goes on).
    if (te === undefined) return Verdict.Continue;
    return ctx.readRequestBody(this.#allowed).then((body) => (body === null ? this.#refuse(ctx) : Verdict.Continue));
  }

  #refuse(ctx: PluginContext): Verdict {
    const expect = ctx.request.header('expect');
    ctx.respond(expect !== undefined && expect.trim().toLowerCase() === '100-continue' ? 417 : 413, TOO_LARGE, JSON_TYPE, null);
    return Verdict.Stop;
  }
}

export const requestSizeLimiting: PluginDefinition<RequestSizeLimitingConfig> = {
  name: 'request-size-limiting',
  priority: 951,
  version: '1.0.0',
  configSchema: RequestSizeLimitingSchema,
  create: (conf) => new RequestSizeLimiting(conf),
};
