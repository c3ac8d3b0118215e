/**
 * Streams a downstream request body from uWS into the upstream engine with backpressure both
 * ways: when the upstream socket is slow, the engine stops reading this stream, `push` returns
 * false, and we pause the client's socket in uWS; the engine's next `read` resumes it. Memory stays bounded by the
 * stream's high-water mark plus one uWS chunk, whatever the body size.
 *
 * The same signal enforces the service's write_timeout (NGINX's proxy_send_timeout): a timer is
 * armed only while the upstream side refuses data, so a request that never stalls costs no timer.
 */
import { Readable } from 'node:stream';
import type { HttpResponse } from './uws';

const HIGH_WATER_MARK = 64 * 1024;

export class RequestBody extends Readable {
  readonly #res: HttpResponse;
  readonly #writeTimeoutMs: number;
  readonly #onStall: () => void;
  #stallTimer: NodeJS.Timeout | null = null;
  #pausedDownstream = false;
  #started = false;
  /** Set when the response is finished or aborted: uWS's res must not be touched after that. */
  #detached = false;

  constructor(res: HttpResponse, writeTimeoutMs: number, onStall: () => void) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.#res = res;
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#onStall = onStall;
  }

  /** Called with each uWS chunk. uWS reuses the ArrayBuffer after the callback, so copy it. */
  pushChunk(chunk: ArrayBuffer, isLast: boolean): void {
    if (chunk.byteLength > 0) {
      const more = this.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      if (!more && !this.#detached) {
        if (!isLast && !this.#pausedDownstream) {
          this.#pausedDownstream = true;
          this.#res.pause();
        }
        this.#armStallTimer();
      }
    }
    if (isLast) this.push(null);
  }

  /** The engine started reading the body: it may have reached the upstream, so it cannot be replayed. */
  get started(): boolean {
    return this.#started;
  }

  override _read(): void {
    this.#started = true;
    this.#clearStallTimer();
    if (this.#pausedDownstream && !this.#detached) {
      this.#pausedDownstream = false;
      this.#res.resume();
    }
  }

  detach(): void {
    this.#detached = true;
    this.#clearStallTimer();
  }

  #armStallTimer(): void {
    if (this.#stallTimer !== null) return;
    this.#stallTimer = setTimeout(this.#stalled, this.#writeTimeoutMs);
  }

  #clearStallTimer(): void {
    if (this.#stallTimer === null) return;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
  }

  #stalled = (): void => {
    this.#stallTimer = null;
    if (!this.#detached) this.#onStall();
  };
}
