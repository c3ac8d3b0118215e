/**
 * The batch queue shared by the socket log shippers (tcp-log, udp-log, syslog, statsd): one per
 * plugin entry and config, reused across reloads that keep the config (batch-queue.ts's
 * sharedQueue), flushed on drain, its failures logged with the plugin's name.
 */
import { BatchQueue, sharedQueue, type BatchQueueOptions, type SendBatch } from './batch-queue';
import { registerLogSink, unregisterLogSink, type LogSink } from './sinks';
import { systemLogger, type Logger } from '../util/logger';

/**
 * Kong sends these from a timer per request; here entries are batched (up to 100, or 50 ms) so a
 * burst costs one write, and a failed write is retried for up to 10 s.
 */
export const SHIPPER_QUEUE: BatchQueueOptions = {
  maxBatchSize: 100,
  maxCoalescingDelayMs: 50,
  maxEntries: 10_000,
  maxRetryTimeMs: 10_000,
  initialRetryDelayMs: 50,
  maxRetryDelayMs: 2_000,
};

export interface Shipper<T> {
  readonly send: SendBatch<T>;
  close(): void;
}

/** One system logger per plugin name, made once: each owns a stderr stream. */
const loggers = new Map<string, Logger>();

export function shipperQueue<T>(plugin: string, pluginId: string, conf: unknown, options: BatchQueueOptions, target: string, make: () => Shipper<T>): BatchQueue<T> {
  let log = loggers.get(plugin);
  if (log === undefined) {
    log = systemLogger('warn', { role: plugin });
    loggers.set(plugin, log);
  }
  const logger = log;
  const name = `${plugin}:${pluginId}`;
  // Set by whichever snapshot created the queue; runs when a reload retires it.
  let release = (): void => {};
  return sharedQueue(name + ':' + JSON.stringify(conf), () => {
    const shipper = make();
    const q = new BatchQueue<T>(name, options, shipper.send, (err, attempt, givingUp) =>
      logger.warn({ err: (err as Error).message, target, attempt, givingUp }, givingUp ? `${plugin} entries dropped after retries` : `${plugin} send failed; retrying`),
    );
    q.onFull((c) => logger.warn({ queue: name, ...c }, `${plugin} queue full; dropping entries`));
    const sink: LogSink = { reopen() {}, flush: () => q.flush() };
    registerLogSink(sink);
    release = () => {
      unregisterLogSink(sink);
      shipper.close();
    };
    return q;
  }, () => release());
}
