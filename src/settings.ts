/**
 * Node-level settings: what kong.conf holds for Kong (listeners, limits, workers), as opposed to the
 * declarative file (services, routes, plugins), which can be reloaded. These are fixed for the
 * life of the process and come from CLI flags.
 */
import type { JwtVerifyMode } from './offload/modes';
import type { CpuAffinitySetting } from './util/cpu-affinity';

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
  /** 'off', 'stdout', or a file path. */
  readonly accessLog: string;
  readonly logLevel: string;
  /**
   * Lets tests crash a worker on purpose (header `x-floodgate-fault: crash-worker`). Off unless
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
   * --dns-resolver HOST:PORT: the DNS server the primary asks for upstream target names (A, then
   * AAAA, honouring TTLs); null = the system's resolv.conf servers. Names it cannot answer fall
   * back to the system lookup (/etc/hosts). See balancer/dns-resolver.ts.
   */
  readonly dnsResolver?: string | null;
}

export const defaultSettings: NodeSettings = {
  listenHost: '0.0.0.0',
  listenPort: 8000,
  workers: 0,
  drainTimeoutMs: 30_000,
  maxHeaderBytes: 32 * 1024,
  maxBodyBytes: 0,
  upstreamConnections: 0,
  upstreamKeepAliveMs: 60_000,
  accessLog: 'stdout',
  logLevel: 'info',
  faultInjection: false,
  trustedIps: [],
  cpuAffinity: { mode: 'off' },
  jwtVerify: 'inline',
};
