import type { PluginContext, PluginDefinition, PluginInstance } from '../api';
import type { BatchQueue } from '../../logging/batch-queue';
import { SHIPPER_QUEUE, shipperQueue } from '../../logging/shipper-queue';
import { StreamConnection } from '../../logging/stream-connection';
import { TcpLogSchema, type TcpLogConfig } from './schema';

/**
 * Kong's tcp-log: each request's serialized log (Kong's format) as one line of JSON over a TCP
 * or TLS connection that is kept open `keepalive` ms for the next lines. Lines are queued and
 * written in batches, so the request never waits for the receiver.
 */
class TcpLog implements PluginInstance {
  readonly queue: BatchQueue<string>;

  constructor(conf: TcpLogConfig, pluginId: string) {
    this.queue = shipperQueue('tcp-log', pluginId, conf, SHIPPER_QUEUE, `${conf.host}:${conf.port}`, () => {
      const connection = new StreamConnection({
        host: conf.host,
        port: conf.port,
        timeoutMs: conf.timeout,
        keepaliveMs: conf.keepalive,
        // Kong's sslhandshake(false, tls_sni, false): the receiver's certificate is not verified.
        tls: conf.tls ? { servername: conf.tls_sni, rejectUnauthorized: false } : null,
      });
      return { send: (lines: string[]) => connection.write(lines.join('')), close: () => connection.close() };
    });
  }

  onLog(ctx: PluginContext): void {
    this.queue.push(JSON.stringify(ctx.serializeLog()) + '\n');
  }
}

export const tcpLog: PluginDefinition<TcpLogConfig> = {
  name: 'tcp-log',
  priority: 7,
  version: '1.0.0',
  configSchema: TcpLogSchema,
  create: (conf, env) => new TcpLog(conf, env.pluginId ?? 'default'),
};
