/**
 * Node-level settings: what kong.conf holds for Kong (listeners, limits, workers), as opposed to the
 * declarative file (services, routes, plugins), which can be reloaded. These are fixed for the
 * life of the process and come from CLI flags.
 */
import type { JwtVerifyMode } from './offload/modes';
import type { CpuAffinitySetting } from './util/cpu-affinity';
import { defaultTlsSettings, type TlsSettings } from './tls/settings';
import { defaultWebSocketSettings, type WebSocketSettings } from './websocket/bridge';

export interface NodeSettings {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly workers: number;
  /** How long SIGTERM waits for in-flight requests before exiting anyway. */
  readonly drainTimeoutMs: number;
  /** Request line + headers above this get 431. */
  readonly maxHeaderBytes: number;
  /** Request bodies above this get 413; 0 = unlimited (Kong's client_max_body_size 0). */
  readonly maxBodyBytes: number;
  /** Connections per upstream target per worker; 0 = unlimited (as NGINX opens what it needs). */
  readonly upstreamConnections: number;
  /** Idle keep-alive time for upstream connections. */
  readonly upstreamKeepAliveMs: number;
  /**
   * --upstream-keepalive-requests: requests one upstream connection carries before it is closed
   * (NGINX's keepalive_requests); 0 = unlimited.
   */
  readonly upstreamKeepAliveRequests: number;
  /** --upstream-max-header-bytes: largest upstream response head; a larger one is a 502. */
  readonly upstreamMaxHeadBytes: number;
  /**
   * --upstream-engine js|native: which upstream HTTP/1.1 engine proxies requests (src/upstream/).
   * `native` parses upstream responses with the addon's C kernel (native/src/response_parser.c)
   * and does plain-TCP socket I/O in the addon (native/src/tcp_transport.c), falling back to
   * `js` (with a warning) when the addon is not built.
   */
  readonly upstreamEngine: UpstreamEngineKind;
  /** 'off', 'stdout', or a file path. */
  readonly accessLog: string;
  /**
   * --access-log-sample: the share (0..1) of successful requests written to the access log.
   * Errors (status >= 400, aborts, gateway errors) are always written.
   */
  readonly accessLogSample: number;
  /**
   * --request-id-header: the header carrying the gateway's request id upstream and downstream
   * (lower-case); '' = off.
   */
  readonly requestIdHeader: string;
  /**
   * --trace-context on|off: propagate W3C trace context on every request, starting a trace when
   * the client sent none (on), or only on routes with a span-exporting plugin (off). Costs about
   * 5% of throughput on tiny responses (README, "W3C trace context").
   */
  readonly traceContext: boolean;
  readonly logLevel: string;
  /**
   * Lets tests crash a worker on purpose (header `x-floodgate-fault: crash-worker`), or stall its
   * event loop for `x-floodgate-fault-ms` (`x-floodgate-fault: block-loop`, for --shed-lag-ms). Off unless
   * the FLOODGATE_FAULT_INJECTION=1 environment variable is set; never enable in production.
   */
  readonly faultInjection: boolean;
  /**
   * Kong's trusted_ips: peers (addresses or CIDRs) whose X-Forwarded-For is believed when a plugin
   * needs the real client address (ip-restriction). Empty: only the socket's peer counts.
   */
  readonly trustedIps: readonly string[];
  /**
   * --cpu-affinity, parsed: each worker pins its own thread at start (src/util/cpu-affinity.ts).
   * Plain data, because settings reach the workers through workerData (structured clone).
   */
  readonly cpuAffinity: CpuAffinitySetting;
  /**
   * --jwt-verify: where the jwt plugin checks signatures on a cache miss: on the worker thread
   * (inline), or on a per-worker piscina pool, one task each (pool) or in batches (batch).
   * Inline is the default: no offload mode beat it beyond the noise under proxy load, and pool
   * had the worst p99 (bench/offload/main.ts, bench/results/offload-*.md).
   */
  readonly jwtVerify: JwtVerifyMode;
  /**
   * --metrics on|off: per-route request counters and latency histograms (src/metrics/). Off only
   * to measure what they cost (bench/metrics/).
   */
  readonly metrics: boolean;
  /**
   * --metrics-consumer-labels: also count requests per consumer (a label on
   * floodgate_http_requests_total). Off by default: one series per consumer per route per code.
   */
  readonly metricsConsumerLabels: boolean;
  /**
   * --ratelimit-slots: capacity of the node-wide rate-limit table (64 bytes a slot, rounded up to
   * a power of two). It never grows; see src/ratelimit/shared-table.ts for what happens when full.
   */
  readonly rateLimitSlots: number;
  /** --mem-cache-size: bytes each proxy-cache memory dictionary may hold per worker (Kong's mem_cache_size). */
  readonly memCacheSize?: number;
  /**
   * --dns-resolver HOST:PORT: the DNS server the primary asks for upstream target names (A, then
   * AAAA, honouring TTLs); null = the system's resolv.conf servers. Names it cannot answer fall
   * back to the system lookup (/etc/hosts). See balancer/dns-resolver.ts.
   */
  readonly dnsResolver?: string | null;
  /** --listen-tls, --tls-cert, --tls-key: the HTTPS listener (src/tls/); absent = auto on 8443. */
  readonly tls?: TlsSettings;
  /** --http2: h2 by ALPN on the TLS port through the front in src/h2/ (absent = on). */
  readonly http2?: boolean;
  /** --ws-max-message-bytes, --ws-idle-timeout: proxied WebSockets (src/websocket/). */
  readonly websocket?: WebSocketSettings;
  // ---- Overload protection and slow clients (proxy/admission.ts, connection-limit.ts, body-rate.ts).
  // Optional so that settings built before these existed (tests, benches) mean "off".
  /** --max-connections: downstream connections per worker; past it 503 + close. 0 = unlimited. */
  readonly maxConnections?: number;
  /**
   * --client-idle-timeout: seconds a connection may go without a full request head (slowloris) or
   * idle between requests before uWS closes it; 0 = uWS's own 30 s.
   */
  readonly clientIdleTimeoutS?: number;
  /** --max-in-flight: requests in progress per worker; past it wait or 503. 0 = unlimited. */
  readonly maxInFlight?: number;
  /** --in-flight-queue: requests that may wait for an --max-in-flight slot; 0 = refuse at once. */
  readonly inFlightQueue?: number;
  /** --in-flight-queue-timeout: the longest such a wait lasts before the 503. */
  readonly inFlightQueueTimeoutMs?: number;
  /** --shed-lag-ms: refuse new requests while the worker's event loop is this late; 0 = off. */
  readonly shedLagMs?: number;
  /** --client-body-min-rate: request bodies slower than this (bytes/s) get 408; 0 = off. */
  readonly clientBodyMinRate?: number;
}

export type UpstreamEngineKind = 'js' | 'native';

export const defaultSettings: NodeSettings = {
  listenHost: '0.0.0.0',
  listenPort: 8000,
  workers: 0,
  drainTimeoutMs: 30_000,
  maxHeaderBytes: 32 * 1024,
  maxBodyBytes: 0,
  upstreamConnections: 0,
  upstreamKeepAliveMs: 60_000,
  upstreamKeepAliveRequests: 0,
  upstreamMaxHeadBytes: 32 * 1024,
  upstreamEngine: 'js',
  accessLog: 'stdout',
  accessLogSample: 1,
  requestIdHeader: 'x-floodgate-request-id',
  traceContext: true,
  logLevel: 'info',
  faultInjection: false,
  trustedIps: [],
  cpuAffinity: { mode: 'off' },
  jwtVerify: 'inline',
  metrics: true,
  metricsConsumerLabels: false,
  rateLimitSlots: 65_536,
  tls: defaultTlsSettings,
  websocket: defaultWebSocketSettings,
  memCacheSize: 128 * 1024 * 1024,
  maxConnections: 0,
  clientIdleTimeoutS: 0,
  maxInFlight: 0,
  inFlightQueue: 0,
  inFlightQueueTimeoutMs: 1000,
  shedLagMs: 0,
  clientBodyMinRate: 0,
};
