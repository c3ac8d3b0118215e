/**
 * Kong's prometheus plugin (priority 13): counts each request it runs on, in its log phase, into
 * Kong's metric families (store.ts), served on the admin API's /metrics beside Floodgate's own.
 * Kong's switches, all off by default as in Kong 3.9:
 * - status_code_metrics: kong_http_requests_total{service,route,code,source,workspace,consumer};
 * - latency_metrics: kong_kong_latency_ms, kong_upstream_latency_ms, kong_request_latency_ms;
 * - bandwidth_metrics: kong_bandwidth_bytes{service,route,direction,workspace,consumer};
 * - per_consumer: the consumer's username in the `consumer` label (else "");
 * - upstream_health_metrics: kong_upstream_target_health (node-metrics.ts, on the primary).
 * Node-level families (kong_nginx_connections_total, kong_nginx_requests_total,
 * kong_datastore_reachable, kong_node_info) come from the primary (node-metrics.ts).
 *
 * Labels as Kong: service = the service's name, else its host; route = the route's name, else its
 * id; a request that matched no route is not counted (Kong returns early too).
 */
import type { PluginContext, PluginDefinition, PluginEnv, PluginInstance } from '../api';
import { workerCollectors } from '../../metrics/registry';
import { collectKongFamilies, kongCell, type KongCell } from './store';
import { PrometheusSchema, type PrometheusConfig } from './schema';

let collectorRegistered = false;

export class PrometheusPlugin implements PluginInstance {
  readonly #conf: PrometheusConfig;
  /** route id -> service label, from the snapshot's config. */
  readonly #serviceLabels: ReadonlyMap<string, string>;
  /** route id -> its cell, resolved on the route's first request (then one Map hit per request). */
  readonly #cells = new Map<string, KongCell>();

  constructor(conf: PrometheusConfig, env: PluginEnv) {
    this.#conf = conf;
    const labels = new Map<string, string>();
    const config = env.config;
    if (config !== undefined) {
      const services = new Map(config.services.map((s) => [s.id, s.name ?? s.host]));
      for (const r of config.routes) labels.set(r.id, r.service === null ? '' : (services.get(r.service) ?? ''));
    }
    this.#serviceLabels = labels;
  }

  onLog(ctx: PluginContext): void {
    const routeId = ctx.routeId;
    if (routeId === '') return;
    let cell = this.#cells.get(routeId);
    if (cell === undefined) {
      cell = kongCell(this.#serviceLabels.get(routeId) ?? '', ctx.routeName ?? routeId);
      this.#cells.set(routeId, cell);
    }
    const conf = this.#conf;
    const consumer = ctx.consumer;
    const counts = conf.per_consumer && consumer !== null && consumer.username !== null ? cell.forConsumer(consumer.username) : cell.anyone;
    if (conf.status_code_metrics) {
      const status = ctx.finalStatus;
      if (ctx.responseSource === 'service') counts.fromService.add(status);
      else counts.fromKong.add(status);
    }
    if (conf.bandwidth_metrics) {
      counts.ingress += ctx.requestSize;
      counts.egress += ctx.responseSize;
    }
    if (conf.latency_metrics) this.#latencies(ctx, cell);
  }

  /**
   * Kong's latencies: request = the whole request; upstream (Kong's `proxy`) = from sending the
   * request to the upstream's first response byte, only when it answered; kong = the time before
   * the upstream request plus the time spent receiving the response body, or the whole request
   * when the gateway answered on its own.
   */
  #latencies(ctx: PluginContext, cell: KongCell): void {
    const request = ctx.finishedAt - ctx.startedAt;
    cell.requestLatency.observe(request);
    if (ctx.upstreamHeadersAt !== 0 && ctx.upstreamStartedAt !== 0) {
      cell.upstreamLatency.observe(ctx.upstreamHeadersAt - ctx.upstreamStartedAt);
      cell.kongLatency.observe(ctx.upstreamStartedAt - ctx.startedAt + (ctx.finishedAt - ctx.upstreamHeadersAt));
    } else {
      cell.kongLatency.observe(request);
    }
  }
}

export const prometheus: PluginDefinition<PrometheusConfig> = {
  name: 'prometheus',
  priority: 13,
  version: '1.0.0',
  configSchema: PrometheusSchema,
  create(conf, env) {
    if (!collectorRegistered) {
      collectorRegistered = true;
      workerCollectors.register('prometheus', collectKongFamilies);
    }
    return new PrometheusPlugin(conf, env);
  },
};
