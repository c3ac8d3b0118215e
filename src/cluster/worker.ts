/**
 * Worker thread entry: runs one DataPlane and relays messages to and from the primary.
 *
 * Crashes: a thread that dies while holding uWS sockets takes the whole process down (Node aborts
 * on uv_loop_close with open handles). So an uncaught error does not end the thread at once. The
 * worker "retires" instead: it stops accepting (the kernel sends new connections to the other
 * workers and to its replacement), tells the primary to replace it, finishes its in-flight
 * requests (up to --drain-timeout), closes its connections with App.close() and exits. On the
 * uWS v20.30 fallback, which has no App.close(), it waits for uWS to close them by idle timeout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { systemLogger } from '../util/logger';
import { DataPlane } from './data-plane';
import type { PrimaryToWorker, WorkerBootData, WorkerToPrimary } from './messages';

const boot = workerData as WorkerBootData;
const port = parentPort!;
const logger = systemLogger(boot.settings.logLevel, { role: 'worker', worker: boot.workerId });
const plane = new DataPlane(boot, (msg: WorkerToPrimary) => port.postMessage(msg), logger);
let retiring = false;

process.on('uncaughtException', (err) => {
  logger.fatal({ err }, 'uncaught error in worker; retiring it');
  if (retiring) return;
  retiring = true;
  port.postMessage({ type: 'fatal', workerId: boot.workerId, error: err instanceof Error ? err.message : String(err) } satisfies WorkerToPrimary);
  // No socket is open before the listener exists, so the thread can simply end.
  if (!plane.listening) process.exit(1);
  void plane.retire().then(() => process.exit(0));
});

port.on('message', (msg: PrimaryToWorker) => plane.handle(msg));

plane.start().catch((err) => {
  logger.fatal({ err }, 'worker failed to start');
  // Nothing listens yet when boot fails, so ending the thread is safe.
  process.exit(1);
});
