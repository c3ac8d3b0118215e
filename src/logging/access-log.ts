/**
 * The access log line: one JSON object per request, written through pino's asynchronous
 * sonic-boom destination (util/logger.ts). Field names are ours, flat where a log search wants
 * them flat; latencies use Kong's names (see serializer.ts). Secrets never appear: the query is
 * redacted and no request header is logged.
 */
import type { RequestRecord } from '../proxy/record';
import { finalStatus, latenciesOf } from './serializer';

/**
 * Sampling keeps every error: a status >= 400, an abort (499) or a gateway error is always
 * written; a successful request is written with probability `rate`.
 */
export function shouldLog(ctx: RequestRecord, rate: number): boolean {
  if (rate >= 1) return true;
  if (ctx.aborted || ctx.error !== null || ctx.responseStatus >= 400) return true;
  return Math.random() < rate;
}

export function accessLogRecord(ctx: RequestRecord, workerId: number): Record<string, unknown> {
  const head = ctx.request;
  const route = ctx.route;
  const service = route === null ? null : route.service;
  const consumer = ctx.consumer;
  return {
    worker: workerId,
    request_id: ctx.requestId,
    trace_id: ctx.trace === null ? null : ctx.trace.traceId,
    method: head.method,
    path: head.rawPath,
    query: ctx.redaction.query(head.query),
    host: head.hostHeader,
    status: finalStatus(ctx),
    bytes_in: ctx.bodyBytes,
    bytes_out: ctx.responseBytes,
    latencies: latenciesOf(ctx),
    route: route === null ? null : (route.config.name ?? route.config.id),
    service: service === null ? null : (service.config.name ?? service.config.id),
    consumer: consumer === null ? null : { id: consumer.id, username: consumer.username },
    upstream: ctx.target === null ? null : ctx.target.address,
    upstream_status: ctx.upstreamHeadersAt === 0 ? null : ctx.responseStatus,
    client: head.remoteAddress,
    error: ctx.error === null ? null : ctx.error.code,
    config_version: ctx.configVersion,
  };
}
