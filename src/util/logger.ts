/**
 * Loggers. System events (start, reload, crash) go to stderr synchronously: they are rare and must
 * not be lost when a process dies. Access logs go to stdout or a file through an asynchronous,
 * buffered sonic-boom stream flushed by one coarse timer, so logging a request never blocks the
 * event loop and never costs a write(2) per request.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export function systemLogger(level: string, bindings: Record<string, unknown>): Logger {
  return pino({ level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

const ACCESS_LOG_FLUSH_MS = 500;

export interface AccessLog {
  readonly logger: Logger;
  /** Share of successful requests logged (--access-log-sample); errors are always logged. */
  readonly sampleRate: number;
  /**
   * SIGUSR1 (logrotate's postrotate): reopen the file by its path, so lines go to the new file
   * once the old one was renamed. Buffered lines are written first (sonic-boom waits for pending
   * writes), so none is lost. A no-op for stdout.
   */
  reopen(): void;
  close(): void;
}

/** `null` when access logging is off. */
export function accessLogger(target: string, bindings: Record<string, unknown>, sampleRate = 1): AccessLog | null {
  if (target === 'off') return null;
  const dest = pino.destination({
    dest: target === 'stdout' ? 1 : target,
    sync: false,
    minLength: 4096,
    mkdir: true,
  });
  const timer = setInterval(() => dest.flush(), ACCESS_LOG_FLUSH_MS);
  timer.unref();
  const logger = pino({ base: bindings, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, dest);
  return {
    logger,
    sampleRate,
    reopen() {
      if (target !== 'stdout') dest.reopen();
    },
    close() {
      clearInterval(timer);
      try {
        dest.flushSync();
      } catch {
        // Nothing left to do with a log line we cannot write while exiting.
      }
    },
  };
}
