/**
 * Zipkin v2 JSON spans (zipkin2-api.yaml, POST /api/v2/spans), shaped as Kong's zipkin reporter
 * sends them: ids as lower-case hex, `timestamp` and `duration` in whole microseconds, tag values
 * as non-empty strings, `localEndpoint.serviceName` from local_service_name, `remoteEndpoint`
 * null when nothing is known about the peer.
 */

export interface ZipkinEndpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
}

export interface ZipkinAnnotation {
  value: string;
  timestamp: number;
}

export interface ZipkinSpan {
  traceId: string;
  name: string;
  parentId?: string;
  id: string;
  kind: 'SERVER' | 'CLIENT';
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  remoteEndpoint: ZipkinEndpoint | null;
  tags?: Record<string, string>;
  annotations?: ZipkinAnnotation[];
}

/** Epoch microseconds of a performance.now() reading, floored as Kong does. */
export function epochMicros(perfNow: number): number {
  return Math.floor((performance.timeOrigin + perfNow) * 1000);
}

/** Zipkin tag values are strings and never empty (Kong drops empty ones). */
export function tagsOf(tags: Map<string, string | number | boolean>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of tags) {
    const s = String(v);
    if (s === '') continue;
    (out ??= {})[k] = s;
  }
  return out;
}

export function remoteEndpoint(serviceName: string | null, ip: string | null, port: number | null): ZipkinEndpoint | null {
  if (serviceName === null && ip === null && port === null) return null;
  const ep: ZipkinEndpoint = {};
  if (serviceName !== null) ep.serviceName = serviceName;
  if (ip !== null && ip !== '') {
    if (ip.includes(':')) ep.ipv6 = ip;
    else ep.ipv4 = ip;
  }
  if (port !== null) ep.port = port;
  return ep;
}
