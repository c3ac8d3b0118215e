/**
 * The primary thread: cold code only. It owns the config (load, validate, compile-check, version),
 * spawns one worker thread per core, respawns crashed workers with backoff, reloads on SIGHUP and
 * drains on SIGTERM/SIGINT. It never touches a request.
 */
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import type { Logger } from 'pino';
import { formatConfigErrors, loadConfigFile, type ConfigError } from '../config/load';
import type { NormalizedConfig } from '../config/types';
import { compileCheck } from '../proxy/snapshot';
import { tlsConfigProblem } from '../tls/settings';
import type { NodeSettings } from '../settings';
import { UpstreamHealthCenter } from '../balancer/health-center';
import type { Topology } from '../balancer/topology';
import { InlineWorker, type WorkerHandle } from './inline-worker';
import { gcThreads } from './node-flags';
import { workerResourceLimits, workerSemiSpaceMb } from './worker-heap';
import type { PrimaryToWorker, WorkerBootData, WorkerToPrimary } from './messages';
import { RouteAggregate } from '../metrics/aggregate';
import { countEstablished } from '../metrics/connections';
import { mergeFamilies, renderMetrics } from '../metrics/exposition';
import { primaryCollectors } from '../metrics/registry';
import { withKongFamilies, type KongNodeInput } from '../plugins/prometheus/node-metrics';
import { registerPrimaryCollectors } from '../metrics/node-collectors';
import type { WorkerMetricsSnapshot } from '../metrics/snapshot-types';

/** How long a scrape waits for the workers' snapshots before rendering without the late ones. */
const SCRAPE_TIMEOUT_MS = 2_000;

/** Outcome of validating a config and applying it to every worker. */
export type ApplyResult =
  | { readonly ok: true; readonly version: number; readonly failedWorkers: readonly number[] }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

interface PendingApply {
  readonly waiting: Set<number>;
  readonly failed: number[];
  readonly done: Array<(failed: number[]) => void>;
}

interface PendingScrape {
  readonly waiting: Set<WorkerHandle>;
  /** Answers of the slots' current workers. */
  readonly results: WorkerMetricsSnapshot[];
  /** Answers of retiring workers (replaced after an uncaught error, still finishing requests). */
  readonly retiring: WorkerMetricsSnapshot[];
  readonly done: () => void;
}

export interface WorkerScrape {
  readonly live: WorkerMetricsSnapshot[];
  readonly retiring: WorkerMetricsSnapshot[];
  /** Current workers asked that did not answer in time. */
  readonly missing: number;
}
import { createRateLimitMemory, readRateLimitStats, type RateLimitStats } from '../ratelimit/shared-table';

const WORKER_ENTRY = path.join(__dirname, 'worker.js');
/** A worker that dies sooner than this after starting counts toward a crash loop. */
const STABLE_AFTER_MS = 5_000;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;

interface WorkerSlot {
  readonly id: number;
  worker: WorkerHandle | null;
  startedAt: number;
  listening: boolean;
  backoffMs: number;
  restarts: number;
  respawnTimer: NodeJS.Timeout | null;
}

export class Supervisor {
  readonly #settings: NodeSettings;
  readonly #configPath: string;
  readonly #logger: Logger;
  readonly #slots: WorkerSlot[] = [];
  #config: NormalizedConfig;
  #version = 1;
  #shuttingDown = false;
  #announced = false;
  #pendingAcks = new Map<number, PendingApply>();
  #lastReloadAt = Date.now();
  readonly #reloads = { success: 0, failure: 0 };
  #nextScrapeId = 1;
  readonly #scrapes = new Map<number, PendingScrape>();
  /** Each worker's last scraped snapshot, folded into #retiredMetrics when that worker exits. */
  readonly #lastSnapshots = new Map<WorkerHandle, WorkerMetricsSnapshot>();
  readonly #retiredMetrics = new RouteAggregate();
  /** Workers that hit an uncaught error and are finishing their last connections. */
  readonly #retired = new Set<WorkerHandle>();
  readonly #drainedWorkers = new Set<number>();
  /** Drained workers that could not close their connections (the uWS v20.30 fallback). */
  #workersHoldingSockets = 0;
  #onDrained: (() => void) | null = null;
  readonly #startedAt = Date.now();
  /**
   * The node-wide rate-limit counters, created once and mapped by every worker (also respawned
   * ones, and across reloads), so counts are per node, never per thread.
   */
  readonly rateLimitMemory: SharedArrayBuffer;
  /** Node-wide balancer state, DNS, active checks (balancer/health-center.ts). */
  readonly upstreamHealth: UpstreamHealthCenter;
  #topology: Topology = {};
  /** Workers' pinned young generation (worker-heap.ts); 0 = V8's defaults. */
  readonly #semiSpaceMb = workerSemiSpaceMb();

  constructor(settings: NodeSettings, configPath: string, config: NormalizedConfig, logger: Logger) {
    this.#settings = settings;
    this.#configPath = configPath;
    this.#config = config;
    this.#logger = logger;
    this.rateLimitMemory = createRateLimitMemory(settings.rateLimitSlots);
    this.upstreamHealth = new UpstreamHealthCenter(settings.dnsResolver ?? null, logger.child({ role: 'balancer' }));
    this.upstreamHealth.onTopologyChange((topology) => this.#broadcastTopology(topology));
    registerPrimaryCollectors(this);
  }

  /** Node-wide rate-limit counters (rejections, fail-opens, evictions, store errors). */
  rateLimitStats(): RateLimitStats {
    return readRateLimitStats(this.rateLimitMemory);
  }

  /** DNS answers changed some target's addresses: every worker recompiles its balancers. */
  #broadcastTopology(topology: Topology): void {
    this.#topology = topology;
    const msg: PrimaryToWorker = { type: 'topology', topology };
    for (const slot of this.#slots) slot.worker?.postMessage(msg);
  }

  /** The node's settings (read-only; the admin API's GET / reports some). */
  get settings(): NodeSettings {
    return this.#settings;
  }

  /** `--workers 0`: one data plane on the main thread and no worker threads. */
  get inline(): boolean {
    return this.#settings.workers === 0;
  }

  /** For the admin API's /ready: every worker listening and not draining. */
  readiness(): { ready: boolean; draining: boolean; workersListening: number; workers: number } {
    const listening = this.#slots.filter((s) => s.listening).length;
    return {
      ready: !this.#shuttingDown && this.#slots.length > 0 && listening === this.#slots.length,
      draining: this.#shuttingDown,
      workersListening: listening,
      workers: this.#slots.length,
    };
  }

  /** For the admin API's /status: one scrape round trip for the workers' in-flight counts. */
  async status(): Promise<Record<string, unknown>> {
    const [scrape, connections] = await Promise.all([this.scrapeWorkers(), countEstablished(this.#settings.listenPort)]);
    const snapshots = scrape.live;
    const byWorker = new Map(snapshots.map((s) => [s.workerId, s]));
    return {
      configVersion: this.#version,
      lastReloadAt: new Date(this.#lastReloadAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      draining: this.#shuttingDown,
      connections,
      inFlight: snapshots.reduce((n, s) => n + s.inFlight, 0),
      workers: this.#slots.map((s) => ({
        id: s.id,
        listening: s.listening,
        restarts: s.restarts,
        startedAt: new Date(s.startedAt).toISOString(),
        inFlight: byWorker.get(s.id)?.inFlight ?? null,
        configVersion: byWorker.get(s.id)?.configVersion ?? null,
      })),
      rateLimit: this.rateLimitStats(),
    };
  }

  /** The running normalized config (callers redact it before showing it). */
  get config(): NormalizedConfig {
    return this.#config;
  }

  get configVersion(): number {
    return this.#version;
  }

  /**
   * Asks every current worker, and every retiring one (it still serves its open connections), for
   * its metrics snapshot; late or dead workers are left out.
   */
  scrapeWorkers(timeoutMs = SCRAPE_TIMEOUT_MS): Promise<WorkerScrape> {
    const id = this.#nextScrapeId++;
    const msg: PrimaryToWorker = { type: 'metrics-request', id };
    return new Promise((resolve) => {
      const results: WorkerMetricsSnapshot[] = [];
      const retiring: WorkerMetricsSnapshot[] = [];
      const waiting = new Set<WorkerHandle>();
      let asked = 0;
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#scrapes.delete(id);
        resolve({ live: results, retiring, missing: asked - results.length });
      };
      this.#scrapes.set(id, { waiting, results, retiring, done: finish });
      for (const slot of this.#slots) {
        if (slot.worker === null || !slot.listening) continue;
        asked++;
        waiting.add(slot.worker);
        slot.worker.postMessage(msg);
      }
      for (const worker of this.#retired) {
        waiting.add(worker);
        worker.postMessage(msg);
      }
      if (waiting.size === 0) finish();
    });
  }

  /** GET /metrics: Prometheus text of every worker's cells merged with the primary's own state. */
  async metricsText(): Promise<string> {
    const [scrape, connections] = await Promise.all([this.scrapeWorkers(), countEstablished(this.#settings.listenPort)]);
    const snapshots = scrape.live;
    const routes = new RouteAggregate();
    for (const snap of snapshots) for (const cell of snap.cells) routes.addSnapshot(cell);
    // Retiring workers' routes may be of an older config: only routes that still exist count.
    const retiring = new RouteAggregate();
    for (const snap of scrape.retiring) for (const cell of snap.cells) retiring.addSnapshot(cell);
    routes.addKnownFrom(retiring);
    routes.addKnownFrom(this.#retiredMetrics);
    // Forget dead workers' counts of removed routes, but only on a complete scrape: a scrape
    // that missed every worker knows no routes and must not wipe them.
    if (snapshots.length > 0 && scrape.missing === 0) this.#retiredMetrics.retainOnly(new Set(routes.cells.keys()));
    const primary = primaryCollectors.collect((id, err) => this.#logger.error({ err, collector: id }, 'metrics collector failed'));
    return renderMetrics({
      metricsEnabled: this.#settings.metrics !== false,
      consumerLabels: this.#settings.metricsConsumerLabels === true,
      routes,
      workers: snapshots,
      workerStates: this.#slots.map((s) => ({ id: s.id, listening: s.listening, restarts: s.restarts })),
      workersMissing: scrape.missing,
      configVersion: this.#version,
      lastReloadAtMs: this.#lastReloadAt,
      reloads: this.#reloads,
      downstreamConnections: connections,
      startedAtMs: this.#startedAt,
      draining: this.#shuttingDown,
      extra: withKongFamilies(mergeFamilies(snapshots, primary), this.#kongNodeInput(routes, connections)),
    });
  }

  /** What the prometheus plugin's node-level families need (plugins/prometheus/node-metrics.ts). */
  #kongNodeInput(routes: RouteAggregate, connections: number | null): KongNodeInput {
    let requestsTotal = 0;
    for (const cell of routes.cells.values()) for (const n of cell.codes.values()) requestsTotal += n;
    return { config: this.#config, requestsTotal, activeConnections: connections, targets: this.upstreamHealth.targetHealth() };
  }

  /** Resolve target names first (bounded by the resolver's timeouts), then spawn the workers. */
  start(): void {
    for (let id = 1; id <= Math.max(1, this.#settings.workers); id++) {
      this.#slots.push({ id, worker: null, startedAt: 0, listening: false, backoffMs: 0, restarts: 0, respawnTimer: null });
    }
    void this.upstreamHealth.apply(this.#config).then((topology) => {
      this.#topology = topology;
      if (this.#shuttingDown) return;
      for (const slot of this.#slots) this.#spawn(slot);
    });
  }

  #spawn(slot: WorkerSlot): void {
    slot.respawnTimer = null;
    const boot: WorkerBootData = {
      workerId: slot.id,
      settings: this.#settings,
      config: this.#config,
      configVersion: this.#version,
      rateLimitMemory: this.rateLimitMemory,
      balancerState: this.upstreamHealth.shared.buffer,
      topology: this.#topology,
    };
    const worker: WorkerHandle = this.inline
      ? new InlineWorker(boot, this.#logger)
      : new Worker(WORKER_ENTRY, { workerData: boot, stdout: false, stderr: false, resourceLimits: workerResourceLimits(this.#semiSpaceMb) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.listening = false;
    worker.on('message', (msg: WorkerToPrimary) => this.#onMessage(slot, worker, msg));
    worker.on('error', (err) => this.#logger.error({ err, worker: slot.id }, 'worker crashed'));
    worker.on('exit', (code) => this.#onExit(slot, worker, code));
    worker.once('exit', () => this.#foldMetrics(worker));
  }

  #onMessage(slot: WorkerSlot, worker: WorkerHandle, msg: WorkerToPrimary): void {
    switch (msg.type) {
      case 'listening':
        slot.listening = true;
        if (slot.restarts > 0) this.#logger.info({ worker: slot.id, restarts: slot.restarts }, 'worker respawned and listening');
        if (!this.#announced && this.#slots.every((s) => s.listening)) {
          this.#announced = true;
          this.#logger.info(
            { listen: `${this.#settings.listenHost}:${this.#settings.listenPort}`, workers: this.#slots.length, configVersion: this.#version, gcThreads: gcThreads() },
            'floodgate listening',
          );
        }
        break;
      case 'config-applied':
        this.#ack(slot.id, msg.version, false);
        break;
      case 'config-failed':
        this.#logger.error({ worker: slot.id, version: msg.version, error: msg.error }, 'worker failed to apply config');
        this.#ack(slot.id, msg.version, true);
        break;
      case 'final-metrics':
        // Folded when its thread exits (#foldMetrics), in place of the last scrape.
        this.#lastSnapshots.set(worker, msg.snapshot);
        break;
      case 'metrics': {
        const scrape = this.#scrapes.get(msg.id);
        if (scrape === undefined || !scrape.waiting.delete(worker)) break;
        this.#lastSnapshots.set(worker, msg.snapshot);
        (slot.worker === worker ? scrape.results : scrape.retiring).push(msg.snapshot);
        if (scrape.waiting.size === 0) scrape.done();
        break;
      }
      case 'drained':
        if (!msg.clean) this.#logger.warn({ worker: slot.id, inFlight: msg.inFlight }, 'drain deadline passed with requests in flight');
        this.#drainedWorkers.add(slot.id);
        if (!msg.closed) this.#workersHoldingSockets++;
        this.#onDrained?.();
        break;
      case 'fatal': {
        // The worker stopped accepting and finishes on its own (cluster/worker.ts); replace it now.
        const worker = slot.worker;
        if (worker !== null) {
          this.#retired.add(worker);
          worker.once('exit', (code) => {
            this.#retired.delete(worker);
            this.#logger.info({ worker: slot.id, code }, 'retired worker exited');
          });
        }
        this.#replace(slot, `uncaught error: ${msg.error}`);
        break;
      }
    }
  }

  #ack(workerId: number, version: number, failed: boolean): void {
    const pending = this.#pendingAcks.get(version);
    if (pending === undefined) return;
    if (!pending.waiting.delete(workerId) && workerId !== -1) return;
    if (failed) pending.failed.push(workerId);
    if (pending.waiting.size === 0) {
      this.#pendingAcks.delete(version);
      this.#logger.info({ configVersion: version, failedWorkers: pending.failed.length }, 'config reloaded');
      for (const done of pending.done) done(pending.failed);
    }
  }

  #onExit(slot: WorkerSlot, worker: WorkerHandle, code: number): void {
    if (slot.worker !== worker) return;
    this.#replace(slot, `exited with code ${code}`);
  }

  /** Take the slot's worker out of service and spawn its successor after a backoff. */
  #replace(slot: WorkerSlot, reason: string): void {
    slot.worker = null;
    slot.listening = false;
    // Its successor boots with the current config, so it owes no ack.
    for (const [version, pending] of this.#pendingAcks) if (pending.waiting.has(slot.id)) this.#ackLater(slot.id, version);
    if (this.#shuttingDown) return;
    const uptime = Date.now() - slot.startedAt;
    // Back off exponentially while a worker keeps dying young, so a crash loop cannot spin the CPU.
    slot.backoffMs = uptime < STABLE_AFTER_MS ? Math.min(MAX_BACKOFF_MS, Math.max(FIRST_BACKOFF_MS, slot.backoffMs * 2)) : FIRST_BACKOFF_MS;
    slot.restarts++;
    this.#logger.warn({ worker: slot.id, reason, uptimeMs: uptime, respawnInMs: slot.backoffMs }, 'worker failed; respawning');
    slot.respawnTimer = setTimeout(() => this.#spawn(slot), slot.backoffMs);
  }

  /**
   * A worker thread ended: keep what it counted up to its last scrape (folded into the retired
   * aggregate), so counters never go backwards; what it counted since is lost.
   */
  #foldMetrics(worker: WorkerHandle): void {
    for (const scrape of this.#scrapes.values()) if (scrape.waiting.delete(worker) && scrape.waiting.size === 0) scrape.done();
    const last = this.#lastSnapshots.get(worker);
    if (last === undefined) return;
    this.#lastSnapshots.delete(worker);
    for (const cell of last.cells) this.#retiredMetrics.addSnapshot(cell);
  }

  #ackLater(workerId: number, version: number): void {
    // Outside the caller's loop over #pendingAcks, which #ack may modify.
    queueMicrotask(() => this.#ack(workerId, version, false));
  }

  /** SIGUSR1: every worker (and retiring worker) reopens its log files. */
  reopenLogs(): void {
    const msg: PrimaryToWorker = { type: 'reopen-logs' };
    for (const slot of this.#slots) slot.worker?.postMessage(msg);
    for (const w of this.#retired) w.postMessage(msg);
  }

  /** SIGHUP: load, validate and compile-check the file; on any error keep the running config. */
  reload(): boolean {
    const result = loadConfigFile(this.#configPath);
    if (!result.ok) {
      this.#reloads.failure++;
      this.#logger.error(
        { errors: result.errors },
        `config reload rejected; still serving version ${this.#version}:\n${formatConfigErrors(result.errors, this.#configPath)}`,
      );
      return false;
    }
    const problem = compileCheck(result.config, this.#settings.trustedIps) ?? tlsConfigProblem(result.config, this.#settings.tls, this.#config);
    if (problem !== null) {
      this.#reloads.failure++;
      this.#logger.error({ error: problem }, `config reload rejected; still serving version ${this.#version}: ${problem}`);
      return false;
    }
    if (result.warnings.length > 0) {
      this.#logger.warn({ warnings: result.warnings }, `config reload loaded with warnings:\n${formatConfigErrors(result.warnings, this.#configPath)}`);
    }
    void this.apply(result.config);
    return true;
  }

  /**
   * POST /config: the same checks as SIGHUP on a loaded config; `problem` from compileCheck comes
   * back as a document-level error. The file on disk is not touched, so a later SIGHUP reloads it.
   */
  applyLoaded(config: NormalizedConfig): Promise<ApplyResult> {
    const problem = compileCheck(config, this.#settings.trustedIps) ?? tlsConfigProblem(config, this.#settings.tls, this.#config);
    if (problem !== null) {
      this.#reloads.failure++;
      return Promise.resolve({ ok: false, errors: [{ entity: 'document', field: '', line: null, column: null, message: problem }] });
    }
    return this.apply(config).then((r) => ({ ok: true, version: r.version, failedWorkers: r.failedWorkers }));
  }

  /** Counts a config rejected before it reached apply (the admin API's load errors). */
  noteRejectedConfig(): void {
    this.#reloads.failure++;
  }

  /**
   * The one way a new config goes live (SIGHUP and POST /config): bump the version, send it to
   * every worker, and resolve once each has swapped its snapshot (or died, or failed; a worker
   * that fails logs why and keeps the old one).
   */
  async apply(config: NormalizedConfig): Promise<{ version: number; failedWorkers: number[] }> {
    this.#config = config;
    const version = ++this.#version;
    this.#lastReloadAt = Date.now();
    this.#reloads.success++;
    // New target names are resolved before the workers get the config, so they never see them unresolved.
    const topology = await this.upstreamHealth.apply(config);
    // A newer config arrived while this one's names resolved: that one goes out instead.
    if (version !== this.#version) return { version, failedWorkers: [] };
    this.#topology = topology;
    const msg: PrimaryToWorker = { type: 'config', version, config, topology };
    const pending: PendingApply = { waiting: new Set(), failed: [], done: [] };
    const result = new Promise<{ version: number; failedWorkers: number[] }>((resolve) => pending.done.push((failed) => resolve({ version, failedWorkers: failed })));
    this.#pendingAcks.set(version, pending);
    for (const slot of this.#slots) {
      if (slot.worker === null) continue;
      pending.waiting.add(slot.id);
      slot.worker.postMessage(msg);
    }
    if (pending.waiting.size === 0) this.#ack(-1, version, false);
    return result;
  }

  /**
   * SIGTERM/SIGINT: stop accepting everywhere, let requests finish up to the deadline, flush logs,
   * and close every connection. Resolves true when every worker closed its sockets, so the process
   * may end normally; false when one could not (the uWS v20.30 fallback, or a worker that missed
   * the deadline), and the caller ends the process with _exit (util/process-exit.ts says why).
   */
  async shutdown(): Promise<boolean> {
    if (this.#shuttingDown) return false;
    this.#shuttingDown = true;
    this.upstreamHealth.stop();
    this.#logger.info({ deadlineMs: this.#settings.drainTimeoutMs }, 'draining');
    const active: WorkerHandle[] = [];
    for (const slot of this.#slots) {
      if (slot.respawnTimer !== null) clearTimeout(slot.respawnTimer);
      if (slot.worker !== null) active.push(slot.worker);
    }
    const msg: PrimaryToWorker = { type: 'drain', deadlineMs: this.#settings.drainTimeoutMs };
    for (const w of [...active, ...this.#retired]) w.postMessage(msg);
    const expected = this.#slots.filter((s) => s.worker !== null).map((s) => s.id);
    const allDrained = new Promise<void>((resolve) => {
      this.#onDrained = () => {
        if (expected.every((id) => this.#drainedWorkers.has(id))) resolve();
      };
      this.#onDrained();
    });
    const hardStop = new Promise<void>((resolve) => setTimeout(resolve, this.#settings.drainTimeoutMs + 3_000).unref());
    const drained = await Promise.race([allDrained.then(() => true), hardStop.then(() => false)]);
    this.#logger.info('stopped');
    return drained && this.#workersHoldingSockets === 0;
  }
}
