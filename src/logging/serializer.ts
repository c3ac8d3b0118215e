/**
 * Kong's log serializer (`kong.log.serialize()`): the JSON object http-log and file-log send, one
 * per request, built in the log phase from the finished request record (proxy/record.ts). Secrets are redacted here
 * (redaction.ts), so no log plugin can forget to.
 *
 * Latencies follow Kong: `request` is the whole request as the gateway saw it, `proxy` the time
 * from dispatching to the upstream to the end of the response, `kong` what the gateway added
 * (request - proxy), `receive` the time from the upstream's response head to the end. All in ms,
 * with microsecond decimals (Kong rounds to whole ms).
 */
import type { RequestRecord } from '../proxy/record';
import type { Redaction } from './redaction';

export interface LogRecord {
  request: {
    id: string;
    method: string;
    uri: string;
    url: string;
    size: number;
    querystring: Record<string, string | string[] | true>;
    headers: Record<string, string | string[]>;
  };
  upstream_uri: string;
  response: { status: number; size: number; headers: Record<string, string | string[]> };
  tries: { ip: string; port: number; balancer_start: number; balancer_latency: number }[];
  latencies: { request: number; proxy: number; kong: number; receive: number };
  route: { id: string; name: string | null; paths: readonly string[] | null } | null;
  service: { id: string; name: string | null; host: string; port: number; protocol: string; path: string | null } | null;
  consumer: { id: string; username: string | null; custom_id: string | null } | null;
  authenticated_entity: { id: string } | null;
  client_ip: string;
  started_at: number;
  upstream_status: number | null;
  source: 'upstream' | 'kong';
  trace_id: string | null;
  error: string | null;
}

/** Epoch ms of a performance.now() reading. */
export function epochMs(perfNow: number): number {
  return performance.timeOrigin + perfNow;
}

export function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export interface Latencies {
  request: number;
  proxy: number;
  kong: number;
  receive: number;
}

export function latenciesOf(ctx: RequestRecord): Latencies {
  const end = ctx.finishedAt === 0 ? performance.now() : ctx.finishedAt;
  const request = end - ctx.startedAt;
  const proxy = ctx.upstreamStartedAt === 0 ? 0 : end - ctx.upstreamStartedAt;
  const receive = ctx.upstreamHeadersAt === 0 ? 0 : end - ctx.upstreamHeadersAt;
  return { request: round3(request), proxy: round3(proxy), kong: round3(request - proxy), receive: round3(receive) };
}

/** The status the client got; 499 (NGINX's convention) when it went away first. */
export function finalStatus(ctx: RequestRecord): number {
  return ctx.aborted ? 499 : ctx.responseStatus;
}

export function serializeLog(ctx: RequestRecord, redaction: Redaction): LogRecord {
  const head = ctx.request;
  const query = redaction.query(head.query);
  const uri = query === '' ? head.rawPath : head.rawPath + '?' + query;
  const host = head.hostHeader === '' ? head.host : head.hostHeader;
  const route = ctx.route;
  const service = route === null ? null : route.service;
  const target = ctx.target;
  const consumer = ctx.consumer;
  const respHeaders = ctx.responseHeaderList();
  const upstreamReached = ctx.upstreamHeadersAt !== 0;
  const tries: LogRecord['tries'] = [];
  if (target !== null && ctx.upstreamStartedAt !== 0) {
    const colon = target.address.lastIndexOf(':');
    tries.push({
      ip: target.address.slice(0, colon).replace(/^\[|\]$/g, ''),
      port: Number(target.address.slice(colon + 1)),
      balancer_start: Math.round(epochMs(ctx.upstreamStartedAt)),
      balancer_latency: 0,
    });
  }
  return {
    request: {
      id: ctx.requestId,
      method: head.method,
      uri,
      url: head.scheme + '://' + host + uri,
      size: head.headBytes + ctx.bodyBytes,
      querystring: redaction.queryObject(head.query),
      headers: redaction.headerObject(head.headerNames, head.headerValues),
    },
    upstream_uri: redaction.uri(ctx.upstreamUri),
    response: { status: finalStatus(ctx), size: ctx.responseBytes, headers: redaction.headerObject(respHeaders.names, respHeaders.values) },
    tries,
    latencies: latenciesOf(ctx),
    route: route === null ? null : { id: route.config.id, name: route.config.name, paths: route.config.paths },
    service:
      service === null
        ? null
        : {
            id: service.config.id,
            name: service.config.name,
            host: service.config.host,
            port: service.config.port,
            protocol: service.config.protocol,
            path: service.config.path,
          },
    consumer: consumer === null ? null : { id: consumer.id, username: consumer.username, custom_id: consumer.customId },
    authenticated_entity: ctx.credentialId === null ? null : { id: ctx.credentialId },
    client_ip: head.remoteAddress,
    started_at: Math.round(epochMs(ctx.startedAt)),
    upstream_status: upstreamReached ? ctx.responseStatus : null,
    source: upstreamReached && ctx.error === null ? 'upstream' : 'kong',
    trace_id: ctx.trace === null ? null : ctx.trace.traceId,
    error: ctx.error === null ? null : ctx.error.code,
  };
}
