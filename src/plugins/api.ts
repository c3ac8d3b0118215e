/**
 * The plugin contract.
 *
 * A plugin is a definition (name, priority, config schema, factory) registered once. At snapshot
 * compile time each configured plugin entry is validated by `configSchema` and turned into an
 * instance by `create(conf)`, once per worker per snapshot. Instances are merged into each route's
 * phase arrays, highest priority first (Kong's order), so the hot path walks a prepared array and
 * never looks a plugin up.
 *
 * Phases follow Kong and Pingora; verdicts follow Envoy: a phase either lets the request continue
 * or has already answered locally (`ctx.respond(...)`) and returns `Stop`. Expected outcomes such
 * as 401 or 429 are verdicts, never exceptions.
 *
 * Plugins never see uWebSockets.js or undici objects: the request head is copied into a plain,
 * fixed-shape object before any plugin runs, because uWS's HttpRequest dies at the first `await`.
 */
import type { TSchema } from '@sinclair/typebox';
import type { ConsumerConfig } from '../config/types';
import type { ConsumerDirectory } from './consumer-directory';
import type { LogRecord } from '../logging/serializer';
import type { TraceContext } from '../tracing/trace-context';
import type { NormalizedConfig, PluginConfig } from '../config/types';
import type { WorkerResources } from './resources';

export const enum Verdict {
  Continue = 0,
  /** The plugin answered locally through `ctx.respond`; later phases and the upstream are skipped. */
  Stop = 1,
}

/** The downstream request head, copied synchronously from uWS. Header names are lower-case. */
export interface RequestHead {
  /** How the client reached us: 'https' through the TLS listener, else 'http'. */
  readonly scheme: 'http' | 'https';
  readonly method: string;
  /** The raw path as received (no query, not normalized). */
  readonly rawPath: string;
  /** The normalized path used for routing (see router/normalize.ts). */
  readonly path: string;
  /** The query string without `?`, byte for byte; '' when absent. */
  readonly query: string;
  /** Host header without port, lower-cased. */
  readonly host: string;
  readonly remoteAddress: string;
  /** Flat pairs: names[i] goes with values[i]. Duplicates are kept in arrival order. */
  readonly headerNames: readonly string[];
  readonly headerValues: readonly string[];
  /** First value of a header, or `undefined`. `name` must be lower-case. */
  header(name: string): string | undefined;
  /**
   * The client certificate verified on this request's TLS connection (`--tls-client-verify`
   * optional or required), or `null`: plain HTTP, verification off, or no certificate sent.
   * A certificate that failed verification never gets here (the request is refused with 400).
   */
  readonly clientCertificate: ClientCertificate | null;
}

/** A verified downstream client certificate (mTLS), read once per connection. */
export interface ClientCertificate {
  /** Subject DN in RFC 2253 form, most specific first (`CN=alice,O=Example`), as NGINX's `$ssl_client_s_dn`. */
  readonly subject: string;
  /** The subject's CN ('' when it has none): what Kong's mtls-auth matches consumers by. */
  readonly commonName: string;
  /** Issuer DN, RFC 2253. */
  readonly issuer: string;
  /** Serial number, upper-case hex. */
  readonly serialNumber: string;
  /** SHA-256 of the DER certificate, lower-case hex (Envoy's XFCC `Hash`). */
  readonly fingerprint: string;
  /** subjectAltName entries by kind, in certificate order. */
  readonly dnsNames: readonly string[];
  readonly uris: readonly string[];
  readonly emails: readonly string[];
  readonly ipAddresses: readonly string[];
  /** Validity, as OpenSSL prints it (`Dec  3 09:53:01 2026 GMT`). */
  readonly validFrom: string;
  readonly validTo: string;
  /** The leaf certificate, PEM. */
  readonly pem: string;
}

/** What a plugin may read and do during a request. Implemented by proxy/request-context.ts. */
export interface PluginContext {
  readonly request: RequestHead;
  readonly routeId: string;
  readonly routeName: string | null;
  readonly serviceId: string | null;
  /** Named captures of a regex route path, or `null`. */
  readonly pathCaptures: Readonly<Record<string, string>> | null;
  /** Upstream response status, valid from `onResponse` on (0 before). */
  readonly responseStatus: number;
  /**
   * The first value of an upstream response header (any case), from `onResponse` on; undefined
   * when absent or before the response. The engine keeps the head as bytes: a string is made
   * only here, when a plugin asks.
   */
  upstreamResponseHeader(name: string): string | undefined;

  /**
   * Answer locally. Headers are flat `[name, value, name, value...]`. Returns `Verdict.Stop`, so a
   * phase can end with `return ctx.respond(...)`.
   * A Buffer body is sent as is (proxy-cache replays stored bytes). Called from `onResponse`, it
   * replaces the upstream's response, whose head is not written yet (Kong's exit in header_filter).
   */
  respond(status: number, body: string | Buffer, contentType: string, headers: readonly string[] | null): Verdict.Stop;
  /** The request has a body (a Content-Length above 0 or Transfer-Encoding). */
  readonly hasRequestBody: boolean;
  /** Set (replace) a header on the request sent upstream. */
  setUpstreamHeader(name: string, value: string): void;
  /** Remove a header from the request sent upstream. */
  removeUpstreamHeader(name: string): void;
  /**
   * Send this path upstream instead of the one the route and service make (request-transformer's
   * replace.uri, Kong's set_path). Unescaped, starting with '/'; onRequest only.
   */
  setUpstreamPath(path: string): void;
  /** Send another method upstream (request-transformer's http_method); onRequest only. */
  setUpstreamMethod(method: string): void;
  /**
   * Read the whole client request body (onRequest, async plugins only), as Kong's
   * `kong.request.get_raw_body()`. Resolves with the bytes (empty when there is no body), or
   * `null` once more than `maxBytes` arrived or the client went away: what was read is then gone,
   * so the plugin must answer locally. A body read this way is sent upstream as read (and can be
   * replayed on a retry), unless `setUpstreamBody` replaces it. A second reader gets the same
   * bytes. It turns a streamed request into a buffered one: only plugins that need the bytes
   * should call it.
   */
  readRequestBody(maxBytes: number): Promise<Buffer | null>;
  /** Replace the body sent upstream (after `readRequestBody`); Content-Length follows it. */
  setUpstreamBody(body: Buffer): void;
  /**
   * Replace the query string sent upstream (without `?`; '' sends none). Valid in `onRequest`
   * and `onUpstreamRequest`; `request.query` keeps what the client sent.
   */
  setUpstreamQuery(query: string): void;
  /**
   * Set (replace) a header on the response sent downstream; valid from `onRequest` (it then also
   * reaches a later local reply) through `onResponse`. A name that is not an RFC 9110 token is not
   * written at all (a response-ratelimiting limit named with a space, say), and the same holds
   * for addResponseHeader. Values are written as given: config refuses CR and LF in the values
   * it configures, and a plugin must not put them in one it computes.
   */
  setResponseHeader(name: string, value: string): void;
  /** Add one more value of a response header, keeping the others (Kong's add_header). */
  addResponseHeader(name: string, value: string): void;
  /** Drop a response header, the upstream's copies included (Kong's clear_header); onResponse. */
  removeResponseHeader(name: string): void;
  /**
   * The upstream response's header value (first one), from `onResponse` on; `undefined` when
   * absent or for a local reply. `name` must be lower-case. Plugin edits are not reflected.
   */
  responseHeader(name: string): string | undefined;
  /**
   * The upstream response's headers as received, flat `[name, value, ...]` with lower-case names
   * (duplicates kept); empty for a local reply. Allocates: for cache fills, not every request.
   */
  upstreamResponseHeaders(): string[];
  /**
   * From `onResponse`: see the response body as it streams (Pingora's response_body_filter).
   * `rewrites: true` means the filter may change the bytes, so the response goes out chunked
   * without the upstream's Content-Length. Costs nothing to routes whose plugins never call it.
   */
  filterResponseBody(filter: ResponseBodyFilter, rewrites: boolean): void;

  /** The authenticated (or anonymous) consumer, once an auth plugin has set one; else `null`. */
  readonly consumer: ConsumerConfig | null;
  /** Id of the credential that authenticated the consumer; `null` when anonymous or none. */
  readonly credentialId: string | null;
  /** True when the consumer was set as the configured `anonymous` fallback. */
  readonly anonymous: boolean;
  /**
   * Record who the request is from, as Kong's `kong.client.authenticate` does, and send Kong's
   * headers upstream: X-Consumer-ID, X-Consumer-Username, X-Consumer-Custom-ID (when set),
   * X-Credential-Identifier (when given), and X-Anonymous-Consumer: true for the anonymous
   * fallback. Client-sent copies of those headers are never forwarded.
   * `credentialIdentifier` is what identifies the credential to the upstream (the key-auth
   * credential's id, the basic-auth username, the JWT's key claim).
   */
  authenticate(consumer: ConsumerConfig, credentialId: string | null, credentialIdentifier: string | null, anonymous: boolean): void;

  /** The gateway's request id ('' when --request-id-header is off). */
  readonly requestId: string;
  /** W3C trace context of this hop (never null once a plugin runs). */
  readonly trace: TraceContext | null;
  /**
   * Timings on the performance.now() clock (epoch ms = performance.timeOrigin + t); 0 when the
   * request never got there. `finishedAt` is set before onLog.
   */
  readonly startedAt: number;
  readonly upstreamStartedAt: number;
  readonly upstreamHeadersAt: number;
  readonly finishedAt: number;
  /**
   * For counting in onLog without building the log record: bytes received from the client (head
   * and body), body bytes sent to it, the status it got (499 when it went away first), and who
   * made the response, as Kong's `kong.response.get_source()`: 'service' (the upstream), 'error'
   * (the gateway failed, e.g. 502) or 'exit' (a local reply such as a plugin's 401).
   */
  readonly requestSize: number;
  readonly responseSize: number;
  readonly finalStatus: number;
  readonly responseSource: 'service' | 'error' | 'exit';
  /**
   * Kong's log serializer (`kong.log.serialize()`), secrets redacted. Meant for onLog. Built once
   * per request and shared by all log plugins: treat it as read-only.
   */
  serializeLog(): LogRecord;
}

/**
 * A per-request response body filter, registered from `onResponse`. Synchronous. Filters run in
 * registration order, each seeing what the previous one returned.
 */
export interface ResponseBodyFilter {
  /** One upstream chunk (only valid during the call: copy to keep). Returns what to send on; null sends nothing now. */
  onChunk(chunk: Buffer): Buffer | null;
  /** The upstream body ended. Returns the last bytes to send, or null. Not called on abort or error. */
  onEnd(): Buffer | null;
}

/** What a plugin instance may use besides its own config: built once per snapshot. */
export interface PluginEnv {
  readonly consumers: ConsumerDirectory;
  /** The node's --trusted-ips (addresses or CIDRs, as given): whose X-Forwarded-For to believe. */
  readonly trustedIps: readonly string[];
  /** The plugin entry's id (given to `create` only): names per-entry state such as log queues. */
  readonly pluginId?: string;
  /**
   * This worker's shared resources by key (plugins/resources.ts): the --jwt-verify offload pool
   * (JWS_VERIFIER), the node-wide rate-limit table (RATE_LIMIT_RUNTIME), ... Absent outside a data
   * plane (a config check, a unit test): each plugin then uses its own default.
   */
  readonly resources?: WorkerResources;
  /**
   * Compiled for a check (`floodgate check`, the primary's check before a reload): validate
   * everything `create` can refuse, but open no socket, create no queue, start no timer.
   */
  readonly checkOnly?: boolean;
  /** The whole normalized config, for plugins that label by entity names (prometheus). */
  readonly config?: NormalizedConfig;
}

export interface PluginInstance {
  /** After the route match: auth, rate limit, validation. May return a promise (async work). */
  onRequest?(ctx: PluginContext): Verdict | Promise<Verdict>;
  /** After the target is picked: rewrite headers. Synchronous. */
  onUpstreamRequest?(ctx: PluginContext): void;
  /** Upstream response head has arrived. Synchronous. */
  onResponse?(ctx: PluginContext): void;
  /** After the end, an abort or an error. Synchronous; defer heavy work. */
  onLog?(ctx: PluginContext): void;
  /**
   * The instance's snapshot retired (a newer config took over and its last request finished) or
   * the worker drained: release timers and handles it owns. Called once; a throw is logged.
   */
  close?(): void;
}

/**
 * What `create` returns in a check (PluginEnv.checkOnly) once the config is validated, for a
 * plugin whose real instance would acquire something (a log queue, a socket): it never runs.
 */
export const CHECKED_ONLY: PluginInstance = Object.freeze({});

export interface PluginDefinition<Conf = Record<string, unknown>> {
  readonly name: string;
  /** Higher runs first, as in Kong. */
  readonly priority: number;
  readonly version: string;
  /** JSON schema of the plugin's `config` object; unknown fields are errors, defaults are applied. */
  readonly configSchema: TSchema;
  /**
   * The plugin reads `ctx.trace` (a span exporter): routes carrying it get a W3C trace context
   * even with `--trace-context off`.
   */
  readonly needsTraceContext?: boolean;
  /**
   * The plugin may call `ctx.authenticate` in `onRequest` (an auth plugin). Consumer-scoped plugins
   * take over from such a plugin's position in the chain (proxy/snapshot.ts, Kong's iterator).
   */
  readonly authenticates?: boolean;
  /**
   * Optional cross-field check of a schema-valid config at load time: the problem's path is
   * relative to `config`. `null` = fine.
   */
  checkConfig?(conf: Conf): { path: string[]; message: string } | null;
  /**
   * Called once per worker per snapshot with the validated config. Must not throw for valid config.
   * `entry` is the plugin entry itself (id and scope), for state that must outlive a snapshot.
   */
  create(conf: Conf, env: PluginEnv, entry?: PluginConfig): PluginInstance;
}
