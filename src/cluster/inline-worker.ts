/**
 * `--workers 0`: one data plane on the main thread, driven by the same Supervisor through the
 * same messages as a worker thread. Profilers (clinic flame, --cpu-prof) see the main thread
 * best, and a process with no worker threads can exit normally.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DataPlane } from './data-plane';
import type { PrimaryToWorker, WorkerBootData, WorkerToPrimary } from './messages';

/** The part of node:worker_threads' Worker that the Supervisor uses. */
export interface WorkerHandle {
  postMessage(msg: PrimaryToWorker): void;
  on(event: 'message', fn: (msg: WorkerToPrimary) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
  on(event: 'exit', fn: (code: number) => void): this;
  once(event: 'exit', fn: (code: number) => void): this;
}

export class InlineWorker extends EventEmitter implements WorkerHandle {
  readonly #plane: DataPlane;

  constructor(boot: WorkerBootData, logger: Logger) {
    super();
    // Asynchronous both ways, as with a real MessagePort.
    this.#plane = new DataPlane(boot, (msg) => setImmediate(() => this.emit('message', msg)), logger.child({ worker: boot.workerId }));
    this.#plane.start().catch((err) => this.emit('error', err));
  }

  postMessage(msg: PrimaryToWorker): void {
    setImmediate(() => this.#plane.handle(msg));
  }
}
