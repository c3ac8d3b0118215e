/**
 * The worker's compiled, immutable view of one config version. Built once per reload from the
 * primary's normalized config; every request holds the snapshot it started with until it ends, so
 * a reload only changes what new requests get.
 *
 * Everything a request needs is resolved here: the router, each route's service and balancer,
 * and each route's plugin phase arrays (or `null` when a phase has no plugin, so the hot path
 * skips it with one comparison, as Fastify does with its hooks), with the per-consumer chains
 * that consumer-scoped plugins need (plugin-chains.ts).
 */
import { isIP } from 'node:net';
import type { NormalizedConfig, PluginConfig, RouteConfig, ServiceConfig, UpstreamConfig } from '../config/types';
import type { PluginEnv, PluginInstance } from '../plugins/api';
import type { RouteCell } from '../metrics/route-cell';
import type { WorkerResources } from '../plugins/resources';
import { defaultSettings } from '../settings';
import { ConsumerDirectory } from '../plugins/consumer-directory';
import { getPluginDefinition } from '../plugins/registry';
import { Redaction } from '../logging/redaction';
import { compileRouter } from '../router/router';
import type { Router } from '../router/types';
import type { Balancer } from '../balancer/balancer';
import { CircuitBreaker } from '../balancer/circuit-breaker';
import { ConsistentHashingBalancer } from '../balancer/consistent-hashing';
import { CheckThresholds } from '../balancer/health-state';
import { LatencyBalancer } from '../balancer/latency';
import { LeastConnectionsBalancer } from '../balancer/least-connections';
import { RetryBudget } from '../balancer/retry-budget';
import { RoundRobinBalancer } from '../balancer/round-robin';
import { SharedBalancerState } from '../balancer/shared-state';
import { standaloneTopology, type Topology } from '../balancer/topology';
import { ChainBuilder, consumerScopedEntries, resolveWithoutConsumer, type ConsumerChains, type PluginChain, type Scheme } from './plugin-chains';
import { UpstreamEngine } from '../upstream/engine';
import type { UpstreamPool } from '../upstream/pool';

/** Node-wide balancer state and the primary's resolved topology (cluster/messages.ts). */
export interface Balancing {
  readonly shared: SharedBalancerState;
  readonly topology: Topology;
}

export interface UpstreamTarget {
  /** Position in its balancer. */
  readonly index: number;
  readonly weight: number;
  /** Node-wide state slot (balancer/shared-state.ts); -1 when untracked. */
  readonly slot: number;
  readonly pool: UpstreamPool;
  readonly poolKey: string;
  /** `host:port`, for logs and errors. */
  readonly address: string;
  /** What the upstream gets as `Host` unless the route preserves the client's. */
  readonly hostHeader: string;
}

/** Backoff defaults for a service without an upstream (no budget, no breaker). */
const PLAIN_BACKOFF = { backoffBaseMs: 25, backoffMaxMs: 250 };

export class CompiledService {
  readonly config: ServiceConfig;
  readonly balancer: Balancer<UpstreamTarget>;
  /** Null for a service without an upstream. */
  readonly breaker: CircuitBreaker | null;
  readonly budget: RetryBudget | null;
  /** Passive health thresholds; null when passive checks are off (every counter 0). */
  readonly passive: CheckThresholds | null;
  /** Whether the balancer wants response times (latency). */
  readonly observesLatency: boolean;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;

  constructor(
    config: ServiceConfig,
    balancer: Balancer<UpstreamTarget>,
    breaker: CircuitBreaker | null = null,
    budget: RetryBudget | null = null,
    passive: CheckThresholds | null = null,
    backoff: { readonly backoffBaseMs: number; readonly backoffMaxMs: number } = PLAIN_BACKOFF,
  ) {
    this.config = config;
    this.balancer = balancer;
    this.breaker = breaker;
    this.budget = budget;
    this.passive = passive;
    this.observesLatency = balancer instanceof LatencyBalancer;
    this.backoffBaseMs = backoff.backoffBaseMs;
    this.backoffMaxMs = backoff.backoffMaxMs;
  }
}

/** A route's chains for one scheme: without a consumer, and per authenticated consumer. */
export interface RouteChains {
  readonly chain: PluginChain;
  readonly consumerChains: ReadonlyMap<string, ConsumerChains> | null;
  readonly needsTrace: boolean;
}

function compileRouteChains(
  builder: ChainBuilder,
  r: RouteConfig,
  plugins: readonly PluginConfig[],
  scheme: Scheme,
  byConsumer: ReadonlyMap<string, readonly PluginConfig[]>,
): RouteChains {
  const base = resolveWithoutConsumer(r, plugins, scheme);
  const baseEntries = [...base.values()].map((c) => c.plugin);
  const consumerChains = builder.consumerChains(r, base, byConsumer);
  let needsTrace = baseEntries.some(needsTraceContext);
  if (!needsTrace && consumerChains !== null) {
    for (const id of consumerChains.keys()) if (byConsumer.get(id)!.some(needsTraceContext)) needsTrace = true;
  }
  return { chain: builder.chain(baseEntries), consumerChains, needsTrace };
}

export class CompiledRoute {
  readonly config: RouteConfig;
  readonly service: CompiledService | null;
  /** The plugins of a request without a consumer (plugin-chains.ts). */
  readonly chain: PluginChain;
  /**
   * Consumer id -> the chains to switch to once an auth plugin authenticates that consumer;
   * `null` when no consumer-scoped plugin can apply here, so authentication skips it with one
   * comparison.
   */
  readonly consumerChains: ReadonlyMap<string, ConsumerChains> | null;
  /** The same for requests on the TLS listener (entries whose `protocols` name https). */
  readonly https: RouteChains;
  /** The consumer-less chain's phases (aliases of `chain`'s). */
  readonly onRequest: readonly PluginInstance[] | null;
  readonly onUpstreamRequest: readonly PluginInstance[] | null;
  readonly onResponse: readonly PluginInstance[] | null;
  readonly onLog: readonly PluginInstance[] | null;
  /** This route's metrics cell, set by WorkerMetrics.attach; `null` with --metrics off. */
  metrics: RouteCell | null = null;
  /** A plugin on this route exports spans: it gets a trace context even with --trace-context off. */
  readonly needsTraceContext: boolean;
  /** Kong: a route whose protocols are only grpc/grpcs matches gRPC requests only (src/grpc/). */
  readonly grpcOnly: boolean;

  constructor(
    config: RouteConfig,
    service: CompiledService | null,
    chain: PluginChain,
    needsTraceContext = false,
    consumerChains: ReadonlyMap<string, ConsumerChains> | null = null,
    https: RouteChains = { chain, consumerChains, needsTrace: needsTraceContext },
  ) {
    this.config = config;
    this.service = service;
    this.needsTraceContext = needsTraceContext;
    this.grpcOnly = config.protocols.length > 0 && config.protocols.every((p) => p === 'grpc' || p === 'grpcs');
    this.chain = chain;
    this.consumerChains = consumerChains;
    this.https = https;
    this.onRequest = chain.onRequest;
    this.onUpstreamRequest = chain.onUpstreamRequest;
    this.onResponse = chain.onResponse;
    this.onLog = chain.onLog;
  }
}

export class Snapshot {
  readonly version: number;
  readonly router: Router;
  /** Indexed by RouteConfig.order, so a router hit resolves to its compiled route without a lookup. */
  readonly routesByOrder: readonly CompiledRoute[];
  readonly poolKeys: ReadonlySet<string>;
  /** Which header and query names the logs must never show (logging/redaction.ts). */
  readonly redaction: Redaction;
  /** Every plugin instance of this snapshot, closed once when it retires (PluginInstance.close). */
  readonly plugins: readonly PluginInstance[];
  /** Requests started on this snapshot and not finished yet (server.ts counts them). */
  inFlight = 0;
  /** A newer snapshot took over: close the plugins when the last request on this one ends. */
  #retired = false;
  #closed = false;

  constructor(version: number, router: Router, routesByOrder: readonly CompiledRoute[], poolKeys: ReadonlySet<string>, redaction: Redaction, plugins: readonly PluginInstance[] = []) {
    this.version = version;
    this.router = router;
    this.routesByOrder = routesByOrder;
    this.poolKeys = poolKeys;
    this.redaction = redaction;
    this.plugins = plugins;
  }

  /** Swapped out: its plugins close now, or when its last request in flight finishes. */
  retire(onError: (err: unknown) => void): void {
    this.#retired = true;
    if (this.inFlight === 0) this.closePlugins(onError);
  }

  /** One request on it finished (after its log phase). */
  requestEnded(onError: (err: unknown) => void): void {
    if (--this.inFlight === 0 && this.#retired) this.closePlugins(onError);
  }

  /** Close every plugin instance once (retirement, or the worker's drain). */
  closePlugins(onError: (err: unknown) => void): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.plugins) {
      if (typeof p.close !== 'function') continue;
      try {
        p.close();
      } catch (err) {
        onError(err);
      }
    }
  }
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function hostHeaderFor(host: string, port: number, protocol: string): string {
  const defaultPort = protocol === 'https' ? 443 : 80;
  return port === defaultPort ? formatHost(host) : `${formatHost(host)}:${port}`;
}

function compileService(
  service: ServiceConfig,
  upstreams: ReadonlyMap<string, UpstreamConfig>,
  engine: UpstreamEngine,
  poolKeys: Set<string>,
  balancing: Balancing,
): CompiledService {
  const upstreamConfig = service.upstream === null ? undefined : upstreams.get(service.upstream);
  const breakers = upstreamConfig?.circuitBreakers;
  const makeTarget = (index: number, address: string, host: string, port: number, weight: number, slot: number): UpstreamTarget => {
    const spec = {
      secure: service.protocol === 'https',
      host: address,
      port,
      // SNI names the target, never an address (RFC 6066 §3).
      servername: isIP(host) === 0 ? host : '',
      tlsVerify: service.tlsVerify,
      connectTimeoutMs: service.connectTimeout,
      maxConnections: breakers?.maxConnections ?? 0,
      maxPending: breakers?.maxPendingRequests ?? -1,
    };
    const poolKey = UpstreamEngine.key(spec);
    poolKeys.add(poolKey);
    return {
      index,
      weight,
      slot,
      pool: engine.get(spec),
      poolKey,
      address: `${formatHost(address)}:${port}`,
      hostHeader: hostHeaderFor(host, port, service.protocol),
    };
  };
  const { shared, topology } = balancing;
  const upstream = upstreamConfig;
  const topo = upstream === undefined ? undefined : topology[upstream.name];
  if (upstream === undefined || topo === undefined) {
    return new CompiledService(service, new RoundRobinBalancer([makeTarget(0, service.host, service.host, service.port, 1, -1)], shared));
  }
  // A target whose name did not resolve stays listed (for the admin API) with weight 0 here.
  const targets = topo.targets.map((t, i) => makeTarget(i, t.address, t.host, t.port, t.dnsError ? 0 : t.weight, t.slot));
  const threshold = upstream.healthchecks.threshold;
  const maxEject = upstream.outlierDetection.maxEjectionPercent;
  let balancer: Balancer<UpstreamTarget>;
  switch (upstream.algorithm) {
    case 'least-connections':
      balancer = new LeastConnectionsBalancer(targets, shared, threshold, maxEject);
      break;
    case 'latency':
      balancer = new LatencyBalancer(targets, shared, threshold, maxEject);
      break;
    case 'consistent-hashing':
      balancer = new ConsistentHashingBalancer(
        targets,
        topo.targets.map((t) => `${t.target}@${t.address}`),
        shared,
        upstream,
        threshold,
        maxEject,
      );
      break;
    default:
      balancer = new RoundRobinBalancer(targets, shared, threshold, maxEject);
  }
  const passive = CheckThresholds.passive(upstream.healthchecks);
  const tracked = topo.slot >= 0;
  return new CompiledService(
    service,
    balancer,
    tracked ? new CircuitBreaker(shared, topo.slot, upstream) : null,
    tracked ? new RetryBudget(shared, topo.slot, upstream.retryBudget) : null,
    passive.enabled ? passive : null,
    upstream.retryBudget,
  );
}

function needsTraceContext(p: PluginConfig): boolean {
  return getPluginDefinition(p.name)?.needsTraceContext === true;
}

/**
 * THE compile function: config -> snapshot, used by the workers, by the primary's check before it
 * broadcasts a config, and by `floodgate check` (compileCheck below), so a config that passes the
 * check cannot fail in a worker. With `checkOnly` plugins validate without acquiring anything
 * (PluginEnv.checkOnly: no socket, no queue, no timer) and the engine is a throwaway one that
 * never dispatches, so no pool ever connects.
 */
export function compileSnapshot(
  config: NormalizedConfig,
  version: number,
  engine: UpstreamEngine,
  trustedIps: readonly string[] = [],
  resources?: WorkerResources,
  balancing: Balancing = { shared: new SharedBalancerState(), topology: standaloneTopology(config) },
  checkOnly = false,
): Snapshot {
  const poolKeys = new Set<string>();
  const upstreams = new Map(config.upstreams.map((u) => [u.name, u]));
  const services = new Map<string, CompiledService>();
  for (const s of config.services) services.set(s.id, compileService(s, upstreams, engine, poolKeys, balancing));

  const env: PluginEnv = { consumers: new ConsumerDirectory(config), trustedIps, resources, checkOnly, config };
  // One instance per plugin entry per snapshot, shared by every route and chain it is part of.
  const instances = new Map<string, PluginInstance>();
  const instanceFor = (p: PluginConfig): PluginInstance => {
    let instance = instances.get(p.id);
    if (instance === undefined) {
      const def = getPluginDefinition(p.name);
      if (def === undefined) throw new Error(`unknown plugin "${p.name}" reached a worker`);
      instance = def.create(p.config, { ...env, pluginId: p.id }, p) as PluginInstance;
      instances.set(p.id, instance);
    }
    return instance;
  };
  const builder = new ChainBuilder(instanceFor);
  // Kong's plugin `protocols`: one chain family per listener scheme. Identical chains are shared,
  // so a config that never restricts protocols compiles each chain once.
  const byConsumer = consumerScopedEntries(config.plugins, 'http');
  const byConsumerHttps = consumerScopedEntries(config.plugins, 'https');

  const routesByOrder: CompiledRoute[] = [];
  for (const r of config.routes) {
    const http = compileRouteChains(builder, r, config.plugins, 'http', byConsumer);
    const https = compileRouteChains(builder, r, config.plugins, 'https', byConsumerHttps);
    const service = r.service === null ? null : (services.get(r.service) ?? null);
    routesByOrder[r.order] = new CompiledRoute(r, service, http.chain, http.needsTrace || https.needsTrace, http.consumerChains, https);
  }
  return new Snapshot(version, compileRouter(config.routes), routesByOrder, poolKeys, Redaction.fromConfig(config), [...instances.values()]);
}

/**
 * `floodgate check` and the primary's check: the same compile as a worker's, in check mode.
 * `null` when the config compiles; otherwise what failed (the router, or which plugin entry).
 */
export function compileCheck(config: NormalizedConfig, trustedIps: readonly string[] = []): string | null {
  try {
    compileRouter(config.routes);
  } catch (err) {
    return `router: ${err instanceof Error ? err.message : String(err)}`;
  }
  // Each entry alone first, so the message names the entry that failed.
  const env: PluginEnv = { consumers: new ConsumerDirectory(config), trustedIps, checkOnly: true, config };
  for (const p of config.plugins) {
    try {
      getPluginDefinition(p.name)!.create(p.config, { ...env, pluginId: p.id }, p);
    } catch (err) {
      return `plugin "${p.name}" (${p.id}): ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  try {
    compileSnapshot(config, 0, new UpstreamEngine(defaultSettings), trustedIps, undefined, undefined, true);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return null;
}
