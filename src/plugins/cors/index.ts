import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { OriginMatcher } from './origins';
import { CorsSchema, type CorsConfig } from './schema';

const ACAO = 'access-control-allow-origin';
const ACAC = 'access-control-allow-credentials';

/**
 * Kong's cors (3.x).
 *
 * Preflight (OPTIONS with Origin and Access-Control-Request-Method): answered here with 200 and
 * the allow headers, unless `preflight_continue`, in which case it is proxied and the upstream's
 * answer is passed through untouched. Other requests with an Origin are proxied and get
 * Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) on the way back.
 *
 * Where Kong differs, we are stricter: an Origin that is not allowed gets no Access-Control-*
 * header at all (Kong still sends -Credentials, -Expose-Headers and, for a single plain origin,
 * the configured origin), and its preflight is answered 200 with Vary: Origin only. Requests
 * without an Origin get no CORS headers (Kong 3.x's `allow_origin_absent: false`).
 */
class Cors implements PluginInstance {
  readonly #origins: OriginMatcher;
  readonly #credentials: boolean;
  readonly #preflightContinue: boolean;
  readonly #privateNetwork: boolean;
  readonly #methods: string;
  /** null: echo Access-Control-Request-Headers. */
  readonly #allowHeaders: string | null;
  readonly #exposeHeaders: string | null;
  readonly #maxAge: string | null;

  constructor(conf: CorsConfig) {
    this.#origins = OriginMatcher.compile(conf.origins);
    this.#credentials = conf.credentials;
    this.#preflightContinue = conf.preflight_continue;
    this.#privateNetwork = conf.private_network;
    this.#methods = conf.methods.join(',');
    this.#allowHeaders = conf.headers === null || conf.headers.length === 0 ? null : conf.headers.join(',');
    this.#exposeHeaders = conf.exposed_headers === null || conf.exposed_headers.length === 0 ? null : conf.exposed_headers.join(',');
    this.#maxAge = conf.max_age === null ? null : String(conf.max_age);
  }

  onRequest(ctx: PluginContext): Verdict {
    const req = ctx.request;
    if (req.method !== 'OPTIONS' || this.#preflightContinue) return Verdict.Continue;
    const origin = req.header('origin');
    if (origin === undefined || req.header('access-control-request-method') === undefined) return Verdict.Continue;

    const headers: string[] = [];
    if (!this.#originHeaders(origin, headers)) {
      ctx.respond(200, '', 'text/plain; charset=utf-8', headers);
      return Verdict.Stop;
    }
    const allowHeaders = this.#allowHeaders ?? req.header('access-control-request-headers');
    if (allowHeaders !== undefined) headers.push('access-control-allow-headers', allowHeaders);
    headers.push('access-control-allow-methods', this.#methods);
    if (this.#maxAge !== null) headers.push('access-control-max-age', this.#maxAge);
    if (this.#privateNetwork && req.header('access-control-request-private-network') === 'true') {
      headers.push('access-control-allow-private-network', 'true');
    }
    ctx.respond(200, '', 'text/plain; charset=utf-8', headers);
    return Verdict.Stop;
  }

  onResponse(ctx: PluginContext): void {
    const req = ctx.request;
    const origin = req.header('origin');
    if (origin === undefined) return;
    // A preflight handed to the upstream keeps the upstream's own answer.
    if (this.#preflightContinue && req.method === 'OPTIONS' && req.header('access-control-request-method') !== undefined) return;
    const o = this.#origins;
    if (o.wildcard && !this.#credentials) {
      ctx.setResponseHeader(ACAO, '*');
    } else {
      // The answer depends on Origin: tell caches. (setResponseHeader replaces an upstream Vary.)
      ctx.setResponseHeader('vary', 'Origin');
      const allowed = o.wildcard ? origin : o.match(origin);
      if (allowed === null) return;
      ctx.setResponseHeader(ACAO, allowed);
      if (this.#credentials) ctx.setResponseHeader(ACAC, 'true');
    }
    if (this.#exposeHeaders !== null) ctx.setResponseHeader('access-control-expose-headers', this.#exposeHeaders);
  }

  /**
   * Push the origin headers of a preflight answer into `out`; false when the origin is refused
   * (then only Vary is pushed).
   */
  #originHeaders(origin: string, out: string[]): boolean {
    const o = this.#origins;
    if (o.wildcard && !this.#credentials) {
      out.push(ACAO, '*');
      return true;
    }
    out.push('vary', 'Origin');
    // "*" with credentials: a browser refuses "*" with credentials, so Kong echoes the origin.
    const allowed = o.wildcard ? origin : o.match(origin);
    if (allowed === null) return false;
    out.push(ACAO, allowed);
    if (this.#credentials) out.push(ACAC, 'true');
    return true;
  }
}

export const cors: PluginDefinition<CorsConfig> = {
  name: 'cors',
  priority: 2000,
  version: '1.0.0',
  configSchema: CorsSchema,
  create: (conf) => new Cors(conf),
};
