/**
 * The worker's log sinks besides the access log (file-log files, http-log and opentelemetry
 * queues), so SIGUSR1 can reopen files and a drain can flush queues without knowing which
 * plugins are configured. Per thread: each worker has its own sinks.
 */
export interface LogSink {
  /** Reopen files by path (logrotate); a no-op for network sinks. */
  reopen(): void;
  /** Send or write what is queued; resolves when done or given up. */
  flush(): Promise<void>;
}

const sinks = new Set<LogSink>();

export function registerLogSink(sink: LogSink): void {
  sinks.add(sink);
}

export function unregisterLogSink(sink: LogSink): void {
  sinks.delete(sink);
}

export function reopenLogFiles(): void {
  for (const s of sinks) s.reopen();
}

/** Flush every sink, waiting at most `deadlineMs`. */
export async function flushLogSinks(deadlineMs: number): Promise<void> {
  if (sinks.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...sinks].map((s) => s.flush())),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    }),
  ]);
  clearTimeout(timer);
}
