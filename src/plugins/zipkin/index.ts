import { createHash } from 'node:crypto';
import os from 'node:os';
import { Agent, request } from 'undici';
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import type { BatchQueue } from '../../logging/batch-queue';
import { shipperQueue } from '../../logging/shipper-queue';
import { queueOptions } from '../../logging/queue-schema';
import { randomHex } from '../../tracing/random-ids';
import { systemLogger } from '../../util/logger';
import { EXTRACT_FORMATS, extract, inject, type ExtractFormat, type Extracted, type Format } from './propagation';
import { epochMicros, remoteEndpoint, tagsOf, type ZipkinAnnotation, type ZipkinSpan } from './spans';
import { PROTECTED_TAGS, ZipkinSchema, type ZipkinConfig } from './schema';

const log = systemLogger('warn', { role: 'zipkin' });

/** Far above any worker's concurrent requests; reaching it means onLog was skipped somewhere. */
const MAX_OPEN_REQUESTS = 100_000;

/**
 * Kong tags each span with its node id. Worker threads share the process, so the id is derived
 * from what they share (host name, pid), formatted as a UUID.
 */
const NODE_ID = (() => {
  const h = createHash('sha1').update(`${os.hostname()}:${process.pid}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
})();

/** POSTs batches of spans as a JSON array; a non-2xx answer is retried by the queue. */
class ZipkinSender {
  readonly #url: string;
  readonly #agent: Agent;
  readonly #readTimeout: number;
  /** undici has no write timeout: the whole exchange is bounded by the three timeouts' sum. */
  readonly #deadline: number;

  constructor(conf: ZipkinConfig) {
    this.#url = conf.http_endpoint!;
    this.#agent = new Agent({ connect: { timeout: conf.connect_timeout }, allowH2: false });
    this.#readTimeout = conf.read_timeout;
    this.#deadline = conf.connect_timeout + conf.send_timeout + conf.read_timeout;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  send = async (spans: ZipkinSpan[]): Promise<void> => {
    const res = await request(this.#url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spans),
      dispatcher: this.#agent,
      headersTimeout: this.#readTimeout,
      bodyTimeout: this.#readTimeout,
      signal: AbortSignal.timeout(this.#deadline),
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`zipkin server responded unexpectedly: ${res.statusCode}`);
  };
}

/** How to read and write trace headers, resolved once from propagation or the legacy header_type. */
export interface PropagationPlan {
  /** null: never read the request's headers (a new trace each time). */
  readonly extract: readonly ExtractFormat[] | null;
  /** null: write nothing upstream. */
  readonly inject: readonly ('preserve' | Format)[] | null;
  readonly clear: readonly string[];
  readonly defaultFormat: Format;
}

/** Kong's get_plugin_params: a propagation block with any setting wins over header_type. */
export function propagationPlan(conf: ZipkinConfig): PropagationPlan {
  const p = conf.propagation;
  if (p.extract !== null || p.inject !== null || p.clear !== null) {
    return { extract: p.extract as ExtractFormat[] | null, inject: p.inject as ('preserve' | Format)[] | null, clear: (p.clear ?? []).map((h) => h.toLowerCase()), defaultFormat: p.default_format as Format };
  }
  const defaultFormat = conf.default_header_type as Format;
  switch (conf.header_type) {
    case 'preserve':
      return { extract: EXTRACT_FORMATS, inject: ['preserve'], clear: [], defaultFormat };
    case 'ignore':
      return { extract: null, inject: [defaultFormat], clear: [], defaultFormat };
    default:
      return { extract: EXTRACT_FORMATS, inject: ['preserve', conf.header_type as Format], clear: [], defaultFormat };
  }
}

/** One request's spans in the making (Kong's ngx.ctx.zipkin). */
class ZipkinRequest {
  readonly traceId: string;
  readonly requestSpanId: string;
  readonly parentId: string | null;
  readonly proxySpanId: string;
  readonly sampled: boolean;
  readonly name: string;
  readonly extracted: Extracted | null;
  readonly extractedFrom: ExtractFormat | null;
  /** performance.now() when the access phase (onRequest) began; 0 if it never ran. */
  accessStartedAt = 0;
  readonly tags = new Map<string, string | number | boolean>();

  constructor(plugin: Zipkin, ctx: PluginContext) {
    const conf = plugin.conf;
    const head = ctx.request;
    const found = plugin.plan.extract === null ? null : extract(head, plugin.plan.extract);
    const ex = found === null ? null : found.ctx;
    this.extracted = ex;
    this.extractedFrom = found === null ? null : found.format;
    let sampled = ex === null ? null : ex.shouldSample;
    if (sampled === null) sampled = Math.random() < conf.sample_ratio;
    this.sampled = sampled;
    this.traceId = ex !== null && ex.traceId !== null ? ex.traceId : randomHex(conf.traceid_byte_count);
    // B3 and Jaeger: the caller's span is shared (its id reused, its parent ours); the others:
    // the caller's span is our parent.
    if (ex !== null && ex.reuseSpanId) {
      this.requestSpanId = ex.spanId ?? randomHex(8);
      this.parentId = ex.parentId;
    } else {
      this.requestSpanId = randomHex(8);
      this.parentId = ex === null ? null : ex.spanId;
    }
    this.proxySpanId = randomHex(8);
    this.name = conf.http_span_name === 'method_path' ? head.method + ' ' + head.path : head.method;
    const tags = this.tags;
    tags.set('lc', 'kong');
    tags.set('http.method', head.method);
    tags.set('http.host', head.host);
    tags.set('http.path', head.path);
    tags.set('http.protocol', 'HTTP/1.1');
    if (conf.static_tags !== null) for (const t of conf.static_tags) tags.set(t.name, t.value);
    this.#readTagsHeader(plugin.tagsHeader, ctx);
  }

  /** `Zipkin-Tags: foo=bar; baz=qux` (the header may repeat); unparsable items are skipped. */
  #readTagsHeader(header: string, ctx: PluginContext): void {
    const names = ctx.request.headerNames;
    for (let i = 0; i < names.length; i++) {
      if (names[i] !== header) continue;
      for (const item of ctx.request.headerValues[i].split(';')) {
        if (item.trim() === '') continue;
        const m = /^\s*(\S+?)\s*=\s*(.*\S)\s*$/.exec(item);
        if (m === null) log.debug({ item }, 'could not parse a Zipkin tag');
        else this.tags.set(m[1], m[2]);
      }
    }
  }
}

/**
 * Kong's zipkin plugin: continues or starts a trace from the request's headers (b3, b3-single,
 * w3c, jaeger, ot, aws, datadog, gcp), sends the trace on upstream in the configured formats, and
 * reports three kinds of span to a Zipkin collector: the request (SERVER), the proxied call
 * (CLIENT, child of the request, the span the upstream sees as its parent) and one per balancer
 * try (CLIENT). Unsampled requests still propagate their headers but report nothing.
 */
class Zipkin implements PluginInstance {
  readonly conf: ZipkinConfig;
  readonly plan: PropagationPlan;
  readonly tagsHeader: string;
  readonly queue: BatchQueue<ZipkinSpan> | null;
  /**
   * Requests between onRequest and onLog. A Map with a delete in onLog rather than a WeakMap:
   * weak entries cost the garbage collector several times more per request (measured). onLog runs
   * exactly once for every request whose onRequest ran; the bound only guards against a leak.
   */
  readonly #requests = new Map<PluginContext, ZipkinRequest>();

  constructor(conf: ZipkinConfig, pluginId: string) {
    this.conf = conf;
    this.plan = propagationPlan(conf);
    this.tagsHeader = conf.tags_header.toLowerCase();
    if (conf.http_endpoint === null) {
      this.queue = null;
      return;
    }
    // The shared shipper queue: one per entry and config, kept across reloads, flushed on drain.
    this.queue = shipperQueue<ZipkinSpan>('zipkin', pluginId, conf, queueOptions(conf.queue), conf.http_endpoint, () => {
      const sender = new ZipkinSender(conf);
      return { send: sender.send, close: () => void sender.close() };
    });
  }

  /** Kong's access phase: the proxy span starts, trace headers go upstream. */
  onRequest(ctx: PluginContext): Verdict {
    const z = new ZipkinRequest(this, ctx);
    if (this.#requests.size >= MAX_OPEN_REQUESTS) {
      log.warn({ open: this.#requests.size }, 'zipkin: too many requests without a log phase; forgetting them');
      this.#requests.clear();
    }
    this.#requests.set(ctx, z);
    z.accessStartedAt = performance.now();
    const plan = this.plan;
    for (const h of plan.clear) ctx.removeUpstreamHeader(h);
    if (plan.inject !== null) {
      const ex = z.extracted;
      // Kong's inject context: the proxy span's ids; a negative sampling decision is passed on
      // only when the caller made it.
      const injectCtx = {
        traceId: z.traceId,
        spanId: z.proxySpanId,
        parentId: z.requestSpanId,
        shouldSample: z.sampled ? true : ex !== null && ex.shouldSample === false ? false : null,
        flags: ex === null ? null : ex.flags,
        baggage: ex === null ? null : ex.baggage,
        traceIdOriginalSize: ex === null ? 0 : ex.traceIdOriginalSize,
      };
      let wroteW3c = false;
      for (const wanted of plan.inject) {
        let format: Format = wanted === 'preserve' ? (z.extractedFrom ?? plan.defaultFormat) : wanted;
        if (wanted === 'preserve' && format === 'b3' && ex !== null && ex.singleHeader) format = 'b3-single';
        if (format === 'w3c') wroteW3c = true;
        const headers = inject(format, injectCtx);
        for (let i = 0; i < headers.length; i += 2) ctx.setUpstreamHeader(headers[i], headers[i + 1]);
      }
      // The core sends a traceparent of its own (--trace-context on). Kong has none; rather than an
      // upstream seeing two unrelated traces, that header carries zipkin's trace too.
      if (!wroteW3c && ctx.trace !== null) {
        const tp = inject('w3c', injectCtx);
        ctx.setUpstreamHeader(tp[0], tp[1]);
      }
    }
    if (this.conf.http_response_header_for_traceid !== null) ctx.setResponseHeader(this.conf.http_response_header_for_traceid, z.traceId);
    return Verdict.Continue;
  }

  onLog(ctx: PluginContext): void {
    // A request that never reached onRequest (answered before the plugins ran) still gets spans.
    const z = this.#requests.get(ctx) ?? new ZipkinRequest(this, ctx);
    this.#requests.delete(ctx);
    if (!z.sampled || this.queue === null) return;
    const conf = this.conf;
    const rec = ctx.serializeLog();
    const local = { serviceName: conf.local_service_name };
    const end = ctx.finishedAt === 0 ? performance.now() : ctx.finishedAt;
    const endMu = epochMicros(end);
    const requestStartMu = epochMicros(ctx.startedAt);
    const accessAt = z.accessStartedAt === 0 ? end : z.accessStartedAt;
    const accessStartMu = epochMicros(accessAt);
    const serviceName = rec.service === null ? null : rec.service.name;

    // Service and route tags, as Kong's tag_with_service_and_route.
    const scoped = (tags: Map<string, string | number | boolean>) => {
      if (rec.service !== null) {
        tags.set('kong.service', rec.service.id);
        if (rec.service.name !== null) tags.set('kong.service_name', rec.service.name);
      }
      if (rec.route !== null) {
        tags.set('kong.route', rec.route.id);
        if (rec.route.name !== null) tags.set('kong.route_name', rec.route.name);
      }
    };

    // Balancer tries: Floodgate makes one upstream attempt per logged try.
    for (let i = 0; i < rec.tries.length; i++) {
      const attempt = rec.tries[i];
      const tags = new Map<string, string | number | boolean>([['kong.balancer.try', i + 1]]);
      if (i < rec.tries.length - 1) tags.set('error', true);
      scoped(tags);
      const startMu = attempt.balancer_start * 1000;
      this.queue.push({
        traceId: z.traceId,
        name: `${z.name} (balancer try ${i + 1})`,
        parentId: z.requestSpanId,
        id: randomHex(8),
        kind: 'CLIENT',
        timestamp: startMu,
        duration: Math.floor(attempt.balancer_latency * 1000),
        localEndpoint: local,
        remoteEndpoint: remoteEndpoint(serviceName ?? conf.default_service_name, attempt.ip, attempt.port),
        tags: tagsOf(tags),
      });
    }

    const proxyTags = new Map<string, string | number | boolean>();
    const proxyAnnotations: ZipkinAnnotation[] = [];
    const requestAnnotations: ZipkinAnnotation[] = [];
    if (conf.phase_duration_flavor === 'annotations') {
      // Floodgate's phases mapped onto Kong's: rewrite = routing up to the plugins' access phase,
      // access = plugins until the upstream dispatch, header/body filter = the upstream response.
      const dispatched = ctx.upstreamStartedAt === 0 ? end : ctx.upstreamStartedAt;
      const headersAt = ctx.upstreamHeadersAt === 0 ? end : ctx.upstreamHeadersAt;
      requestAnnotations.push({ value: 'krs', timestamp: requestStartMu }, { value: 'krf', timestamp: accessStartMu });
      proxyAnnotations.push(
        { value: 'kas', timestamp: accessStartMu },
        { value: 'kaf', timestamp: epochMicros(dispatched) },
        { value: 'khs', timestamp: epochMicros(headersAt) },
        { value: 'khf', timestamp: epochMicros(headersAt) },
        { value: 'kbs', timestamp: epochMicros(headersAt) },
        { value: 'kbf', timestamp: endMu },
      );
    } else {
      z.tags.set('kong.rewrite.duration_ms', Math.round(accessAt - ctx.startedAt));
      proxyTags.set('kong.access.duration_ms', Math.round((ctx.upstreamStartedAt === 0 ? end : ctx.upstreamStartedAt) - accessAt));
      proxyTags.set('kong.header_filter.duration_ms', 0);
      proxyTags.set('kong.body_filter.duration_ms', ctx.upstreamHeadersAt === 0 ? 0 : Math.round(end - ctx.upstreamHeadersAt));
    }

    let proxyIp: string | null = null;
    let proxyPort: number | null = null;
    if (rec.tries.length > 0) {
      const last = rec.tries[rec.tries.length - 1];
      proxyIp = last.ip;
      proxyPort = last.port;
      if (rec.service !== null) proxyTags.set('peer.hostname', rec.service.host);
    }
    scoped(proxyTags);
    this.queue.push({
      traceId: z.traceId,
      name: z.name + ' (proxy)',
      parentId: z.requestSpanId,
      id: z.proxySpanId,
      kind: 'CLIENT',
      timestamp: accessStartMu,
      duration: endMu - accessStartMu,
      localEndpoint: local,
      remoteEndpoint: remoteEndpoint(serviceName ?? conf.default_service_name, proxyIp, proxyPort),
      tags: tagsOf(proxyTags),
      annotations: proxyAnnotations.length === 0 ? undefined : proxyAnnotations,
    });

    const tags = z.tags;
    tags.set('http.status_code', rec.response.status);
    if (rec.consumer !== null) tags.set('kong.consumer', rec.consumer.id);
    if (conf.include_credential && rec.authenticated_entity !== null) tags.set('kong.credential', rec.authenticated_entity.id);
    tags.set('kong.node.id', NODE_ID);
    const span: ZipkinSpan = {
      traceId: z.traceId,
      name: z.name,
      id: z.requestSpanId,
      kind: 'SERVER',
      timestamp: requestStartMu,
      duration: endMu - requestStartMu,
      localEndpoint: local,
      remoteEndpoint: remoteEndpoint(conf.default_service_name, rec.client_ip, null),
      tags: tagsOf(tags),
      annotations: requestAnnotations.length === 0 ? undefined : requestAnnotations,
    };
    if (z.parentId !== null) span.parentId = z.parentId;
    this.queue.push(span);
  }
}

export const zipkin: PluginDefinition<ZipkinConfig> = {
  name: 'zipkin',
  // Kong's: first of all, so its timestamps open each phase.
  priority: 100000,
  version: '1.0.0',
  configSchema: ZipkinSchema,
  checkConfig(conf) {
    if (conf.static_tags === null) return null;
    const seen = new Set<string>();
    for (let i = 0; i < conf.static_tags.length; i++) {
      const name = conf.static_tags[i].name;
      if (PROTECTED_TAGS.includes(name)) return { path: ['static_tags', index(i), 'name'], message: `"${name}" is set by the plugin itself and cannot be a static tag` };
      if (seen.has(name)) return { path: ['static_tags', index(i), 'name'], message: `repeated tags are not allowed: ${name}` };
      seen.add(name);
    }
    return null;
  },
  create: (conf, env) => new Zipkin(conf, env.pluginId ?? 'default'),
};

/** An array index in a checkConfig path (the loader formats numbers as `[i]`). */
function index(i: number): string {
  return i as unknown as string;
}
