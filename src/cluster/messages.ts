/**
 * The typed protocol between the primary and its workers. Config travels as the normalized,
 * structured-clone-safe form; each worker compiles it into its own Snapshot.
 */
import type { NormalizedConfig } from '../config/types';
import type { WorkerMetricsSnapshot } from '../metrics/snapshot-types';
import type { NodeSettings } from '../settings';
import type { Topology } from '../balancer/topology';

export interface WorkerBootData {
  readonly workerId: number;
  readonly settings: NodeSettings;
  readonly config: NormalizedConfig;
  readonly configVersion: number;
  /** The node-wide rate-limit counter table (src/ratelimit/shared-table.ts), created once by the primary. */
  readonly rateLimitMemory: SharedArrayBuffer;
  /** The node's balancer state (health, in-flight counts, breakers, retry budgets), shared by every worker. */
  readonly balancerState: SharedArrayBuffer;
  readonly topology: Topology;
}

export type PrimaryToWorker =
  | { readonly type: 'config'; readonly version: number; readonly config: NormalizedConfig; readonly topology: Topology }
  /** Target addresses changed (DNS): recompile the balancers of the current config. */
  | { readonly type: 'topology'; readonly topology: Topology }
  | { readonly type: 'drain'; readonly deadlineMs: number }
  /** A /metrics or /status scrape: answer with a 'metrics' message carrying the same id. */
  | { readonly type: 'metrics-request'; readonly id: number }
  /** SIGUSR1: reopen the access log and file-log files (after logrotate renamed them). */
  | { readonly type: 'reopen-logs' };

export type WorkerToPrimary =
  | { readonly type: 'listening'; readonly workerId: number }
  | { readonly type: 'config-applied'; readonly workerId: number; readonly version: number }
  | { readonly type: 'config-failed'; readonly workerId: number; readonly version: number; readonly error: string }
  /** Drained and logs flushed; the worker now idles until the process exits. */
  /** `closed`: the worker closed all its connections (App.close()), so its thread can end normally. */
  | { readonly type: 'drained'; readonly workerId: number; readonly clean: boolean; readonly inFlight: number; readonly closed: boolean }
  /**
   * An uncaught error: the worker has stopped accepting and must be replaced. It finishes what it
   * has, then exits by itself once its connections are gone (see cluster/worker.ts).
   */
  | { readonly type: 'fatal'; readonly workerId: number; readonly error: string }
  | { readonly type: 'metrics'; readonly workerId: number; readonly id: number; readonly snapshot: WorkerMetricsSnapshot }
  /** A retiring worker's counts as it exits, so what it counted since the last scrape is kept. */
  | { readonly type: 'final-metrics'; readonly workerId: number; readonly snapshot: WorkerMetricsSnapshot };
