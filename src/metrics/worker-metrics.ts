/**
 * A worker's metrics: the store of route cells (kept across reloads), the once-per-request
 * recorder, the event-loop delay monitor, and the snapshot the primary asks for on a scrape.
 *
 * Latency definitions (all from performance.now() on the worker):
 *   total    = request end - request arrival (head parsed) - everything the client waited for,
 *              body streaming included;
 *   upstream = upstream response headers - upstream request start (time to first byte), or, when
 *              no headers came (connect error, timeout, client abort), until the request ended;
 *   gateway  = total - upstream: what the gateway itself added (routing, plugins, queueing, and the
 *              body streaming on both sides). For a local reply (no upstream request) it is the
 *              whole total and upstream is not recorded.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { RequestRecord } from '../proxy/record';
import type { Snapshot } from '../proxy/snapshot';
import { workerCollectors } from './registry';
import { NO_CONSUMER, RouteCell } from './route-cell';
import type { WorkerMetricsSnapshot } from './snapshot-types';
import { toMicros } from './latency-histogram';

/** monitorEventLoopDelay's sampling interval; each sample includes it, so it is subtracted. */
const LOOP_RESOLUTION_MS = 10;

/** The cell for requests that matched no route (404 no-route, 400s before routing). */
const UNMATCHED_KEY = '\0';

export class WorkerMetrics {
  readonly #consumerLabels: boolean;
  readonly #logger: Logger;
  #cells = new Map<string, RouteCell>();
  readonly #unmatched: RouteCell;
  readonly #loop: IntervalHistogram;

  constructor(consumerLabels: boolean, logger: Logger) {
    this.#consumerLabels = consumerLabels;
    this.#logger = logger;
    this.#unmatched = new RouteCell(UNMATCHED_KEY, '', '', consumerLabels);
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loop.enable();
  }

  /**
   * Give every route of a freshly compiled snapshot its cell: the same one as before when its
   * route id and service id are unchanged, a new one otherwise. Cells of removed routes are
   * dropped (in-flight requests of the old snapshot still record into them, unseen).
   */
  attach(snapshot: Snapshot): void {
    const next = new Map<string, RouteCell>();
    for (const route of snapshot.routesByOrder) {
      if (route === undefined) continue;
      const service = route.service;
      const key = `${service === null ? '' : service.config.id}\0${route.config.id}`;
      let cell = this.#cells.get(key) ?? next.get(key);
      const serviceLabel = service === null ? '' : (service.config.name ?? service.config.id);
      const routeLabel = route.config.name ?? route.config.id;
      if (cell === undefined) cell = new RouteCell(key, serviceLabel, routeLabel, this.#consumerLabels);
      // Same ids, maybe a new name: label with what the config says now.
      cell.service = serviceLabel;
      cell.route = routeLabel;
      next.set(key, cell);
      route.metrics = cell;
    }
    this.#cells = next;
  }

  /** Once per request, from ProxyServer.requestFinished. */
  record(ctx: RequestRecord): void {
    const route = ctx.route;
    const cell = route === null || route.metrics === null ? this.#unmatched : route.metrics;
    const code = ctx.aborted ? 499 : ctx.responseStatus;
    cell.codes.add(code);
    if (cell.consumers !== null) {
      const c = ctx.consumer;
      cell.countConsumer(c === null ? NO_CONSUMER : (c.username ?? c.customId ?? c.id), code);
    }
    cell.bytesIn += ctx.bodyBytes;
    cell.bytesOut += ctx.responseBytes;
    const end = performance.now();
    const total = toMicros(end - ctx.startedAt);
    cell.recordTotal(total);
    if (ctx.upstreamStartedAt === 0) {
      cell.recordGateway(total);
    } else {
      const upstream = toMicros((ctx.upstreamHeadersAt === 0 ? end : ctx.upstreamHeadersAt) - ctx.upstreamStartedAt);
      cell.recordUpstream(upstream);
      cell.recordGateway(total > upstream ? total - upstream : 0);
    }
  }

  /** For a scrape: cumulative counters; the event-loop delay since the previous scrape. */
  snapshot(workerId: number, inFlight: number, configVersion: number): WorkerMetricsSnapshot {
    const cells = [this.#unmatched.snapshot()];
    for (const cell of this.#cells.values()) cells.push(cell.snapshot());
    const loop = this.#loop;
    const lag = (ns: number) => (Number.isFinite(ns) && loop.count > 0 ? Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) / 1000 : 0);
    const eventLoop = { p50: lag(loop.percentile(50)), p99: lag(loop.percentile(99)), max: lag(loop.max), mean: lag(loop.mean) };
    loop.reset();
    const families = workerCollectors.collect((id, err) => this.#logger.error({ err, collector: id }, 'metrics collector failed'));
    return { workerId, inFlight, configVersion, cells, eventLoop, families };
  }
}

/** With --metrics off: no cells, no recording, no event-loop monitor; collectors still run. */
export function emptySnapshot(workerId: number, inFlight: number, configVersion: number, logger: Logger): WorkerMetricsSnapshot {
  const families = workerCollectors.collect((id, err) => logger.error({ err, collector: id }, 'metrics collector failed'));
  return { workerId, inFlight, configVersion, cells: [], eventLoop: null, families };
}
