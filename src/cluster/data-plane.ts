/**
 * One data plane: the compiled snapshot, the uWS listener and the upstream engine, driven by the
 * primary's messages. It runs in a worker thread (worker.ts) or, with `--workers 0`, on the main
 * thread (inline-worker.ts), which is what profilers see best.
 */
import type { Logger } from 'pino';
import { createJwsVerifier, JWS_VERIFIER, type JwsVerifier } from '../offload/jws-verifier';
import { WorkerResources } from '../plugins/resources';
import { emptySnapshot, WorkerMetrics } from '../metrics/worker-metrics';
import { registerWorkerCollectors } from '../metrics/node-collectors';
import { ProxyServer } from '../proxy/server';
import { compileSnapshot } from '../proxy/snapshot';
import { UpstreamEngine } from '../upstream/engine';
import { pinWorkerThread } from '../util/cpu-affinity';
import { accessLogger } from '../util/logger';
import { flushLogSinks, reopenLogFiles } from '../logging/sinks';
import { SharedBalancerState } from '../balancer/shared-state';
import type { NormalizedConfig } from '../config/types';
import type { Topology } from '../balancer/topology';
import type { PrimaryToWorker, WorkerBootData, WorkerToPrimary } from './messages';
import { RATE_LIMIT_RUNTIME, rateLimitRuntime, type RateLimitRuntime } from '../ratelimit/runtime';
import { closeRedisStores } from '../ratelimit/redis-store';
import { flushSyncedBudgets } from '../ratelimit/redis-sync';
import { certificateSet, type CertificateSet } from '../tls/certificate-set';
import { TlsListener } from '../tls/listener';
import { H2Edge } from '../h2/edge';
import type { WebSocketBehavior } from 'uWebSockets.js';
import { registerWebSocketCollector } from '../websocket/stats';
import { clientCaCertificates, readDefaultCertificate } from '../tls/settings';
import { DEFAULT_MEM_CACHE_BYTES, setMemCacheSize } from '../plugins/proxy-cache/store';

/**
 * On the v20.30 fallback (no App.close()), uWS closes idle HTTP connections only after its 10 s
 * idle timeout; a retiring worker waits a little longer than that before it ends.
 */
const RETIRE_QUIET_MS = 12_000;

export class DataPlane {
  readonly #boot: WorkerBootData;
  readonly #send: (msg: WorkerToPrimary) => void;
  readonly #logger: Logger;
  readonly #pools: UpstreamEngine;
  /** --jwt-verify: its piscina pool (if any) starts on first use and closes after the drain. */
  readonly #jwtVerify: JwsVerifier;
  /** The node-wide rate-limit table (the primary's SharedArrayBuffer), the clock, the logger. */
  readonly #rateLimit: RateLimitRuntime;
  /** What this worker shares with its plugins (plugins/resources.ts), registered once. */
  readonly #resources: WorkerResources;
  #server: ProxyServer | null = null;
  /** The HTTP/2 front on the TLS port (src/h2/), when this worker runs one. */
  #edge: H2Edge | null = null;
  /** Client certificates on: the front was started (or found its port held), so reloads only update it. */
  #tlsStarted = false;
  /** Route cells outlive snapshots (a reload keeps unchanged routes' counts); null = --metrics off. */
  readonly #metrics: WorkerMetrics | null;
  readonly #shared: SharedBalancerState;
  /** The config and version being served, recompiled when only the topology changes. */
  #config: NormalizedConfig;
  #version: number;

  constructor(boot: WorkerBootData, send: (msg: WorkerToPrimary) => void, logger: Logger) {
    this.#boot = boot;
    this.#send = send;
    this.#logger = logger;
    this.#pools = new UpstreamEngine(boot.settings);
    if (this.#pools.kernelFallbackReason !== '') logger.warn(this.#pools.kernelFallbackReason);
    this.#jwtVerify = createJwsVerifier(boot.settings.jwtVerify ?? 'inline');
    this.#metrics = boot.settings.metrics === false ? null : new WorkerMetrics(boot.settings.metricsConsumerLabels === true, logger);
    registerWorkerCollectors();
    registerWebSocketCollector();
    this.#rateLimit = rateLimitRuntime(boot.rateLimitMemory, logger);
    this.#resources = new WorkerResources().set(JWS_VERIFIER, this.#jwtVerify).set(RATE_LIMIT_RUNTIME, this.#rateLimit);
    setMemCacheSize(boot.settings.memCacheSize ?? DEFAULT_MEM_CACHE_BYTES);
    this.#shared = new SharedBalancerState(boot.balancerState);
    this.#config = boot.config;
    this.#version = boot.configVersion;
  }

  get listening(): boolean {
    return this.#server !== null;
  }

  async start(): Promise<void> {
    const boot = this.#boot;
    // Pin first, so the uWS loop, the snapshot and the pools are set up on the worker's own CPU.
    if (boot.settings.cpuAffinity.mode !== 'off') pinWorkerThread(boot.settings.cpuAffinity, boot.workerId, this.#logger);
    const snapshot = this.#compile(boot.config, boot.configVersion, boot.topology);
    const server = new ProxyServer(boot.settings, this.#logger, accessLogger(boot.settings.accessLog, { role: 'access' }, boot.settings.accessLogSample ?? 1), snapshot, boot.workerId);
    this.#metrics?.attach(snapshot);
    server.metrics = this.#metrics;
    await server.listen();
    try {
      await this.#applyTls(server, boot.config);
    } catch (err) {
      // The plain listener is up already: a thread that ends holding a uWS socket aborts the
      // process, so close it first (App.close on v20.57, the listen socket on v20.30).
      if (!server.closeConnections()) void server.drain(0);
      throw err;
    }
    this.#server = server;
    this.#send({ type: 'listening', workerId: boot.workerId });
  }

  /**
   * Start the HTTPS listener once there is a certificate (at start or after a reload), or hand it
   * the config's certificates. The primary has checked them (tls/settings.ts#tlsConfigProblem).
   */
  async #applyTls(server: ProxyServer, config: NormalizedConfig): Promise<void> {
    const tls = this.#boot.settings.tls;
    if (tls === undefined || tls.mode === 'off' || server.draining) return;
    const set = certificateSet(config, readDefaultCertificate(tls));
    if (set.fallback === null) return; // auto mode and no certificate yet
    const http2 = this.#boot.settings.http2 !== false;
    const clientVerify = tls.clientVerify ?? 'off';
    if (clientVerify !== 'off') return this.#applyClientAuthTls(server, config, set, clientVerify, http2);
    // HTTP/2 (src/h2/edge.ts): uWS terminates HTTPS/1.1 on a loopback port behind the front.
    if (server.tls === null) {
      const listener = new TlsListener(http2 ? '127.0.0.1' : tls.host, http2 ? 0 : tls.port, server.handleSecure, this.#logger, server.wsBehaviorSecure as WebSocketBehavior<unknown>, server.connectionFilter, this.#boot.settings.clientIdleTimeoutS ?? 0);
      await listener.start(set);
      server.tls = listener;
      let edge: H2Edge | null = null;
      if (http2) {
        edge = await H2Edge.start(server, listener, tls.host, tls.port, set, this.#logger);
        this.#edge = edge;
        if (edge === null) this.#logger.warn({ tls: `${tls.host}:${tls.port}` }, 'TLS port held by another worker\'s HTTP/2 front; this worker serves plain HTTP only');
      }
      this.#logger.info({ tls: `${tls.host}:${tls.port}`, http2, certificates: set.certificates.length, seamlessSwaps: listener.seamless }, 'HTTPS listener on');
      return;
    }
    this.#edge?.update(set);
    const result = await server.tls.update(set);
    if (result !== 'unchanged') this.#logger.info({ result }, 'TLS certificates applied');
  }

  /**
   * Client certificates (--tls-client-verify): node terminates TLS on the front for every
   * connection (h2/terminator.ts), with the config's ca_certificates and --tls-client-ca; no uWS
   * HTTPS listener. A reload hands the front the new certificates and CAs.
   */
  async #applyClientAuthTls(server: ProxyServer, config: NormalizedConfig, set: CertificateSet, verify: 'optional' | 'required', http2: boolean): Promise<void> {
    const tls = this.#boot.settings.tls!;
    const cas = clientCaCertificates(config, tls);
    if (this.#tlsStarted) {
      this.#edge?.update(set, cas);
      return;
    }
    this.#tlsStarted = true;
    const edge = await H2Edge.startTerminating(server, tls.host, tls.port, set, cas, { verify, forward: tls.clientXfcc !== false, http2 }, this.#logger);
    this.#edge = edge;
    if (edge === null) {
      this.#logger.warn({ tls: `${tls.host}:${tls.port}` }, 'TLS port held by another worker\'s front; this worker serves plain HTTP only');
      return;
    }
    this.#logger.info({ tls: `${tls.host}:${tls.port}`, http2, certificates: set.certificates.length, clientVerify: verify, clientCas: cas.length }, 'HTTPS listener on');
  }

  /** One snapshot of `config` with this worker's pools, offload, rate-limit table and balancer state. */
  #compile(config: NormalizedConfig, version: number, topology: Topology) {
    const settings = this.#boot.settings;
    return compileSnapshot(config, version, this.#pools, settings.trustedIps, this.#resources, { shared: this.#shared, topology });
  }

  handle(msg: PrimaryToWorker): void {
    const server = this.#server;
    if (server === null) return;
    const workerId = this.#boot.workerId;
    switch (msg.type) {
      case 'config':
        try {
          const snapshot = this.#compile(msg.config, msg.version, msg.topology);
          this.#metrics?.attach(snapshot);
          server.swap(snapshot);
          this.#config = msg.config;
          this.#version = msg.version;
          this.#pools.retainOnly(snapshot.poolKeys);
          // Acked once the certificates are live too, so "applied" means the whole config.
          void this.#applyTls(server, msg.config)
            .catch((err) => this.#logger.error({ err, version: msg.version }, 'TLS listener not updated; the previous certificates keep serving'))
            .finally(() => this.#send({ type: 'config-applied', workerId, version: msg.version }));
        } catch (err) {
          // The primary compiled this config already, so this is a bug; keep serving the old one.
          this.#logger.error({ err, version: msg.version }, 'failed to apply config; keeping the previous one');
          this.#send({ type: 'config-failed', workerId, version: msg.version, error: String(err) });
        }
        break;
      case 'metrics-request': {
        const snapshot = this.#metrics === null
          ? emptySnapshot(workerId, server.inFlight, server.snapshot.version, this.#logger)
          : this.#metrics.snapshot(workerId, server.inFlight, server.snapshot.version);
        this.#send({ type: 'metrics', workerId, id: msg.id, snapshot });
        break;
      }
      case 'reopen-logs':
        server.reopenLogs();
        reopenLogFiles();
        this.#logger.info({ worker: workerId }, 'log files reopened');
        break;
      case 'topology':
        try {
          const snapshot = this.#compile(this.#config, this.#version, msg.topology);
          this.#metrics?.attach(snapshot);
          server.swap(snapshot);
          this.#pools.retainOnly(snapshot.poolKeys);
        } catch (err) {
          this.#logger.error({ err }, 'failed to apply new target addresses; keeping the previous ones');
        }
        break;
      case 'drain':
        void server.drain(msg.deadlineMs).then(async (clean) => {
          server.closePlugins();
          server.closeLogs();
          // Entries queued by http-log, file-log and opentelemetry get one last chance to go out.
          await flushLogSinks(2_000);
          await this.#closeJwtVerify();
          // Counts admitted locally under sync_rate reach redis before the connection closes.
          await Promise.race([flushSyncedBudgets(), new Promise((r) => setTimeout(r, 1000))]);
          closeRedisStores();
          // v20.57: close the idle keep-alive connections too, so the thread can end normally.
          const closed = server.closeConnections();
          this.#send({ type: 'drained', workerId, clean, inFlight: server.inFlight, closed });
        });
        break;
    }
  }

  /**
   * After an uncaught error: stop accepting, finish what is in flight (up to --drain-timeout), then
   * close every connection with App.close() and resolve, so the thread can end. On the v20.30
   * fallback there is no App.close(): wait instead until no request has arrived for longer than
   * uWS's idle timeout, i.e. until uWS has closed every connection itself.
   */
  async retire(): Promise<void> {
    const server = this.#server;
    if (server !== null) {
      server.lastRequestAt = Date.now();
      // drain() closes the listen socket at once; the kernel sends new connections elsewhere.
      const drained = server.drain(server.closeConnectionsAvailable ? this.#boot.settings.drainTimeoutMs : Infinity);
      this.#logger.info({ worker: this.#boot.workerId, inFlight: server.inFlight }, 'retiring worker stopped accepting');
      if (server.closeConnectionsAvailable) {
        await drained;
        server.closeConnections();
      } else {
        await drained;
        while (server.inFlight > 0 || Date.now() - server.lastRequestAt < RETIRE_QUIET_MS) {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      server.closePlugins();
      server.closeLogs();
      // It leaves at once now (App.close()): hand over what it counted since the last scrape.
      if (this.#metrics !== null) {
        this.#send({ type: 'final-metrics', workerId: this.#boot.workerId, snapshot: this.#metrics.snapshot(this.#boot.workerId, server.inFlight, server.snapshot.version) });
      }
    }
    await this.#closeJwtVerify();
    await Promise.race([this.#pools.closeAll(), new Promise((r) => setTimeout(r, 1000))]);
  }

  /** End the offload pool, if one was started; never blocks shutdown for long. */
  async #closeJwtVerify(): Promise<void> {
    try {
      await Promise.race([this.#jwtVerify.close(), new Promise((r) => setTimeout(r, 1000))]);
    } catch (err) {
      this.#logger.warn({ err }, 'closing the jwt offload pool failed');
    }
  }
}
