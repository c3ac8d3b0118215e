/**
 * Streams a downstream request body from uWS into undici with backpressure both ways: when the
 * upstream socket is slow, undici stops reading this stream, `push` returns false, and we pause
 * the client's socket in uWS; undici's next `read` resumes it. Memory stays bounded by the
 * stream's high-water mark plus one uWS chunk, whatever the body size.
 */
import { Readable } from 'node:stream';
import type { HttpResponse } from './uws';

const HIGH_WATER_MARK = 64 * 1024;

export class RequestBody extends Readable {
  readonly #res: HttpResponse;
  #pausedDownstream = false;
  /** Set when the response is finished or aborted: uWS's res must not be touched after that. */
  #detached = false;

  constructor(res: HttpResponse) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.#res = res;
  }

  /** Called with each uWS chunk. uWS reuses the ArrayBuffer after the callback, so copy it. */
  pushChunk(chunk: ArrayBuffer, isLast: boolean): void {
    if (chunk.byteLength > 0) {
      const more = this.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      if (!more && !isLast && !this.#pausedDownstream && !this.#detached) {
        this.#pausedDownstream = true;
        this.#res.pause();
      }
    }
    if (isLast) this.push(null);
  }

  override _read(): void {
    if (this.#pausedDownstream && !this.#detached) {
      this.#pausedDownstream = false;
      this.#res.resume();
    }
  }

  detach(): void {
    this.#detached = true;
  }
}
