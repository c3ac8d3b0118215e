/**
 * --client-body-min-rate BYTES/S: a client that sends its request body slower than this gets
 * 408 and a closed connection (Apache's mod_reqtimeout MinRate; NGINX's client_body_timeout is
 * the same idea as a gap between reads). A slow-body client otherwise holds a request slot, an
 * upstream connection and a buffer for as long as it likes.
 *
 * One coarse sweep per worker (every 1 s, only while bodies are arriving) rather than a timer per
 * request. A body is judged over windows of WINDOW_MS: bytes received in the window divided by
 * its length. The first window starts when the head arrived, so a client gets WINDOW_MS to start.
 * A window in which the gateway itself was not reading (bytes buffered for a slow upstream, or
 * for a plugin still deciding) is not the client's fault: the window restarts instead.
 *
 * uWS v20.30 also has a floor of its own (it closes a connection that sends less than about
 * 16 KiB in 10 s), so values below ~1.6 KiB/s change nothing on that build.
 */
import type { RequestContext } from './request-context';
import type { ProxyError } from './errors';
import { workerCollectors } from '../metrics/registry';

export const WINDOW_MS = 2000;
const SWEEP_MS = 1000;

export const bodyTooSlow: ProxyError = Object.freeze({
  code: 'FG_BODY_TOO_SLOW',
  status: 408,
  source: 'downstream' as const,
  retryable: false,
  message: 'Request timeout: request body slower than --client-body-min-rate',
  body: JSON.stringify({ message: 'Request timeout: request body slower than --client-body-min-rate', reason: 'client_body_min_rate' }),
});

class Watched {
  readonly ctx: RequestContext;
  windowStart: number;
  windowBytes: number;
  constructor(ctx: RequestContext, now: number) {
    this.ctx = ctx;
    this.windowStart = now;
    this.windowBytes = 0;
  }
}

export class BodyRateGuard {
  /** Requests answered 408 (for /metrics). */
  tooSlow = 0;
  readonly #minRate: number;
  #watched: Watched[] = [];
  #timer: NodeJS.Timeout | null = null;
  readonly #now: () => number;

  constructor(minBytesPerSecond: number, now: () => number = performance.now.bind(performance)) {
    this.#minRate = minBytesPerSecond;
    this.#now = now;
    workerCollectors.register('client-body-rate', () => [
      { name: 'floodgate_client_body_too_slow_total', help: 'Requests answered 408 because the body arrived slower than --client-body-min-rate.', type: 'counter', merge: 'sum', samples: [{ labels: {}, value: this.tooSlow }] },
    ]);
  }

  get watching(): number {
    return this.#watched.length;
  }

  /** A request whose body is about to arrive (server.ts, right after onData is attached). */
  watch(ctx: RequestContext): void {
    this.#watched.push(new Watched(ctx, ctx.startedAt));
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.#timer.unref();
    }
  }

  /** @internal one sweep (exported for tests). */
  sweep(): void {
    const now = this.#now();
    const list = this.#watched;
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const w = list[i];
      const ctx = w.ctx;
      const body = ctx.body;
      // Done, or already answering (the upstream replied before the body ended): not judged.
      if (ctx.aborted || ctx.done || ctx.headSent || body === null || body.readableEnded) continue;
      const declared = ctx.request.contentLength;
      if (declared > 0 && ctx.bodyBytes >= declared) continue; // all arrived
      if (body.readableLength > 0) {
        // We are the bottleneck (upstream slow or not reading yet): not the client's window.
        w.windowStart = now;
        w.windowBytes = ctx.bodyBytes;
      } else if (now - w.windowStart >= WINDOW_MS) {
        const rate = ((ctx.bodyBytes - w.windowBytes) * 1000) / (now - w.windowStart);
        if (rate < this.#minRate) {
          this.tooSlow++;
          ctx.error = bodyTooSlow;
          // respond() closes the connection: the rest of the body is unread.
          ctx.respond(bodyTooSlow.status, bodyTooSlow.body, 'application/json; charset=utf-8', null);
          continue;
        }
        w.windowStart = now;
        w.windowBytes = ctx.bodyBytes;
      }
      list[kept++] = w;
    }
    list.length = kept;
    if (kept === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#watched = [];
  }
}
