import type { PluginContext, PluginDefinition, PluginInstance } from '../api';
import type { BatchQueue } from '../../logging/batch-queue';
import { DatagramSender } from '../../logging/datagram-sender';
import { SHIPPER_QUEUE, shipperQueue } from '../../logging/shipper-queue';
import { UdpLogSchema, type UdpLogConfig } from './schema';

/**
 * Kong's udp-log: each request's serialized log (Kong's format) as one JSON datagram, without a
 * trailing newline, as Kong sends it. Queued and sent in batches off the request's path.
 */
class UdpLog implements PluginInstance {
  readonly queue: BatchQueue<string>;

  constructor(conf: UdpLogConfig, pluginId: string) {
    this.queue = shipperQueue('udp-log', pluginId, conf, SHIPPER_QUEUE, `${conf.host}:${conf.port}`, () => {
      const sender = new DatagramSender(conf.host, conf.port, conf.timeout);
      return { send: (messages: string[]) => sender.send(messages), close: () => sender.close() };
    });
  }

  onLog(ctx: PluginContext): void {
    this.queue.push(JSON.stringify(ctx.serializeLog()));
  }
}

export const udpLog: PluginDefinition<UdpLogConfig> = {
  name: 'udp-log',
  priority: 8,
  version: '1.0.0',
  configSchema: UdpLogSchema,
  create: (conf, env) => new UdpLog(conf, env.pluginId ?? 'default'),
};
