/**
 * Worker thread entry: compile the snapshot, listen, serve; swap snapshots on reload; drain on
 * request. All hot-path state (router, pools, plugin instances) is private to this thread.
 *
 * Crashes: a thread that dies while holding uWS sockets takes the whole process down (uWS.js
 * v20.30 has no App.close(); Node aborts on uv_loop_close with open handles). So an uncaught
 * error does not end the thread. The worker "retires" instead: it stops accepting (the kernel
 * sends new connections to the other workers and to its replacement), tells the primary to
 * replace it, finishes its in-flight requests, and exits once no request has arrived for longer
 * than uWS's 10 s idle timeout, i.e. once uWS has closed every connection it still had.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ProxyServer } from '../proxy/server';
import { compileSnapshot } from '../proxy/snapshot';
import { UpstreamPools } from '../proxy/upstream-pools';
import { pinWorkerThread } from '../util/cpu-affinity';
import { accessLogger, systemLogger } from '../util/logger';
import type { PrimaryToWorker, WorkerBootData, WorkerToPrimary } from './messages';

/** uWS closes idle HTTP connections after 10 s; wait a little longer before leaving. */
const RETIRE_QUIET_MS = 12_000;

const boot = workerData as WorkerBootData;
const port = parentPort!;
const send = (msg: WorkerToPrimary) => port.postMessage(msg);
const logger = systemLogger(boot.settings.logLevel, { role: 'worker', worker: boot.workerId });
let server: ProxyServer | null = null;
let pools: UpstreamPools | null = null;
let retiring = false;

process.on('uncaughtException', (err) => {
  logger.fatal({ err }, 'uncaught error in worker; retiring it');
  if (retiring) return;
  retiring = true;
  send({ type: 'fatal', workerId: boot.workerId, error: err instanceof Error ? err.message : String(err) });
  if (server === null) process.exit(1); // No socket was opened yet, so the thread can simply end.
  void retire(server);
});

async function retire(s: ProxyServer): Promise<void> {
  s.lastRequestAt = Date.now();
  await s.drain(Infinity);
  while (s.inFlight > 0 || Date.now() - s.lastRequestAt < RETIRE_QUIET_MS) {
    await new Promise((r) => setTimeout(r, 1000));
  }
  s.closeLogs();
  await Promise.race([pools!.closeAll(), new Promise((r) => setTimeout(r, 1000))]);
  process.exit(0);
}

function onMessage(msg: PrimaryToWorker): void {
  const s = server!;
  switch (msg.type) {
    case 'config':
      try {
        const snapshot = compileSnapshot(msg.config, msg.version, pools!);
        s.swap(snapshot);
        pools!.retainOnly(snapshot.poolKeys);
        send({ type: 'config-applied', workerId: boot.workerId, version: msg.version });
      } catch (err) {
        // The primary compiled this config already, so this is a bug; keep serving the old one.
        logger.error({ err, version: msg.version }, 'failed to apply config; keeping the previous one');
        send({ type: 'config-failed', workerId: boot.workerId, version: msg.version, error: String(err) });
      }
      break;
    case 'drain':
      void s.drain(msg.deadlineMs).then((clean) => {
        s.closeLogs();
        send({ type: 'drained', workerId: boot.workerId, clean, inFlight: s.inFlight });
      });
      break;
  }
}

async function main(): Promise<void> {
  // Pin first, so the uWS loop, the snapshot and the pools are set up on the worker's own CPU.
  if (boot.settings.cpuAffinity.mode !== 'off') pinWorkerThread(boot.settings.cpuAffinity, boot.workerId, logger);
  pools = new UpstreamPools(boot.settings);
  const snapshot = compileSnapshot(boot.config, boot.configVersion, pools);
  server = new ProxyServer(boot.settings, logger, accessLogger(boot.settings.accessLog, { role: 'access' }), snapshot, boot.workerId);
  port.on('message', onMessage);
  await server.listen();
  send({ type: 'listening', workerId: boot.workerId });
}

main().catch((err) => {
  logger.fatal({ err }, 'worker failed to start');
  // Nothing listens yet when boot fails, so ending the thread is safe.
  process.exit(1);
});
