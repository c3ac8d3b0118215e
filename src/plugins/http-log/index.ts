import { Agent, request } from 'undici';
import { CHECKED_ONLY, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { BatchQueue, sharedQueue } from '../../logging/batch-queue';
import { queueOptions } from '../../logging/queue-schema';
import type { LogRecord } from '../../logging/serializer';
import { registerLogSink, unregisterLogSink, type LogSink } from '../../logging/sinks';
import { systemLogger } from '../../util/logger';
import { HttpLogSchema, type HttpLogConfig } from './schema';

const log = systemLogger('warn', { role: 'http-log' });

/** Thrown for a non-2xx answer, so the queue retries it as Kong does. */
class CollectorRejected extends Error {
  readonly code = 'ERR_HTTP_LOG_STATUS';
}

/**
 * One endpoint's sender: a keep-alive undici Agent and the request shape, built once per queue.
 * A batch of one is sent as a JSON object, a larger batch as an array (Kong: max_batch_size 1
 * sends objects, otherwise arrays).
 */
class HttpLogSender {
  readonly #url: string;
  readonly #method: 'POST' | 'PUT' | 'PATCH';
  readonly #headers: Record<string, string>;
  readonly #timeout: number;
  readonly #agent: Agent;
  readonly #asArray: boolean;

  constructor(conf: HttpLogConfig) {
    const url = new URL(conf.http_endpoint);
    const headers: Record<string, string> = { 'content-type': conf.content_type };
    if (url.username !== '' || url.password !== '') {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      headers.authorization = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
      url.username = '';
      url.password = '';
    }
    if (conf.headers !== null) for (const [k, v] of Object.entries(conf.headers)) headers[k.toLowerCase()] = v;
    this.#url = url.toString();
    this.#method = conf.method;
    this.#headers = headers;
    this.#timeout = conf.timeout;
    this.#asArray = conf.queue.max_batch_size > 1;
    this.#agent = new Agent({ keepAliveTimeout: conf.keepalive, connect: { timeout: conf.timeout }, allowH2: false });
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  send = async (batch: LogRecord[]): Promise<void> => {
    const body = JSON.stringify(this.#asArray ? batch : batch[0]);
    const res = await request(this.#url, {
      method: this.#method,
      headers: this.#headers,
      body,
      dispatcher: this.#agent,
      headersTimeout: this.#timeout,
      bodyTimeout: this.#timeout,
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode > 299) throw new CollectorRejected(`http-log endpoint answered ${res.statusCode}`);
  };
}

class HttpLog implements PluginInstance {
  readonly queue: BatchQueue<LogRecord>;

  constructor(conf: HttpLogConfig, pluginId: string) {
    const name = `http-log:${pluginId}`;
    // Set by whichever snapshot created the queue; runs when a reload retires it.
    let release = (): void => {};
    this.queue = sharedQueue(name + ':' + JSON.stringify(conf), () => {
      const sender = new HttpLogSender(conf);
      const q = new BatchQueue<LogRecord>(name, queueOptions(conf.queue), sender.send, (err, attempt, givingUp) =>
        log.warn({ err: (err as Error).message, endpoint: conf.http_endpoint, attempt, givingUp }, givingUp ? 'http-log batch dropped after retries' : 'http-log batch failed; retrying'),
      );
      q.onFull((c) => log.warn({ queue: name, ...c }, 'http-log queue full; dropping entries'));
      const sink: LogSink = { reopen() {}, flush: () => q.flush() };
      registerLogSink(sink);
      release = () => {
        unregisterLogSink(sink);
        void sender.close();
      };
      return q;
    }, () => release());
  }

  /** Only enqueues: the request never waits for the log endpoint. */
  onLog(ctx: PluginContext): void {
    this.queue.push(ctx.serializeLog());
  }
}

export const httpLog: PluginDefinition<HttpLogConfig> = {
  name: 'http-log',
  priority: 12,
  version: '1.0.0',
  configSchema: HttpLogSchema,
  create: (conf, env) => (env.checkOnly === true ? CHECKED_ONLY : new HttpLog(conf, env.pluginId ?? 'default')),
};
