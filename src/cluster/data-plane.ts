/**
 * One data plane: the compiled snapshot, the uWS listener and the undici pools, driven by the
 * primary's messages. It runs in a worker thread (worker.ts) or, with `--workers 0`, on the main
 * thread (inline-worker.ts), which is what profilers see best.
 */
import type { Logger } from 'pino';
import { createJwsVerifier, type JwsVerifier } from '../offload/jws-verifier';
import { ProxyServer } from '../proxy/server';
import { compileSnapshot } from '../proxy/snapshot';
import { UpstreamPools } from '../proxy/upstream-pools';
import { pinWorkerThread } from '../util/cpu-affinity';
import { accessLogger } from '../util/logger';
import { SharedBalancerState } from '../balancer/shared-state';
import type { NormalizedConfig } from '../config/types';
import type { PrimaryToWorker, WorkerBootData, WorkerToPrimary } from './messages';

/** uWS closes idle HTTP connections after 10 s; a retiring worker waits a little longer. */
const RETIRE_QUIET_MS = 12_000;

export class DataPlane {
  readonly #boot: WorkerBootData;
  readonly #send: (msg: WorkerToPrimary) => void;
  readonly #logger: Logger;
  readonly #pools: UpstreamPools;
  /** --jwt-verify: its piscina pool (if any) starts on first use and closes after the drain. */
  readonly #jwtVerify: JwsVerifier;
  #server: ProxyServer | null = null;
  readonly #shared: SharedBalancerState;
  /** The config and version being served, recompiled when only the topology changes. */
  #config: NormalizedConfig;
  #version: number;

  constructor(boot: WorkerBootData, send: (msg: WorkerToPrimary) => void, logger: Logger) {
    this.#boot = boot;
    this.#send = send;
    this.#logger = logger;
    this.#pools = new UpstreamPools(boot.settings);
    this.#jwtVerify = createJwsVerifier(boot.settings.jwtVerify ?? 'inline');
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
    const snapshot = compileSnapshot(boot.config, boot.configVersion, this.#pools, boot.settings.trustedIps, this.#jwtVerify, {
      shared: this.#shared,
      topology: boot.topology,
    });
    const server = new ProxyServer(boot.settings, this.#logger, accessLogger(boot.settings.accessLog, { role: 'access' }), snapshot, boot.workerId);
    await server.listen();
    this.#server = server;
    this.#send({ type: 'listening', workerId: boot.workerId });
  }

  handle(msg: PrimaryToWorker): void {
    const server = this.#server;
    if (server === null) return;
    const workerId = this.#boot.workerId;
    switch (msg.type) {
      case 'config':
        try {
          const snapshot = compileSnapshot(msg.config, msg.version, this.#pools, this.#boot.settings.trustedIps, this.#jwtVerify, {
            shared: this.#shared,
            topology: msg.topology,
          });
          server.swap(snapshot);
          this.#config = msg.config;
          this.#version = msg.version;
          this.#pools.retainOnly(snapshot.poolKeys);
          this.#send({ type: 'config-applied', workerId, version: msg.version });
        } catch (err) {
          // The primary compiled this config already, so this is a bug; keep serving the old one.
          this.#logger.error({ err, version: msg.version }, 'failed to apply config; keeping the previous one');
          this.#send({ type: 'config-failed', workerId, version: msg.version, error: String(err) });
        }
        break;
      case 'topology':
        try {
          const snapshot = compileSnapshot(this.#config, this.#version, this.#pools, this.#boot.settings.trustedIps, this.#jwtVerify, {
            shared: this.#shared,
            topology: msg.topology,
          });
          server.swap(snapshot);
          this.#pools.retainOnly(snapshot.poolKeys);
        } catch (err) {
          this.#logger.error({ err }, 'failed to apply new target addresses; keeping the previous ones');
        }
        break;
      case 'drain':
        void server.drain(msg.deadlineMs).then(async (clean) => {
          server.closeLogs();
          await this.#closeJwtVerify();
          this.#send({ type: 'drained', workerId, clean, inFlight: server.inFlight });
        });
        break;
    }
  }

  /**
   * After an uncaught error: stop accepting, finish what is in flight, and resolve once no request
   * has arrived for longer than uWS's idle timeout, i.e. once uWS has closed every connection.
   */
  async retire(): Promise<void> {
    const server = this.#server;
    if (server !== null) {
      server.lastRequestAt = Date.now();
      await server.drain(Infinity);
      while (server.inFlight > 0 || Date.now() - server.lastRequestAt < RETIRE_QUIET_MS) {
        await new Promise((r) => setTimeout(r, 1000));
      }
      server.closeLogs();
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
