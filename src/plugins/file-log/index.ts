import fs from 'node:fs';
import path from 'node:path';
import { CHECKED_ONLY, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { BatchQueue, sharedQueue, type BatchQueueOptions } from '../../logging/batch-queue';
import { registerLogSink, unregisterLogSink, type LogSink } from '../../logging/sinks';
import { systemLogger } from '../../util/logger';
import { FileLogSchema, type FileLogConfig } from './schema';

const log = systemLogger('warn', { role: 'file-log' });

/**
 * Kong writes file-log lines synchronously per request; here lines are batched (up to 500, or
 * 100 ms) and appended asynchronously, so a slow disk never stalls the event loop. A queue that
 * fills (10,000 lines waiting) drops with a counter.
 */
const FILE_QUEUE: BatchQueueOptions = {
  maxBatchSize: 500,
  maxCoalescingDelayMs: 100,
  maxEntries: 10_000,
  maxRetryTimeMs: 10_000,
  initialRetryDelayMs: 50,
  maxRetryDelayMs: 2_000,
};

/**
 * One file, appended with O_APPEND (whole batches of whole lines per write, so several workers
 * can share a file). With `reopen: false` the descriptor stays open until SIGUSR1 asks for a
 * reopen (logrotate renamed the file); with `reopen: true` each batch opens the path anew.
 */
class FileAppender {
  readonly #path: string;
  readonly #reopenEachWrite: boolean;
  #handle: fs.promises.FileHandle | null = null;
  #reopenRequested = false;

  constructor(file: string, reopenEachWrite: boolean) {
    this.#path = path.resolve(file);
    this.#reopenEachWrite = reopenEachWrite;
  }

  requestReopen(): void {
    this.#reopenRequested = true;
  }

  async close(): Promise<void> {
    const h = this.#handle;
    this.#handle = null;
    await h?.close().catch(() => undefined);
  }

  write = async (lines: string[]): Promise<void> => {
    const data = lines.join('');
    if (this.#reopenEachWrite) {
      await fs.promises.appendFile(this.#path, data, { mode: 0o640 });
      return;
    }
    if (this.#reopenRequested && this.#handle !== null) {
      this.#reopenRequested = false;
      const old = this.#handle;
      this.#handle = null;
      await old.close().catch(() => undefined);
    }
    if (this.#handle === null) this.#handle = await fs.promises.open(this.#path, 'a', 0o640);
    try {
      await this.#handle.write(data);
    } catch (err) {
      // A broken descriptor (file system gone, file deleted under us): reopen on the retry.
      const h = this.#handle;
      this.#handle = null;
      await h?.close().catch(() => undefined);
      throw err;
    }
  };
}

class FileLog implements PluginInstance {
  readonly queue: BatchQueue<string>;

  constructor(conf: FileLogConfig, pluginId: string) {
    const name = `file-log:${pluginId}`;
    // Set by whichever snapshot created the queue; runs when a reload retires it.
    let release = (): void => {};
    this.queue = sharedQueue(name + ':' + JSON.stringify(conf), () => {
      const file = new FileAppender(conf.path, conf.reopen);
      const q = new BatchQueue<string>(name, FILE_QUEUE, file.write, (err, attempt, givingUp) =>
        log.warn({ err: (err as Error).message, path: conf.path, attempt, givingUp }, givingUp ? 'file-log lines dropped after retries' : 'file-log write failed; retrying'),
      );
      q.onFull((c) => log.warn({ queue: name, ...c }, 'file-log queue full; dropping entries'));
      const sink: LogSink = { reopen: () => file.requestReopen(), flush: () => q.flush() };
      registerLogSink(sink);
      release = () => {
        unregisterLogSink(sink);
        void file.close();
      };
      return q;
    }, () => release());
  }

  /** Serializes and enqueues; the file write happens later, off the request's path. */
  onLog(ctx: PluginContext): void {
    this.queue.push(JSON.stringify(ctx.serializeLog()) + '\n');
  }
}

export const fileLog: PluginDefinition<FileLogConfig> = {
  name: 'file-log',
  priority: 9,
  version: '1.0.0',
  configSchema: FileLogSchema,
  create: (conf, env) => (env.checkOnly === true ? CHECKED_ONLY : new FileLog(conf, env.pluginId ?? 'default')),
};
