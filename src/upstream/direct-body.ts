/**
 * A request body that can hand its chunks straight to the upstream socket, skipping the stream
 * and the copy (proxy/request-body.ts implements it). The client's chunk is a view of uWS's read
 * buffer, valid only during the data callback; a socket whose write copies what the kernel does
 * not take (NativeSocket.copiesWrites) can take such a view, a net.Socket cannot (it keeps a
 * reference until the write completes).
 *
 * Measured on a 1 MiB upload (README, "Upstream engine"): copying each chunk into a fresh Buffer
 * was 12 % of the CPU in memmove, and the external memory of those Buffers kept V8's major GC
 * busy (another ~20 %).
 */
export const enum DirectWrite {
  /** Not now (the head is not out, a drain or a 100 Continue is awaited): use the stream. */
  Refused = 0,
  Written = 1,
  /** Written, but the socket is full: hold further chunks until `upstreamDrained`. */
  WrittenWaitDrain = 2,
}

export interface DirectBodySink {
  writeBodyDirect(chunk: Uint8Array): DirectWrite;
}

export interface DirectBody {
  /** Start (a sink) or stop (null) handing chunks to the upstream connection. */
  attachDirect(sink: DirectBodySink | null): void;
  /** The upstream socket took everything queued: the client may send again. */
  upstreamDrained(): void;
}

export function isDirectBody(body: object): body is DirectBody {
  return typeof (body as Partial<DirectBody>).attachDirect === 'function';
}
