/**
 * A PluginContext for unit tests: a request head built from plain values, and a record of what
 * the plugin did (local reply, header edits). No sockets, no uWS.
 */
import { formatConfigErrors, loadConfigText } from '../../src/config/load';
import type { ConsumerConfig, NormalizedConfig, PluginConfig } from '../../src/config/types';
import { ConsumerDirectory } from '../../src/plugins/consumer-directory';
import { Verdict, type PluginContext, type PluginEnv, type PluginInstance, type RequestHead, type ClientCertificate, type ResponseBodyFilter } from '../../src/plugins/api';
import type { LogRecord } from '../../src/logging/serializer';
import { TraceContext } from '../../src/tracing/trace-context';
import { getPluginDefinition } from '../../src/plugins/registry';

export interface FakeRequest {
  method?: string;
  path?: string;
  query?: string;
  host?: string;
  remoteAddress?: string;
  headers?: Record<string, string>;
  /** A verified mTLS client certificate (request.clientCertificate). */
  clientCertificate?: ClientCertificate | null;
}

export class FakeContext implements PluginContext {
  readonly request: RequestHead;
  routeId = 'route-1';
  routeName: string | null = 'route-1';
  serviceId: string | null = 'service-1';
  pathCaptures: Readonly<Record<string, string>> | null = null;
  responseStatus = 0;
  reply: { status: number; body: string; contentType: string; headers: readonly string[] | null } | null = null;
  readonly upstreamHeaders = new Map<string, string | null>();
  consumer: ConsumerConfig | null = null;
  credentialId: string | null = null;
  anonymous = false;
  credentialIdentifier: string | null = null;
  readonly responseHeaders = new Map<string, string>();
  requestId = 'test-request-1';
  trace: TraceContext | null = TraceContext.from(undefined, undefined);
  startedAt = 1000;
  upstreamStartedAt = 1001;
  upstreamHeadersAt = 1005;
  finishedAt = 1006;
  /** The request body readRequestBody() resolves with; null = the request has none. */
  body: Buffer | null = null;
  get hasRequestBody(): boolean {
    return this.body !== null;
  }
  requestSize = 0;
  responseSize = 0;
  responseSource: 'service' | 'error' | 'exit' = 'service';
  get finalStatus(): number {
    return this.responseStatus;
  }
  /** What serializeLog() returns: a minimal Kong-format record; tests may replace it. */
  logRecord: LogRecord | null = null;

  constructor(req: FakeRequest = {}) {
    const headers = Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
    this.request = {
      scheme: 'http',
      method: req.method ?? 'GET',
      rawPath: req.path ?? '/',
      path: req.path ?? '/',
      query: req.query ?? '',
      host: req.host ?? 'localhost',
      remoteAddress: req.remoteAddress ?? '127.0.0.1',
      clientCertificate: req.clientCertificate ?? null,
      headerNames: headers.map(([k]) => k),
      headerValues: headers.map(([, v]) => v),
      header(name: string) {
        return headers.find(([k]) => k === name)?.[1];
      },
    };
  }

  respond(status: number, body: string | Buffer, contentType: string, headers: readonly string[] | null): Verdict.Stop {
    if (this.reply !== null) throw new Error('respond() called twice');
    this.reply = { status, body: body.toString(), contentType, headers };
    return Verdict.Stop;
  }
  /** The path set by setUpstreamPath, or null. */
  upstreamPath: string | null = null;
  setUpstreamPath(path: string): void {
    this.upstreamPath = path;
  }
  /** The method set by setUpstreamMethod, or null. */
  upstreamMethod: string | null = null;
  setUpstreamMethod(method: string): void {
    this.upstreamMethod = method;
  }
  /** Another name for `body`, the client body readRequestBody gives (tests set either). */
  get requestBody(): Buffer | null {
    return this.body;
  }
  set requestBody(value: Buffer | null) {
    this.body = value;
  }
  /** The body set by setUpstreamBody, or null when the client's goes upstream. */
  upstreamBody: Buffer | null = null;
  /** As the real context: a second reader gets what the first read, as replaced since. */
  readRequestBody(maxBytes: number): Promise<Buffer | null> {
    const body = this.upstreamBody ?? this.body ?? Buffer.alloc(0);
    return Promise.resolve(body.length > maxBytes ? null : body);
  }
  setUpstreamBody(body: Buffer): void {
    this.upstreamBody = body;
  }
  /** The upstream response's headers, flat lower-case pairs (tests set them before onResponse). */
  upstreamResponse: string[] = [];
  /** addResponseHeader calls, in order, and removeResponseHeader names. */
  readonly addedResponseHeaders: [string, string][] = [];
  readonly removedResponseHeaders = new Set<string>();
  addResponseHeader(name: string, value: string): void {
    this.addedResponseHeaders.push([name.toLowerCase(), value]);
  }
  removeResponseHeader(name: string): void {
    const lower = name.toLowerCase();
    this.removedResponseHeaders.add(lower);
    this.responseHeaders.delete(lower);
  }
  responseHeader(name: string): string | undefined {
    const h = this.upstreamResponse;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return undefined;
  }
  upstreamResponseHeaders(): string[] {
    return [...this.upstreamResponse];
  }
  readonly bodyFilters: { filter: ResponseBodyFilter; rewrites: boolean }[] = [];
  filterResponseBody(filter: ResponseBodyFilter, rewrites: boolean): void {
    this.bodyFilters.push({ filter, rewrites });
  }
  /** Stream `chunks` through the registered body filters as the gateway does; returns what the client gets. */
  runBodyFilters(chunks: Buffer[]): Buffer {
    const out: Buffer[] = [];
    for (const chunk of chunks) {
      let data: Buffer | null = chunk;
      for (const { filter } of this.bodyFilters) data = data === null ? null : filter.onChunk(data);
      if (data !== null) out.push(data);
    }
    let tail: Buffer | null = null;
    for (const { filter } of this.bodyFilters) {
      const passed: Buffer | null = tail !== null && tail.length > 0 ? filter.onChunk(tail) : null;
      const own = filter.onEnd();
      tail = passed === null ? own : own === null ? passed : Buffer.concat([passed, own]);
    }
    if (tail !== null) out.push(tail);
    return Buffer.concat(out);
  }
  setUpstreamHeader(name: string, value: string): void {
    this.upstreamHeaders.set(name.toLowerCase(), value);
  }
  removeUpstreamHeader(name: string): void {
    this.upstreamHeaders.set(name.toLowerCase(), null);
  }
  /** The query set by setUpstreamQuery, or null when the client's query goes upstream unchanged. */
  upstreamQuery: string | null = null;
  setUpstreamQuery(query: string): void {
    this.upstreamQuery = query;
  }
  upstreamResponseHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    const h = this.upstreamResponse;
    for (let i = 0; i + 1 < h.length; i += 2) if (h[i] === lower) return h[i + 1];
    return undefined;
  }

  setResponseHeader(name: string, value: string): void {
    this.responseHeaders.set(name.toLowerCase(), value);
  }
  serializeLog(): LogRecord {
    if (this.logRecord !== null) return structuredClone(this.logRecord);
    const r = this.request;
    return {
      request: { id: this.requestId, method: r.method, uri: r.rawPath, url: 'http://' + r.host + r.rawPath, size: 0, querystring: {}, headers: {} },
      upstream_uri: r.rawPath,
      response: { status: this.responseStatus, size: 0, headers: {} },
      tries: [],
      latencies: { request: this.finishedAt - this.startedAt, proxy: this.finishedAt - this.upstreamStartedAt, kong: 1, receive: 1 },
      route: { id: this.routeId, name: this.routeName, paths: null },
      service: null,
      consumer: null,
      authenticated_entity: null,
      client_ip: r.remoteAddress,
      started_at: Math.round(performance.timeOrigin + this.startedAt),
      upstream_status: this.responseStatus,
      source: 'upstream',
      trace_id: this.trace === null ? null : this.trace.traceId,
      error: null,
    };
  }
  authenticate(consumer: ConsumerConfig, credentialId: string | null, credentialIdentifier: string | null, anonymous: boolean): void {
    this.consumer = consumer;
    this.credentialId = credentialId;
    this.credentialIdentifier = credentialIdentifier;
    this.anonymous = anonymous;
  }
}

/**
 * Build a plugin the way the gateway does: from a declarative file (inline YAML), through the
 * loader's schema validation and defaults, then the registry's create().
 */
export function pluginFromYaml(
  yaml: string,
  name: string,
  envOverrides: Partial<PluginEnv> = {},
): { config: PluginConfig; instance: PluginInstance; normalized: NormalizedConfig } {
  const result = loadConfigText(yaml, 'inline.yaml');
  if (!result.ok) throw new Error(formatConfigErrors(result.errors, 'inline.yaml'));
  const config = result.config.plugins.find((p) => p.name === name);
  if (config === undefined) throw new Error(`no plugin "${name}" in the config`);
  const env: PluginEnv = { consumers: new ConsumerDirectory(result.config), trustedIps: [] as string[], config: result.config, ...envOverrides };
  return { config, instance: getPluginDefinition(name)!.create(config.config, env, config), normalized: result.config };
}
