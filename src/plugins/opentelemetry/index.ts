import { Agent, request } from 'undici';
import { CHECKED_ONLY, Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { BatchQueue, sharedQueue } from '../../logging/batch-queue';
import { queueOptions } from '../../logging/queue-schema';
import { registerLogSink, unregisterLogSink, type LogSink } from '../../logging/sinks';
import { systemLogger } from '../../util/logger';
import { encodeTraces, SpanKind, type AttributeValue, type FinishedSpan } from './otlp-json';
import { OpenTelemetrySchema, type OpenTelemetryConfig } from './schema';

const log = systemLogger('warn', { role: 'opentelemetry' });
const VERSION: string = (require('../../../../package.json') as { version: string }).version;

/** Kong's opentelemetry queue defaults differ from the generic ones. */
const OTEL_BATCH = 200;
const OTEL_DELAY_MS = 1000;

class OtlpExporter {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #agent: Agent;
  readonly #readTimeout: number;
  readonly #resource: Record<string, AttributeValue>;

  constructor(url: string, conf: OpenTelemetryConfig) {
    this.#url = url;
    this.#headers = { 'content-type': 'application/json' };
    if (conf.headers !== null) for (const [k, v] of Object.entries(conf.headers)) this.#headers[k.toLowerCase()] = v;
    this.#agent = new Agent({ connect: { timeout: conf.connect_timeout }, allowH2: false });
    this.#readTimeout = conf.read_timeout;
    this.#resource = { 'service.name': 'floodgate', 'service.version': VERSION, ...(conf.resource_attributes ?? {}) };
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  send = async (spans: FinishedSpan[]): Promise<void> => {
    const res = await request(this.#url, {
      method: 'POST',
      headers: this.#headers,
      body: encodeTraces(this.#resource, VERSION, spans),
      dispatcher: this.#agent,
      headersTimeout: this.#readTimeout,
      bodyTimeout: this.#readTimeout,
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`OTLP endpoint answered ${res.statusCode}`);
  };
}

/**
 * Kong's opentelemetry plugin, traces only: each sampled request becomes two spans, the gateway's
 * server span (the span id the core picked in tracing/trace-context.ts, child of the caller's
 * span) and a client span for the upstream call (the parent the upstream saw in traceparent).
 * Attributes follow the OTel HTTP semantic conventions. onLog only builds two small objects and
 * enqueues them; encoding and sending happen in batches on the queue.
 *
 * Sampling is parent-based: a trace the caller marked not-sampled (flags 00) is never exported;
 * a sampled one is exported with probability sampling_rate.
 */
class OpenTelemetry implements PluginInstance {
  readonly queue: BatchQueue<FinishedSpan>;
  readonly #rate: number;
  readonly #traceIdHeader: string | null;

  constructor(conf: OpenTelemetryConfig, pluginId: string) {
    const url = conf.traces_endpoint ?? conf.endpoint;
    if (url === null) throw new Error('opentelemetry: traces_endpoint is required');
    this.#rate = conf.sampling_rate ?? 1;
    this.#traceIdHeader = conf.http_response_header_for_traceid;
    const name = `opentelemetry:${pluginId}`;
    const overrides: { maxBatchSize?: number; maxCoalescingDelayMs?: number } = {};
    // Kong's deprecated fields win when set; otherwise Kong's otel defaults unless queue says otherwise.
    overrides.maxBatchSize = conf.batch_span_count ?? (conf.queue.max_batch_size === 1 ? OTEL_BATCH : conf.queue.max_batch_size);
    overrides.maxCoalescingDelayMs = conf.batch_flush_delay !== null ? conf.batch_flush_delay * 1000 : conf.queue.max_coalescing_delay === 1 ? OTEL_DELAY_MS : conf.queue.max_coalescing_delay * 1000;
    // Set by whichever snapshot created the queue; runs when a reload retires it.
    let release = (): void => {};
    this.queue = sharedQueue(name + ':' + JSON.stringify(conf), () => {
      const exporter = new OtlpExporter(url, conf);
      const q = new BatchQueue<FinishedSpan>(name, queueOptions(conf.queue, overrides), exporter.send, (err, attempt, givingUp) =>
        log.warn({ err: (err as Error).message, endpoint: url, attempt, givingUp }, givingUp ? 'spans dropped after retries' : 'span export failed; retrying'),
      );
      q.onFull((c) => log.warn({ queue: name, ...c }, 'opentelemetry queue full; dropping entries'));
      const sink: LogSink = { reopen() {}, flush: () => q.flush() };
      registerLogSink(sink);
      release = () => {
        unregisterLogSink(sink);
        void exporter.close();
      };
      return q;
    }, () => release());
  }

  onRequest(ctx: PluginContext): Verdict {
    if (this.#traceIdHeader !== null && ctx.trace !== null) ctx.setResponseHeader(this.#traceIdHeader, ctx.trace.traceId);
    return Verdict.Continue;
  }

  onLog(ctx: PluginContext): void {
    const trace = ctx.trace;
    if (trace === null || !trace.sampled) return;
    if (this.#rate < 1 && Math.random() >= this.#rate) return;
    const rec = ctx.serializeLog();
    const origin = performance.timeOrigin;
    const end = origin + ctx.finishedAt;
    const status = rec.response.status;
    const server: Record<string, AttributeValue> = {
      'http.request.method': rec.request.method,
      'url.scheme': ctx.request.scheme,
      'url.path': ctx.request.rawPath,
      'http.response.status_code': status,
      'server.address': ctx.request.host,
      'network.peer.address': ctx.request.remoteAddress,
      'client.address': rec.client_ip,
      'floodgate.request_id': ctx.requestId,
    };
    const ua = ctx.request.header('user-agent');
    if (ua !== undefined) server['user_agent.original'] = ua;
    if (rec.route !== null) {
      server['floodgate.route.id'] = rec.route.id;
      if (rec.route.name !== null) server['floodgate.route.name'] = rec.route.name;
      server['http.route'] = rec.route.name ?? rec.route.id;
    }
    if (rec.service !== null) {
      server['floodgate.service.id'] = rec.service.id;
      if (rec.service.name !== null) server['floodgate.service.name'] = rec.service.name;
    }
    if (rec.consumer !== null) server['floodgate.consumer.id'] = rec.consumer.id;
    if (rec.error !== null) server['error.type'] = rec.error;
    this.queue.push({
      traceId: trace.traceId,
      spanId: trace.spanId,
      parentSpanId: trace.parentSpanId,
      name: rec.route === null ? rec.request.method : `${rec.request.method} ${rec.route.name ?? rec.route.id}`,
      kind: SpanKind.Server,
      startMs: origin + ctx.startedAt,
      endMs: end,
      attributes: server,
      error: status >= 500,
    });
    const attempt = rec.tries.length === 0 ? null : rec.tries[0];
    if (attempt === null || ctx.upstreamStartedAt === 0) return;
    const upstream: Record<string, AttributeValue> = {
      'http.request.method': rec.request.method,
      'server.address': attempt.ip,
      'server.port': attempt.port,
      'network.peer.address': attempt.ip,
      'url.full': `${rec.service?.protocol ?? 'http'}://${attempt.ip.includes(':') ? `[${attempt.ip}]` : attempt.ip}:${attempt.port}${rec.upstream_uri}`,
    };
    if (rec.upstream_status !== null) upstream['http.response.status_code'] = rec.upstream_status;
    if (rec.error !== null) upstream['error.type'] = rec.error;
    this.queue.push({
      traceId: trace.traceId,
      spanId: trace.upstreamSpanId,
      parentSpanId: trace.spanId,
      name: `upstream ${rec.request.method}`,
      kind: SpanKind.Client,
      startMs: origin + ctx.upstreamStartedAt,
      endMs: end,
      attributes: upstream,
      error: rec.upstream_status === null || rec.upstream_status >= 400,
    });
  }
}

export const openTelemetry: PluginDefinition<OpenTelemetryConfig> = {
  name: 'opentelemetry',
  priority: 14,
  version: '1.0.0',
  needsTraceContext: true,
  configSchema: OpenTelemetrySchema,
  checkConfig: (conf) =>
    conf.traces_endpoint === null && conf.endpoint === null ? { path: ['traces_endpoint'], message: 'traces_endpoint is required (or its older name, endpoint)' } : null,
  create: (conf, env) => {
    if (env.checkOnly !== true) return new OpenTelemetry(conf, env.pluginId ?? 'default');
    // The one thing the constructor refuses, checked without creating the exporter and its queue.
    if ((conf.traces_endpoint ?? conf.endpoint) === null) throw new Error('opentelemetry: traces_endpoint is required');
    return CHECKED_ONLY;
  },
};
