import type { PluginContext, PluginDefinition, PluginInstance } from '../api';
import type { BatchQueue, BatchQueueOptions } from '../../logging/batch-queue';
import { SHIPPER_QUEUE, shipperQueue } from '../../logging/shipper-queue';
import { FACILITIES, SEVERITIES, SyslogSchema, type SyslogConfig } from './schema';
import { syslogTransport, type SyslogEntry } from './transport';

/** Syslog's numbers: emerg 0 .. debug 7; facilities kern 0 .. local7 23. */
const SEVERITY_CODE: Record<(typeof SEVERITIES)[number], number> = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };
const FACILITY_CODE: Record<(typeof FACILITIES)[number], number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** The local socket's batches cost a process each: coalesce longer. */
const LOCAL_QUEUE: BatchQueueOptions = { ...SHIPPER_QUEUE, maxBatchSize: 500, maxCoalescingDelayMs: 200 };

/**
 * Kong's syslog: each request's serialized log as JSON, at a severity chosen by the response's
 * status class (5xx server_errors_severity, 4xx client_errors_severity, else successful_severity),
 * dropped when less severe than log_level, with the configured facility and Kong's tag "kong".
 * Priorities are resolved once per config; the request only picks one of three and enqueues.
 */
class Syslog implements PluginInstance {
  readonly queue: BatchQueue<SyslogEntry>;
  /** Priority per status class, or -1 when log_level filters it out. */
  readonly #success: number;
  readonly #clientError: number;
  readonly #serverError: number;

  constructor(conf: SyslogConfig, pluginId: string) {
    const facility = FACILITY_CODE[conf.facility] << 3;
    const threshold = SEVERITY_CODE[conf.log_level];
    const priority = (s: (typeof SEVERITIES)[number]) => (SEVERITY_CODE[s] <= threshold ? facility | SEVERITY_CODE[s] : -1);
    this.#success = priority(conf.successful_severity);
    this.#clientError = priority(conf.client_errors_severity);
    this.#serverError = priority(conf.server_errors_severity);
    const target = conf.protocol === 'unix' ? conf.socket_path : `${conf.protocol}://${conf.host}:${conf.port}`;
    this.queue = shipperQueue('syslog', pluginId, conf, conf.protocol === 'unix' ? LOCAL_QUEUE : SHIPPER_QUEUE, target, () => {
      const transport = syslogTransport(conf.protocol, conf.socket_path, conf.host, conf.port);
      return { send: (entries: SyslogEntry[]) => transport.send(entries), close: () => transport.close() };
    });
  }

  onLog(ctx: PluginContext): void {
    const rec = ctx.serializeLog();
    const status = rec.response.status;
    const priority = status >= 500 ? this.#serverError : status >= 400 ? this.#clientError : this.#success;
    if (priority < 0) return;
    this.queue.push({ priority, message: JSON.stringify(rec) });
  }
}

export const syslog: PluginDefinition<SyslogConfig> = {
  name: 'syslog',
  priority: 4,
  version: '1.0.0',
  configSchema: SyslogSchema,
  checkConfig: (conf) => (conf.protocol !== 'unix' && conf.host === null ? { path: ['host'], message: `host is required when protocol is ${conf.protocol}` } : null),
  create: (conf, env) => new Syslog(conf, env.pluginId ?? 'default'),
};
