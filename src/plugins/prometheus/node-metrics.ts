/**
 * The prometheus plugin's node-level families, built by the primary on each scrape (cold code):
 * what Kong reads from NGINX and its balancer, from what Floodgate knows on the primary.
 *
 * - kong_nginx_requests_total{node_id,subsystem}: requests the node answered (every route cell,
 *   the unrouted one included; needs --metrics on, the default);
 * - kong_nginx_connections_total{node_id,subsystem,state}: `active` (established TCP connections
 *   on the proxy port) and `total` (requests), the two states Floodgate can count honestly;
 *   NGINX's accepted/handled/reading/writing/waiting have no uWS counterpart and are left out;
 * - kong_datastore_reachable: 1 (DB-less: the config is in memory, as Kong's "off" strategy);
 * - kong_node_info{node_id,version};
 * - kong_upstream_target_health{upstream,target,address,state,subsystem} when an entry turns
 *   upstream_health_metrics on: one sample per Kong state (healthchecks_off, healthy,
 *   unhealthy, dns_error), 1 for the current one. A target drained with weight 0 is not listed.
 *
 * Emitted only while the config has an enabled prometheus entry, as Kong only exports what its
 * plugin is configured for.
 */
import { randomUUID } from 'node:crypto';
import type { NormalizedConfig, UpstreamConfig } from '../../config/types';
import type { MetricFamily, MetricSample } from '../../metrics/registry';
import type { TargetHealthSample } from '../../balancer/health-center';

/** Kong's node id is a UUID per node; ours is one per process. */
const NODE_ID = randomUUID();
const VERSION: string = (require('../../../../package.json') as { version: string }).version;
const KONG_STATES = ['healthchecks_off', 'healthy', 'unhealthy', 'dns_error'] as const;

export interface KongNodeInput {
  readonly config: NormalizedConfig;
  readonly requestsTotal: number;
  /** Established connections on the proxy port; null when /proc could not be read. */
  readonly activeConnections: number | null;
  readonly targets: readonly TargetHealthSample[];
}

function checksOff(u: UpstreamConfig): boolean {
  const h = u.healthchecks;
  const a = h.active;
  const p = h.passive;
  const activeOn = a.healthy.interval > 0 || a.unhealthy.interval > 0;
  const passiveOn = p.healthy.successes > 0 || p.unhealthy.http_failures > 0 || p.unhealthy.tcp_failures > 0 || p.unhealthy.timeouts > 0;
  return !activeOn && !passiveOn;
}

/**
 * The families /metrics serves: the merged ones, without the workers' `kong_*` families once the
 * config has no prometheus entry any more (workers keep their cells across reloads, Kong only
 * exports its request families while the plugin is configured), then the node-level ones.
 */
export function withKongFamilies(merged: readonly MetricFamily[], input: KongNodeInput): MetricFamily[] {
  const node = kongNodeFamilies(input);
  if (node.length === 0) return merged.filter((f) => !f.name.startsWith('kong_'));
  return [...merged, ...node];
}

export function kongNodeFamilies(input: KongNodeInput): MetricFamily[] {
  const entries = input.config.plugins.filter((p) => p.name === 'prometheus' && p.enabled);
  if (entries.length === 0) return [];
  const connections: MetricSample[] = [{ labels: { node_id: NODE_ID, subsystem: 'http', state: 'total' }, value: input.requestsTotal }];
  if (input.activeConnections !== null) connections.unshift({ labels: { node_id: NODE_ID, subsystem: 'http', state: 'active' }, value: input.activeConnections });
  const out: MetricFamily[] = [
    { name: 'kong_nginx_connections_total', help: 'Number of connections by subsystem', type: 'gauge', samples: connections },
    { name: 'kong_nginx_requests_total', help: 'Number of requests total', type: 'gauge', samples: [{ labels: { node_id: NODE_ID, subsystem: 'http' }, value: input.requestsTotal }] },
    { name: 'kong_datastore_reachable', help: 'Datastore reachable from Kong, 0 is unreachable', type: 'gauge', samples: [{ labels: {}, value: 1 }] },
    { name: 'kong_node_info', help: 'Kong Node metadata information', type: 'gauge', samples: [{ labels: { node_id: NODE_ID, version: VERSION }, value: 1 }] },
  ];
  if (entries.some((p) => (p.config as { upstream_health_metrics?: boolean }).upstream_health_metrics === true)) {
    const off = new Set(input.config.upstreams.filter(checksOff).map((u) => u.name));
    const samples: MetricSample[] = [];
    for (const t of input.targets) {
      if (t.state === 'draining') continue;
      const state = t.state === 'dns_error' ? 'dns_error' : off.has(t.upstream) ? 'healthchecks_off' : t.state;
      const address = state === 'dns_error' ? '' : t.address;
      for (const s of KONG_STATES) {
        samples.push({ labels: { upstream: t.upstream, target: t.target, address, state: s, subsystem: 'http' }, value: s === state ? 1 : 0 });
      }
    }
    out.push({
      name: 'kong_upstream_target_health',
      help: 'Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.',
      type: 'gauge',
      samples,
    });
  }
  return out;
}
