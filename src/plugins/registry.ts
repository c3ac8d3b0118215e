/**
 * Every plugin the gateway knows. A config naming a plugin that is not here is rejected at load.
 * Later features add their definitions to this list; nothing else needs to change.
 */
import type { PluginDefinition } from './api';
import { requestTermination } from './request-termination';
import { ipRestriction } from './ip-restriction';
import { cors } from './cors';
import { acl } from './acl';
import { basicAuth } from './basic-auth';
import { keyAuth } from './key-auth';
import { jwt } from './jwt';
import { rateLimiting } from './rate-limiting';
import { correlationId } from './correlation-id';
import { httpLog } from './http-log';
import { fileLog } from './file-log';
import { openTelemetry } from './opentelemetry';
import { prometheus } from './prometheus';
import { hmacAuth } from './hmac-auth';
import { proxyCache } from './proxy-cache';
import { requestTransformer } from './request-transformer';
import { responseTransformer } from './response-transformer';
import { requestSizeLimiting } from './request-size-limiting';
import { responseRateLimiting } from './response-ratelimiting';
import { botDetection } from './bot-detection';
import { redirect } from './redirect';
import { concurrencyLimit } from './concurrency-limit';
import { zipkin } from './zipkin';
import { tcpLog } from './tcp-log';
import { udpLog } from './udp-log';
import { syslog } from './syslog';
import { statsd } from './statsd';
import { fault } from './fault';
import { grpcWeb } from './grpc-web';
import { mtlsAuth } from './mtls-auth';

const definitions: readonly PluginDefinition<any>[] = [requestTermination, keyAuth, basicAuth, acl, jwt, ipRestriction, cors, rateLimiting];
/** Logging and tracing (issue 7): appended separately to keep merges with other plugin work simple. */
const observability: readonly PluginDefinition<any>[] = [correlationId, httpLog, fileLog, openTelemetry, zipkin, tcpLog, udpLog, syslog, statsd];

/** Kong plugins of issue 13 (prometheus, hmac-auth): appended separately, as above. */
const kongCompat: readonly PluginDefinition<any>[] = [prometheus, hmacAuth];

/** Kong's traffic and transformation plugins (issue 13): their own list, for the same reason. */
const traffic: readonly PluginDefinition<any>[] = [
  proxyCache,
  requestTransformer,
  responseTransformer,
  requestSizeLimiting,
  responseRateLimiting,
  botDetection,
  redirect,
];

/** Overload protection (issue 11): appended separately, as above. */
const overload: readonly PluginDefinition<any>[] = [concurrencyLimit];

/** gRPC (issue 14): appended separately, as above. */
const grpc: readonly PluginDefinition<any>[] = [grpcWeb];
/** The edge (issue 14): client certificates. Appended separately, as above. */
const edge: readonly PluginDefinition<any>[] = [mtlsAuth];

/** Test-only plugins, known only with FLOODGATE_FAULT_INJECTION=1 (as the x-floodgate-fault header). */
const testOnly: readonly PluginDefinition<any>[] = process.env.FLOODGATE_FAULT_INJECTION === '1' ? [fault] : [];

const byName: ReadonlyMap<string, PluginDefinition<any>> = new Map(
  [...definitions, ...observability, ...kongCompat, ...traffic, ...overload, ...grpc, ...edge, ...testOnly].map((d) => [d.name, d]),
);

export function getPluginDefinition(name: string): PluginDefinition<any> | undefined {
  return byName.get(name);
}

export function pluginNames(): string[] {
  return [...byName.keys()].sort();
}
