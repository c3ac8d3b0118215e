/**
 * One HTTP/2 stream dressed as the part of uWS's HttpResponse that the request path uses
 * (proxy/request-context.ts, proxy/request-body.ts, proxy/server.ts), so an h2 request runs the
 * same routing, plugins, balancer and upstream engine as an HTTP/1.1 one, in the same thread,
 * without a loopback hop.
 *
 * uWS semantics kept: status and headers are collected and go out with the first body byte or
 * the end; `write`/`tryEnd` report backpressure (node's stream buffered past its high-water
 * mark) and `onWritable` fires on 'drain'; `onAborted` fires once when the stream dies before we
 * ended it. Unlike uWS, a write never leaves bytes unsent (node buffers them), so the offset
 * always advances by the whole chunk and a resumed `tryEnd` gets an empty remainder.
 *
 * HTTP/1.1-only response headers (Connection and the hop-by-hop ones it implies) are dropped:
 * RFC 9113 §8.2.2 makes a response carrying them malformed.
 */
import http2, { type ServerHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL } = http2.constants;

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
type Text = string | Buffer | ArrayBuffer | Uint8Array;

function text(value: Text): string {
  if (typeof value === 'string') return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString('latin1');
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
}

/**
 * The bytes to queue on the stream, copied: uWS copies what it is given before returning, so
 * callers hand over views they reuse (the upstream engine's shared read buffer, say), and node's
 * stream keeps a reference until the bytes are flushed.
 */
function bytes(value: Text | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return Buffer.from(value);
  if (value instanceof ArrayBuffer) return Buffer.from(new Uint8Array(value));
  return Buffer.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
}

export class H2StreamResponse {
  readonly stream: ServerHttp2Stream;
  #status = 200;
  #headers: OutgoingHttpHeaders = {};
  #headSent = false;
  #ended = false;
  #aborted = false;
  #offset = 0;
  #onAborted: (() => void) | null = null;
  #onWritable: ((offset: number) => boolean) | null = null;
  #onData: ((chunk: ArrayBuffer, isLast: boolean) => void) | null = null;

  constructor(stream: ServerHttp2Stream) {
    this.stream = stream;
    stream.on('close', () => {
      if (this.#ended || this.#aborted) return;
      this.#aborted = true;
      const handler = this.#onAborted;
      this.#onAborted = null;
      if (handler !== null) handler();
    });
    stream.on('error', () => {
      /* a reset stream: 'close' follows and reports the abort */
    });
    stream.on('drain', () => {
      const handler = this.#onWritable;
      if (handler !== null && !this.#aborted) handler(this.#offset);
    });
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  onAborted(handler: () => void): this {
    this.#onAborted = handler;
    return this;
  }

  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): this {
    this.#onData = handler;
    const stream = this.stream;
    if (stream.readableEnded) {
      handler(new ArrayBuffer(0), true);
      return this;
    }
    stream.on('data', (chunk: Buffer) => {
      if (this.#onData === null) return;
      // uWS hands out an ArrayBuffer valid for the call; a view of node's pooled one is not.
      const ab = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? (chunk.buffer as ArrayBuffer) : chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
      this.#onData(ab, false);
    });
    stream.on('end', () => {
      if (this.#onData !== null) this.#onData(new ArrayBuffer(0), true);
    });
    return this;
  }

  onWritable(handler: (offset: number) => boolean): this {
    this.#onWritable = handler;
    return this;
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  cork(cb: () => void): this {
    cb();
    return this;
  }

  writeStatus(status: Text): this {
    this.#status = parseInt(text(status), 10) || 502;
    return this;
  }

  writeHeader(name: Text, value: Text): this {
    const key = text(name).toLowerCase();
    if (CONNECTION_SPECIFIC.has(key)) return this;
    const v = text(value);
    const prev = this.#headers[key];
    if (prev === undefined) this.#headers[key] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else this.#headers[key] = [String(prev), v];
    return this;
  }

  getWriteOffset(): number {
    return this.#offset;
  }

  #respond(endStream: boolean, contentLength: number): boolean {
    if (this.#headSent) return true;
    if (this.#aborted || this.stream.destroyed) return false;
    this.#headSent = true;
    const headers = this.#headers;
    headers[':status'] = this.#status;
    if (contentLength >= 0 && headers['content-length'] === undefined) headers['content-length'] = contentLength;
    try {
      this.stream.respond(headers, { endStream });
    } catch {
      this.#abortNow();
      return false;
    }
    return true;
  }

  write(chunk: Text): boolean {
    if (!this.#respond(false, -1)) return true;
    const data = bytes(chunk)!;
    this.#offset += data.length;
    return this.stream.write(data);
  }

  tryEnd(chunk: Text, total: number): [boolean, boolean] {
    if (!this.#respond(false, total)) return [true, true];
    const data = bytes(chunk)!;
    this.#offset += data.length;
    if (this.#offset >= total) {
      this.#ended = true;
      this.stream.end(data);
      return [true, true];
    }
    return [data.length === 0 ? true : this.stream.write(data), false];
  }

  end(body?: Text, _closeConnection?: boolean): this {
    if (this.#ended) return this;
    const data = bytes(body);
    if (!this.#headSent) {
      const length = data === undefined ? 0 : data.length;
      if (!this.#respond(length === 0, length)) return this;
      this.#ended = true;
      if (length > 0) this.stream.end(data);
      return this;
    }
    this.#ended = true;
    if (data !== undefined) this.#offset += data.length;
    this.stream.end(data);
    return this;
  }

  endWithoutBody(reportedContentLength?: number, _closeConnection?: boolean): this {
    if (this.#ended) return this;
    this.#ended = true;
    this.#respond(true, reportedContentLength ?? -1);
    if (this.#headSent && !this.stream.writableEnded) this.stream.end();
    return this;
  }

  /**
   * gRPC (grpc/proxy.ts) writes the stream itself (trailers): from now on this object neither
   * writes nor reports the stream's end as an abort.
   */
  takeOver(): void {
    this.#headSent = true;
    this.#ended = true;
  }

  /** uWS's close(): the connection goes; for h2 only this stream is reset. */
  close(): this {
    this.#abortNow();
    return this;
  }

  #abortNow(): void {
    if (this.stream.destroyed) return;
    this.#ended = true;
    this.stream.close(this.#headSent ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL);
  }
}
