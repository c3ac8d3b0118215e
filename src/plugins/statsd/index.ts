import os from 'node:os';
import type { PluginContext, PluginDefinition, PluginInstance } from '../api';
import type { BatchQueue } from '../../logging/batch-queue';
import { DatagramSender } from '../../logging/datagram-sender';
import { queueOptions } from '../../logging/queue-schema';
import type { LogRecord } from '../../logging/serializer';
import { shipperQueue } from '../../logging/shipper-queue';
import { StreamConnection } from '../../logging/stream-connection';
import { packLines, StatsdFormatter } from './lines';
import { StatsdSchema, type StatsdConfig } from './schema';

/** Kong's statsd socket timeout. */
const SOCKET_TIMEOUT_MS = 1000;

/** "200-299" ranges, parsed once. */
function statusRanges(ranges: readonly string[] | null): [number, number][] | null {
  if (ranges === null) return null;
  return ranges.map((r) => {
    const dash = r.indexOf('-');
    return [Number(r.slice(0, dash)), Number(r.slice(dash + 1))];
  });
}

/**
 * Kong's statsd plugin: per request, Kong's metrics (request count, latencies, sizes, status and
 * per-consumer counts...) as statsd lines to a statsd server over UDP (or TCP). The log phase only
 * filters by status and enqueues the shared log record; lines are built and sent per batch.
 */
class Statsd implements PluginInstance {
  readonly queue: BatchQueue<LogRecord>;
  readonly #ranges: [number, number][] | null;

  constructor(conf: StatsdConfig, pluginId: string) {
    this.#ranges = statusRanges(conf.allow_status_codes);
    const formatter = new StatsdFormatter(conf, os.hostname());
    // Kong's deprecated queue_size / flush_timeout still steer the queue when set.
    const overrides: { maxBatchSize?: number; maxCoalescingDelayMs?: number } = {};
    if (conf.queue_size !== null && conf.queue.max_batch_size === 1) overrides.maxBatchSize = conf.queue_size;
    if (conf.flush_timeout !== null && conf.queue.max_coalescing_delay === 1) overrides.maxCoalescingDelayMs = conf.flush_timeout * 1000;
    const target = `${conf.use_tcp ? 'tcp' : 'udp'}://${conf.host}:${conf.port}`;
    this.queue = shipperQueue('statsd', pluginId, conf, queueOptions(conf.queue, overrides), target, () => {
      if (conf.use_tcp) {
        const connection = new StreamConnection({ host: conf.host, port: conf.port, timeoutMs: SOCKET_TIMEOUT_MS, keepaliveMs: 60_000, tls: null });
        return {
          send: (records: LogRecord[]) => {
            const lines: string[] = [];
            for (const r of records) formatter.linesOf(r, lines);
            return lines.length === 0 ? Promise.resolve() : connection.write(lines.join('\n') + '\n');
          },
          close: () => connection.close(),
        };
      }
      const sender = new DatagramSender(conf.host, conf.port, SOCKET_TIMEOUT_MS);
      return {
        send: (records: LogRecord[]) => {
          const lines: string[] = [];
          for (const r of records) formatter.linesOf(r, lines);
          return lines.length === 0 ? Promise.resolve() : sender.send(packLines(lines, conf.udp_packet_size));
        },
        close: () => sender.close(),
      };
    });
  }

  onLog(ctx: PluginContext): void {
    const rec = ctx.serializeLog();
    const ranges = this.#ranges;
    if (ranges !== null) {
      const status = rec.response.status;
      let allowed = false;
      for (const [from, to] of ranges) if (status >= from && status <= to) allowed = true;
      if (!allowed) return;
    }
    this.queue.push(rec);
  }
}

export const statsd: PluginDefinition<StatsdConfig> = {
  name: 'statsd',
  priority: 11,
  version: '1.0.0',
  configSchema: StatsdSchema,
  checkConfig(conf) {
    for (let i = 0; i < conf.metrics.length; i++) {
      const m = conf.metrics[i];
      if ((m.stat_type === 'counter' || m.stat_type === 'gauge') && m.sample_rate === null) {
        return { path: ['metrics', index(i), 'sample_rate'], message: `sample_rate is required when stat_type is ${m.stat_type}` };
      }
    }
    return null;
  },
  create: (conf, env) => new Statsd(conf, env.pluginId ?? 'default'),
};

/** An array index in a checkConfig path (the loader formats numbers as `[i]`). */
function index(i: number): string {
  return i as unknown as string;
}
