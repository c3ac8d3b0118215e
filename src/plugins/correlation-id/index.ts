import { randomUUID } from 'node:crypto';
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { CorrelationIdSchema, type CorrelationIdConfig } from './schema';

/** uuid#counter: one uuid per worker thread (Kong: per nginx worker), then a counter. */
const workerUuid = randomUUID();
let counter = 0;
let trackerCounter = 0;

/**
 * Kong's correlation-id: a request that carries `header_name` keeps its value; one without gets a
 * generated id. Either way the value goes upstream, and back to the client with
 * `echo_downstream`. Generators, as in Kong:
 *   uuid          a random v4 uuid per request
 *   uuid#counter  `<worker uuid>#<counter>` (cheaper: no random per request)
 *   tracker       `<host>-<client addr>-<pid>-<worker counter>-<epoch seconds.ms>`: Kong's
 *                 server_addr-server_port-pid-connection-requests-now, as close as the plugin
 *                 contract gets (no connection ids)
 */
class CorrelationId implements PluginInstance {
  readonly #header: string;
  readonly #generator: CorrelationIdConfig['generator'];
  readonly #echo: boolean;

  constructor(conf: CorrelationIdConfig) {
    this.#header = conf.header_name.toLowerCase();
    this.#generator = conf.generator;
    this.#echo = conf.echo_downstream;
  }

  onRequest(ctx: PluginContext): Verdict {
    let id = ctx.request.header(this.#header);
    if (id === undefined || id === '') {
      id = this.#generate(ctx);
      ctx.setUpstreamHeader(this.#header, id);
    }
    // Set now rather than in onResponse: the value is per request and response edits made here
    // also reach local replies (a 401 from a later auth plugin carries the id too).
    if (this.#echo) ctx.setResponseHeader(this.#header, id);
    return Verdict.Continue;
  }

  #generate(ctx: PluginContext): string {
    switch (this.#generator) {
      case 'uuid':
        return randomUUID();
      case 'uuid#counter':
        counter++;
        return workerUuid + '#' + counter;
      case 'tracker':
        trackerCounter++;
        return `${ctx.request.host}-${ctx.request.remoteAddress}-${process.pid}-${trackerCounter}-${(Date.now() / 1000).toFixed(3)}`;
    }
  }
}

export const correlationId: PluginDefinition<CorrelationIdConfig> = {
  name: 'correlation-id',
  priority: 100001,
  version: '1.0.0',
  configSchema: CorrelationIdSchema,
  create: (conf) => new CorrelationId(conf),
};
