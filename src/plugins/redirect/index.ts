/**
 * Kong 3.9's redirect plugin: answer every request with `status_code`, a Location header and the
 * body "redirecting". With keep_incoming_path, the location's path and query are replaced by the
 * request's own (the location's scheme, host and port are kept).
 */
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { RedirectSchema, type RedirectConfig } from './schema';

const BODY = 'redirecting';
const TEXT_TYPE = 'text/plain; charset=utf-8';

export class Redirect implements PluginInstance {
  readonly #status: number;
  readonly #location: URL;
  readonly #headers: readonly string[] | null;

  constructor(conf: RedirectConfig) {
    this.#status = conf.status_code;
    this.#location = new URL(conf.location);
    // Without keep_incoming_path every reply is the same: built once.
    this.#headers = conf.keep_incoming_path ? null : ['Location', conf.location];
  }

  onRequest(ctx: PluginContext): Verdict {
    let headers = this.#headers;
    if (headers === null) {
      const url = new URL(this.#location.href);
      url.pathname = ctx.request.rawPath;
      url.search = ctx.request.query === '' ? '' : '?' + ctx.request.query;
      headers = ['Location', url.href];
    }
    ctx.respond(this.#status, BODY, TEXT_TYPE, headers);
    return Verdict.Stop;
  }
}

export const redirect: PluginDefinition<RedirectConfig> = {
  name: 'redirect',
  priority: 779,
  version: '1.0.0',
  configSchema: RedirectSchema,
  checkConfig(conf) {
    let url: URL;
    try {
      url = new URL(conf.location);
    } catch {
      return { path: ['location'], message: `'${conf.location}' is not a valid URL: it needs a scheme and a host, such as https://example.com/path` };
    }
    if (url.host === '') return { path: ['location'], message: `'${conf.location}' is not a valid URL: missing host` };
    return null;
  },
  create: (conf) => new Redirect(conf),
};
