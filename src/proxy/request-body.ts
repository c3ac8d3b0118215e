/**
 * Streams a downstream request body from uWS into the upstream engine with backpressure both
 * ways: when the upstream socket is slow, the engine stops reading this stream, `push` returns
 * false, and we pause the client's socket in uWS; the engine's next `read` resumes it.
 *
 * uWS v20.57 does not always honour that pause: its socket layer (uSockets, since Feb 2024) reads
 * again at once whenever a read filled its whole 512 KiB buffer, without looking at whether the
 * data callback paused the socket. A client that keeps the kernel buffer full therefore keeps
 * onData firing, synchronously, for as long as it can send (we measured 435 MiB in one pause and
 * an event loop stalled for seconds; test/conformance/uws-issues/pause-after-resume.js). JS cannot
 * end that loop short of closing the socket, and the bytes must go somewhere, so once more than
 * MEMORY_LIMIT_WHILE_PAUSED is held while paused, further bytes go to an unlinked temp file (as
 * NGINX spills large request bodies to client_body_temp_path) and are read back, in order, as the
 * engine asks for more. Memory stays bounded by that limit plus one uWS chunk whatever the body
 * size; the file is capped at SPILL_LIMIT (then 413 and the connection closes). On uWS v20.30,
 * and whenever the upstream keeps up, nothing is ever spilled.
 *
 * The same signal enforces the service's write_timeout (NGINX's proxy_send_timeout): a timer is
 * armed only while the upstream side refuses data, so a request that never stalls costs no timer.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { threadId } from 'node:worker_threads';
import { DirectWrite, type DirectBody, type DirectBodySink } from '../upstream/direct-body';
import type { HttpResponse } from './uws';

const HIGH_WATER_MARK = 64 * 1024;
/** Bytes held in memory while uWS delivers despite a pause, before the rest goes to disk. */
export const MEMORY_LIMIT_WHILE_PAUSED = 2 * 1024 * 1024;
/** Bytes a body may have on disk at once; beyond that the request fails rather than fill the disk. */
export const SPILL_LIMIT = 2 * 1024 * 1024 * 1024;
/** Size of each read back from the spill file. */
const SPILL_READ_BYTES = 256 * 1024;

/** Why the body gives up: the upstream refused data for write_timeout, or the spill file is full. */
export type BodyFailure = 'stall' | 'overflow';

let spillSequence = 0;

/** An unlinked temp file holding the bytes between readPos and writePos, oldest first. */
class SpillFile {
  readonly fd: number;
  readPos = 0;
  writePos = 0;

  constructor() {
    const file = path.join(tmpdir(), `floodgate-body-${process.pid}-${threadId}-${++spillSequence}`);
    this.fd = openSync(file, 'wx+', 0o600);
    // Unlinked at once: the bytes vanish with the descriptor, even if the worker dies.
    unlinkSync(file);
  }

  get pending(): number {
    return this.writePos - this.readPos;
  }

  append(chunk: ArrayBuffer): void {
    const bytes = new Uint8Array(chunk);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.writePos + done);
    this.writePos += bytes.length;
  }

  take(max: number): Buffer {
    const n = Math.min(max, this.pending);
    const buf = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const got = readSync(this.fd, buf, done, n - done, this.readPos + done);
      if (got === 0) throw new Error('request body spill file ended early');
      done += got;
    }
    this.readPos += n;
    return buf;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class RequestBody extends Readable implements DirectBody {
  readonly #res: HttpResponse;
  readonly #writeTimeoutMs: number;
  readonly #onFailure: (why: BodyFailure) => void;
  #stallTimer: NodeJS.Timeout | null = null;
  /** When the stall timer was armed: inside uWS's read burst the timer itself cannot fire. */
  #stalledSince = 0;
  #pausedDownstream = false;
  #started = false;
  /** Set when the response is finished or aborted: uWS's res must not be touched after that. */
  #detached = false;
  /** Non-null while bytes wait on disk; every later byte goes there too, to keep the order. */
  #spill: SpillFile | null = null;
  /** The last chunk arrived while bytes were on disk: end the stream once they are read. */
  #endAfterSpill = false;
  /** Bytes that went through the spill file (a measurement for tests and logs). */
  spilledBytes = 0;
  /** The upstream connection takes chunks straight from uWS while nothing waits here. */
  #direct: DirectBodySink | null = null;
  /** Bytes that went to the upstream straight from uWS's buffer (a measurement for tests). */
  directBytes = 0;

  constructor(res: HttpResponse, writeTimeoutMs: number, onFailure: (why: BodyFailure) => void) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.#res = res;
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#onFailure = onFailure;
  }

  /**
   * Called with each uWS chunk. uWS reuses the ArrayBuffer after the callback, so the chunk is
   * either written upstream during this call (the native engine's direct path: the socket copies
   * what the kernel does not take) or copied into the stream.
   */
  pushChunk(chunk: ArrayBuffer, isLast: boolean): void {
    if (chunk.byteLength > 0 && this.#direct !== null && this.#spill === null && !this.#pausedDownstream && this.readableLength === 0 && !this.destroyed) {
      const written = this.#direct.writeBodyDirect(new Uint8Array(chunk));
      if (written !== DirectWrite.Refused) {
        this.#started = true;
        this.directBytes += chunk.byteLength;
        if (written === DirectWrite.WrittenWaitDrain && !isLast && !this.#detached) {
          // The connection arms write_timeout itself; upstreamDrained resumes the client.
          this.#pausedDownstream = true;
          this.#res.pause();
        }
        if (isLast) this.push(null);
        return;
      }
    }
    if (chunk.byteLength > 0) {
      if (this.#spill !== null || (this.#pausedDownstream && this.readableLength >= MEMORY_LIMIT_WHILE_PAUSED)) {
        this.#spillChunk(chunk, isLast);
        if (isLast) this.#resumeAfterLastChunk();
        return;
      }
      const more = this.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
      if (!more && !this.#detached) {
        if (!isLast && !this.#pausedDownstream) {
          this.#pausedDownstream = true;
          this.#res.pause();
        }
        this.#armStallTimer();
      }
    }
    if (isLast) {
      if (this.#spill !== null) this.#endAfterSpill = true;
      else this.push(null);
      this.#resumeAfterLastChunk();
    }
  }

  /**
   * The body is complete, so nothing will call _read to resume the socket; on v20.57 the last
   * chunk can arrive while we are paused. A socket left paused never writes its response's
   * backpressure and never reads the next keep-alive request (it hangs until uWS's timeout).
   */
  #resumeAfterLastChunk(): void {
    if (!this.#pausedDownstream || this.#detached) return;
    this.#pausedDownstream = false;
    this.#res.resume();
  }

  attachDirect(sink: DirectBodySink | null): void {
    this.#direct = sink;
  }

  upstreamDrained(): void {
    if (!this.#pausedDownstream || this.#detached || this.readableLength > 0 || this.#spill !== null) return;
    this.#pausedDownstream = false;
    this.#clearStallTimer();
    this.#res.resume();
  }

  /** The engine started reading the body: it may have reached the upstream, so it cannot be replayed. */
  get started(): boolean {
    return this.#started;
  }

  override _read(): void {
    this.#started = true;
    this.#clearStallTimer();
    if (this.#spill !== null && !this.#readSpill()) return;
    if (this.#pausedDownstream && !this.#detached) {
      this.#pausedDownstream = false;
      this.#res.resume();
    }
  }

  detach(): void {
    this.#detached = true;
    this.#clearStallTimer();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearStallTimer();
    this.#dropSpill();
    callback(err);
  }

  /** uWS delivered although we paused (v20.57): park the bytes on disk, not in memory. */
  #spillChunk(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.destroyed || this.#detached) return;
    try {
      this.#spill ??= new SpillFile();
      if (this.#spill.pending + chunk.byteLength > SPILL_LIMIT) throw new Error('spill limit');
      this.#spill.append(chunk);
    } catch {
      // Disk full, no temp dir, or the limit: this request cannot keep its bytes.
      this.#dropSpill();
      this.#onFailure('overflow');
      // Later chunks must not start a new file out of order.
      if (!this.destroyed) this.destroy();
      return;
    }
    this.spilledBytes += chunk.byteLength;
    if (isLast) this.#endAfterSpill = true;
    this.#armStallTimer();
    // The event loop does not turn while uWS's burst lasts, so write_timeout is checked here too:
    // an upstream that takes nothing must not make us copy the whole body to disk first.
    if (Date.now() - this.#stalledSince > this.#writeTimeoutMs) {
      this.#clearStallTimer();
      this.#dropSpill();
      this.#onFailure('stall');
      // Later chunks of the failed request are dropped, not spilled.
      if (!this.destroyed) this.destroy();
    }
  }

  /** Feed the stream from disk until it is full; true once the file is empty (and closed). */
  #readSpill(): boolean {
    const spill = this.#spill!;
    while (spill.pending > 0) {
      let chunk: Buffer;
      try {
        chunk = spill.take(SPILL_READ_BYTES);
      } catch (err) {
        this.destroy(err as Error);
        return false;
      }
      if (!this.push(chunk)) return false;
    }
    this.#dropSpill();
    if (this.#endAfterSpill) {
      this.push(null);
      return false;
    }
    return true;
  }

  #dropSpill(): void {
    if (this.#spill === null) return;
    this.#spill.close();
    this.#spill = null;
  }

  #armStallTimer(): void {
    if (this.#stallTimer !== null) return;
    this.#stalledSince = Date.now();
    this.#stallTimer = setTimeout(this.#stalled, this.#writeTimeoutMs);
  }

  #clearStallTimer(): void {
    if (this.#stallTimer === null) return;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
  }

  #stalled = (): void => {
    this.#stallTimer = null;
    if (!this.#detached) this.#onFailure('stall');
  };
}
