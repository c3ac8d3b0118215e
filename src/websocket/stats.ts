/**
 * Per-worker WebSocket counters, merged by the primary on a /metrics scrape (metrics/registry.ts).
 * Plain fields bumped by the bridge: nothing allocated per message.
 */
import { workerCollectors, type MetricFamily } from '../metrics/registry';

export const websocketStats = {
  open: 0,
  opened: 0,
  messagesToUpstream: 0,
  messagesToClient: 0,
  bytesToUpstream: 0,
  bytesToClient: 0,
};

export function registerWebSocketCollector(): void {
  workerCollectors.register('websocket', (): MetricFamily[] => {
    const s = websocketStats;
    const direction = (up: number, down: number) => [
      { labels: { direction: 'upstream' }, value: up },
      { labels: { direction: 'downstream' }, value: down },
    ];
    return [
      { name: 'floodgate_websocket_connections', help: 'Proxied WebSocket connections open now.', type: 'gauge', samples: [{ labels: {}, value: s.open }] },
      { name: 'floodgate_websocket_connections_total', help: 'Proxied WebSocket connections opened.', type: 'counter', samples: [{ labels: {}, value: s.opened }] },
      { name: 'floodgate_websocket_messages_total', help: 'WebSocket messages forwarded, by direction (upstream = from the client to the upstream).', type: 'counter', samples: direction(s.messagesToUpstream, s.messagesToClient) },
      { name: 'floodgate_websocket_bytes_total', help: 'WebSocket message payload bytes forwarded, by direction.', type: 'counter', samples: direction(s.bytesToUpstream, s.bytesToClient) },
    ];
  });
}
