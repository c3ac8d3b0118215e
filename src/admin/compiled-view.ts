/**
 * GET /routes, /services, /upstreams: the running config as the gateway compiled it, the view
 * `floodgate check` prints: routes in evaluation order with their priority, services with the
 * targets they balance over, upstreams with targets and weights.
 */
import type { NormalizedConfig, ServiceConfig } from '../config/types';
import { compileRouter } from '../router/router';
import { redactSecretFields } from '../config/redact';

function label(entity: { id: string; name: string | null }): string {
  return entity.name ?? entity.id;
}

export function routesView(config: NormalizedConfig): unknown {
  const services = new Map(config.services.map((s) => [s.id, s]));
  const routes = new Map(config.routes.map((r) => [r.id, r]));
  return {
    data: compileRouter(config.routes).describe().map((row) => {
      const route = routes.get(row.routeId);
      const service = row.serviceId === null ? undefined : services.get(row.serviceId);
      return {
        rank: row.rank,
        id: row.routeId,
        name: row.routeName,
        service: service === undefined ? null : { id: service.id, name: service.name },
        methods: row.methods,
        hosts: row.hosts,
        paths: row.paths,
        headers: row.headers,
        priority: row.priority,
        stripPath: route?.stripPath ?? null,
        preserveHost: route?.preserveHost ?? null,
      };
    }),
  };
}

function targetsOf(service: ServiceConfig, config: NormalizedConfig): Array<{ target: string; weight: number }> {
  const upstream = service.upstream === null ? undefined : config.upstreams.find((u) => u.name === service.upstream);
  if (upstream !== undefined) return upstream.targets.map((t) => ({ target: t.target, weight: t.weight }));
  const host = service.host.includes(':') && !service.host.startsWith('[') ? `[${service.host}]` : service.host;
  return [{ target: `${host}:${service.port}`, weight: 1 }];
}

export function servicesView(config: NormalizedConfig): unknown {
  return {
    data: config.services.map((s) => ({
      id: s.id,
      name: s.name,
      url: `${s.protocol}://${s.host}:${s.port}${s.path ?? ''}`,
      upstream: s.upstream,
      targets: targetsOf(s, config),
      routes: config.routes.filter((r) => r.service === s.id).map(label),
      retries: s.retries,
      connectTimeout: s.connectTimeout,
      readTimeout: s.readTimeout,
      writeTimeout: s.writeTimeout,
      tlsVerify: s.tlsVerify,
      enabled: s.enabled,
    })),
  };
}

export function upstreamsView(config: NormalizedConfig): unknown {
  return {
    data: config.upstreams.map((u) => {
      const total = u.targets.reduce((n, t) => n + t.weight, 0);
      return {
        id: u.id,
        name: u.name,
        algorithm: u.algorithm,
        targets: u.targets.map((t) => ({ target: t.target, weight: t.weight, share: total === 0 ? 0 : t.weight / total })),
        services: config.services.filter((s) => s.upstream === u.name).map(label),
        healthchecks: redactSecretFields(u.healthchecks),
      };
    }),
  };
}
