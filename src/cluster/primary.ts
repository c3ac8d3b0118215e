/**
 * The primary thread: cold code only. It owns the config (load, validate, compile-check, version),
 * spawns one worker thread per core, respawns crashed workers with backoff, reloads on SIGHUP and
 * drains on SIGTERM/SIGINT. It never touches a request.
 */
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import type { Logger } from 'pino';
import { formatConfigErrors, loadConfigFile } from '../config/load';
import type { NormalizedConfig } from '../config/types';
import { compileCheck } from '../config/compile-check';
import type { NodeSettings } from '../settings';
import { UpstreamHealthCenter } from '../balancer/health-center';
import type { Topology } from '../balancer/topology';
import { InlineWorker, type WorkerHandle } from './inline-worker';
import type { PrimaryToWorker, WorkerBootData, WorkerToPrimary } from './messages';

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
  #pendingAcks = new Map<number, Set<number>>();
  /** Workers that hit an uncaught error and are finishing their last connections. */
  readonly #retired = new Set<WorkerHandle>();
  readonly #drainedWorkers = new Set<number>();
  #onDrained: (() => void) | null = null;
  readonly #startedAt = Date.now();
  /** Node-wide balancer state, DNS, active checks (balancer/health-center.ts). */
  readonly upstreamHealth: UpstreamHealthCenter;
  #topology: Topology = {};

  constructor(settings: NodeSettings, configPath: string, config: NormalizedConfig, logger: Logger) {
    this.#settings = settings;
    this.#configPath = configPath;
    this.#config = config;
    this.#logger = logger;
    this.upstreamHealth = new UpstreamHealthCenter(settings.dnsResolver ?? null, logger.child({ role: 'balancer' }));
    this.upstreamHealth.onTopologyChange((topology) => this.#broadcastTopology(topology));
  }

  /** DNS answers changed some target's addresses: every worker recompiles its balancers. */
  #broadcastTopology(topology: Topology): void {
    this.#topology = topology;
    const msg: PrimaryToWorker = { type: 'topology', topology };
    for (const slot of this.#slots) slot.worker?.postMessage(msg);
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

  /** For the admin API's /status. */
  status(): Record<string, unknown> {
    return {
      configVersion: this.#version,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      draining: this.#shuttingDown,
      workers: this.#slots.map((s) => ({ id: s.id, listening: s.listening, restarts: s.restarts, startedAt: new Date(s.startedAt).toISOString() })),
    };
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
      balancerState: this.upstreamHealth.shared.buffer,
      topology: this.#topology,
    };
    const worker: WorkerHandle = this.inline
      ? new InlineWorker(boot, this.#logger)
      : new Worker(WORKER_ENTRY, { workerData: boot, stdout: false, stderr: false });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.listening = false;
    worker.on('message', (msg: WorkerToPrimary) => this.#onMessage(slot, msg));
    worker.on('error', (err) => this.#logger.error({ err, worker: slot.id }, 'worker crashed'));
    worker.on('exit', (code) => this.#onExit(slot, worker, code));
  }

  #onMessage(slot: WorkerSlot, msg: WorkerToPrimary): void {
    switch (msg.type) {
      case 'listening':
        slot.listening = true;
        if (slot.restarts > 0) this.#logger.info({ worker: slot.id, restarts: slot.restarts }, 'worker respawned and listening');
        if (!this.#announced && this.#slots.every((s) => s.listening)) {
          this.#announced = true;
          this.#logger.info(
            { listen: `${this.#settings.listenHost}:${this.#settings.listenPort}`, workers: this.#slots.length, configVersion: this.#version },
            'floodgate listening',
          );
        }
        break;
      case 'config-applied':
        this.#ack(slot.id, msg.version);
        break;
      case 'config-failed':
        this.#logger.error({ worker: slot.id, version: msg.version, error: msg.error }, 'worker failed to apply config');
        this.#ack(slot.id, msg.version);
        break;
      case 'drained':
        if (!msg.clean) this.#logger.warn({ worker: slot.id, inFlight: msg.inFlight }, 'drain deadline passed with requests in flight');
        this.#drainedWorkers.add(slot.id);
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

  #ack(workerId: number, version: number): void {
    const waiting = this.#pendingAcks.get(version);
    if (waiting === undefined) return;
    waiting.delete(workerId);
    if (waiting.size === 0) {
      this.#pendingAcks.delete(version);
      this.#logger.info({ configVersion: version }, 'config reloaded');
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
    for (const waiting of this.#pendingAcks.values()) waiting.delete(slot.id);
    if (this.#shuttingDown) return;
    const uptime = Date.now() - slot.startedAt;
    // Back off exponentially while a worker keeps dying young, so a crash loop cannot spin the CPU.
    slot.backoffMs = uptime < STABLE_AFTER_MS ? Math.min(MAX_BACKOFF_MS, Math.max(FIRST_BACKOFF_MS, slot.backoffMs * 2)) : FIRST_BACKOFF_MS;
    slot.restarts++;
    this.#logger.warn({ worker: slot.id, reason, uptimeMs: uptime, respawnInMs: slot.backoffMs }, 'worker failed; respawning');
    slot.respawnTimer = setTimeout(() => this.#spawn(slot), slot.backoffMs);
  }

  /** SIGHUP: load, validate and compile-check the file; on any error keep the running config. */
  reload(): boolean {
    const result = loadConfigFile(this.#configPath);
    if (!result.ok) {
      this.#logger.error(
        { errors: result.errors },
        `config reload rejected; still serving version ${this.#version}:\n${formatConfigErrors(result.errors, this.#configPath)}`,
      );
      return false;
    }
    const problem = compileCheck(result.config, this.#settings.trustedIps);
    if (problem !== null) {
      this.#logger.error({ error: problem }, `config reload rejected; still serving version ${this.#version}: ${problem}`);
      return false;
    }
    this.#config = result.config;
    const version = ++this.#version;
    // New target names are resolved before the workers get the config, so they never see them unresolved.
    void this.upstreamHealth.apply(this.#config).then((topology) => {
      if (version !== this.#version) return;
      this.#topology = topology;
      const msg: PrimaryToWorker = { type: 'config', version, config: this.#config, topology };
      const waiting = new Set<number>();
      for (const slot of this.#slots) {
        if (slot.worker === null) continue;
        waiting.add(slot.id);
        slot.worker.postMessage(msg);
      }
      this.#pendingAcks.set(version, waiting);
      if (waiting.size === 0) this.#ack(-1, version);
    });
    return true;
  }

  /**
   * SIGTERM/SIGINT: stop accepting everywhere, let requests finish up to the deadline, flush logs,
   * then end the process (util/process-exit.ts explains why not by ending each worker thread).
   */
  async shutdown(): Promise<void> {
    if (this.#shuttingDown) return;
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
    await Promise.race([allDrained, hardStop]);
    this.#logger.info('stopped');
  }
}
