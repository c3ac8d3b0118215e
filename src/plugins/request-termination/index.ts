import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { defaultMessage, messageBody } from '../../util/status-messages';
import { RequestTerminationSchema, type RequestTerminationConfig } from './schema';

/**
 * Kong's request-termination: answer every matching request locally with a fixed status and body.
 * The reply body is built once at create time; only `echo` builds a body per request.
 */
class RequestTermination implements PluginInstance {
  readonly #status: number;
  readonly #body: string;
  readonly #contentType: string;
  /** Header names compare case-insensitively, query argument names exactly (as in Kong). */
  readonly #triggerHeader: string | null;
  readonly #triggerQueryArg: string | null;
  readonly #echo: boolean;

  constructor(conf: RequestTerminationConfig) {
    this.#status = conf.status_code;
    this.#triggerHeader = conf.trigger === null ? null : conf.trigger.toLowerCase();
    this.#triggerQueryArg = conf.trigger;
    this.#echo = conf.echo;
    if (conf.body !== null) {
      this.#body = conf.body;
      this.#contentType = conf.content_type ?? 'application/json; charset=utf-8';
    } else {
      this.#body = messageBody(conf.message ?? defaultMessage(conf.status_code));
      this.#contentType = 'application/json; charset=utf-8';
    }
  }

  onRequest(ctx: PluginContext): Verdict {
    if (this.#triggerHeader !== null && !hasTrigger(ctx, this.#triggerHeader, this.#triggerQueryArg!)) return Verdict.Continue;
    if (this.#echo) {
      ctx.respond(this.#status, echoBody(ctx, this.#status), 'application/json; charset=utf-8', null);
    } else {
      ctx.respond(this.#status, this.#body, this.#contentType, null);
    }
    return Verdict.Stop;
  }
}

function hasTrigger(ctx: PluginContext, headerName: string, queryArg: string): boolean {
  if (ctx.request.header(headerName) !== undefined) return true;
  return ctx.request.query !== '' && new URLSearchParams(ctx.request.query).has(queryArg);
}

function echoBody(ctx: PluginContext, status: number): string {
  const req = ctx.request;
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.headerNames.length; i++) headers[req.headerNames[i]] = req.headerValues[i];
  return JSON.stringify({
    message: defaultMessage(status),
    request: {
      method: req.method,
      path: req.path,
      raw_query: req.query,
      host: req.host,
      headers,
    },
    matched_route: { id: ctx.routeId, name: ctx.routeName },
    matched_service: ctx.serviceId === null ? null : { id: ctx.serviceId },
  });
}

export const requestTermination: PluginDefinition<RequestTerminationConfig> = {
  name: 'request-termination',
  priority: 2,
  version: '1.0.0',
  configSchema: RequestTerminationSchema,
  create: (conf) => new RequestTermination(conf),
};
