/**
 * The read-only request record: what logging (access log, Kong's serializer) and metrics read once
 * a request has finished. It is the request context seen through an interface of plain fields, so
 * recording costs no copy and no allocation, while those layers import only this file and never
 * the context, the chain or the server (no import cycle plugins/api -> logging/serializer -> proxy).
 *
 * Everything here is a leaf type (config, errors, trace context, redaction, metrics cell), so this
 * file imports nothing that imports it back.
 */
import type { ConsumerConfig, RouteConfig, ServiceConfig } from '../config/types';
import type { Redaction } from '../logging/redaction';
import type { RouteCell } from '../metrics/route-cell';
import type { TraceContext } from '../tracing/trace-context';
import type { ProxyError } from './errors';

/** The downstream head as logged: the parts of request-head.ts's DownstreamHead a log reads. */
export interface RecordedHead {
  readonly method: string;
  readonly rawPath: string;
  readonly query: string;
  /** Host without port, lower-cased; `hostHeader` is the header as sent ('' when absent). */
  readonly host: string;
  readonly hostHeader: string;
  readonly headBytes: number;
  readonly remoteAddress: string;
  /** The listener's scheme: https on the TLS listener. */
  readonly scheme: 'http' | 'https';
  readonly headerNames: readonly string[];
  readonly headerValues: readonly string[];
}

export interface RecordedRoute {
  readonly config: RouteConfig;
  readonly service: { readonly config: ServiceConfig } | null;
  /** The route's metrics cell (WorkerMetrics.attach); null with --metrics off. */
  readonly metrics: RouteCell | null;
}

export interface RequestRecord {
  readonly request: RecordedHead;
  readonly route: RecordedRoute | null;
  /** The last upstream target tried ("ip:port"), or null when none was picked. */
  readonly target: { readonly address: string } | null;
  readonly consumer: ConsumerConfig | null;
  readonly credentialId: string | null;
  readonly requestId: string;
  readonly trace: TraceContext | null;
  /** The client went away first (logged as 499). */
  readonly aborted: boolean;
  /** The gateway's own failure, if the answer was one (errors.ts). */
  readonly error: ProxyError | null;
  readonly responseStatus: number;
  /** Request body bytes received, response body bytes sent. */
  readonly bodyBytes: number;
  readonly responseBytes: number;
  /** performance.now() readings; 0 when the request never got there. */
  readonly startedAt: number;
  readonly upstreamStartedAt: number;
  readonly upstreamHeadersAt: number;
  readonly finishedAt: number;
  /** The path and query sent upstream ('' when the request never got that far). */
  readonly upstreamUri: string;
  /** The snapshot's secret redaction and version, as the request started with them. */
  readonly redaction: Redaction;
  readonly configVersion: number;
  /** Response headers as the client got them, for the serializer (allocates: log plugins only). */
  responseHeaderList(): { names: string[]; values: string[] };
}
