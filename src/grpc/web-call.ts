/**
 * A gRPC call answered in grpc-web: the upstream is called over HTTP/2 as for native gRPC
 * (call.ts), and the client, on HTTP/1.1 (uWS) or HTTP/2 (h2/stream-response.ts, which dresses a
 * stream as the same uWS response API), gets an ordinary response:
 *
 * - the head: the upstream's status and headers, Content-Type set to the request's grpc-web type,
 *   Access-Control-Allow-Origin (and -Expose-Headers, so a browser can read grpc-status);
 * - the body as it arrives (chunked on HTTP/1.1), each write flushed: a streamed response reaches
 *   the client message by message. Binary modes pass the frames through untouched, `-text`
 *   base64-encodes them (padded only where a frame ends), JSON modes decode each protobuf
 *   message with the method's output type;
 * - the end: the upstream's trailers as a final frame (flag 0x80, `name:value\r\n` lines);
 * - a trailers-only answer (the upstream's or the gateway's own: deadline, unavailable) is a head
 *   carrying grpc-status and grpc-message, with an empty body.
 *
 * A bare `application/json` body has no frames: its status goes in the head when no message came
 * (trailers-only), and is lost after one.
 * Backpressure: a write uWS could not flush pauses the upstream stream until onWritable.
 */
import { STATUS_CODES } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http2';
import type { HttpResponse } from 'uWebSockets.js';
import { GrpcCall, GRPC_STATUS, percentEncode, type GrpcCaller } from './call';
import { Base64Encoder, COMPRESSED_FLAG, DATA_FLAG, frame, FrameBoundary, FrameReader, TRAILER_FLAG, trailerFrame } from './web-codec';
import type { GrpcWebRequest } from './web-request';

/** So a browser's grpc-web client can read a trailers-only status across origins. */
const EXPOSED_HEADERS = 'grpc-status,grpc-message';
const EMPTY = Buffer.alloc(0);

export class GrpcWebCall extends GrpcCall {
  readonly #res: HttpResponse;
  readonly #web: GrpcWebRequest;
  /** `-text`: base64 as the body streams. */
  readonly #base64: Base64Encoder | null;
  /** `-text` with protobuf messages: where frames end, so padding goes only there. */
  readonly #boundary: FrameBoundary | null;
  /** JSON modes: whole frames, to decode message by message. */
  readonly #frames: FrameReader | null;
  /** The head, held until the first body bytes so both go out in one write. */
  #head: OutgoingHttpHeaders | null = null;
  #status = 200;
  #ended = false;
  /** HTTP/1.1 after a chunked request body: close after the response (see downstream.ts). */
  readonly #closeConnection: boolean;

  // What the next cork writes (cork runs its callback synchronously).
  #pendingBody: Buffer | string = EMPTY;
  #pendingEnd = false;
  #writeResult = true;

  constructor(ctx: GrpcCaller, web: GrpcWebRequest) {
    super(ctx);
    this.#res = ctx.res as HttpResponse;
    this.#web = web;
    const mode = web.mode;
    this.#base64 = mode.text ? new Base64Encoder() : null;
    this.#boundary = mode.text && !mode.json ? new FrameBoundary() : null;
    this.#frames = mode.json ? new FrameReader() : null;
    this.#closeConnection = ctx.request.header('transfer-encoding') !== undefined;
  }

  protected get downstreamGone(): boolean {
    return this.#ended || this.ctx.aborted;
  }

  protected sendHead(status: number, headers: OutgoingHttpHeaders, trailersOnly: boolean): void {
    this.#status = status;
    this.#head = this.#webHead(headers);
    if (trailersOnly) this.#write(EMPTY, true);
  }

  protected sendData(chunk: Buffer): boolean {
    let out: Buffer | string;
    if (this.#frames !== null) {
      const json = this.#transcode(chunk);
      if (json === null) return true;
      out = this.#base64 === null ? json : this.#base64.encode(json, true);
    } else if (this.#base64 !== null) {
      out = this.#base64.encode(chunk, this.#boundary!.advance(chunk));
    } else {
      out = chunk;
    }
    if (out.length === 0) return true;
    return this.#write(out, false);
  }

  protected sendEnd(): void {
    this.#end(this.trailers ?? { 'grpc-status': String(GRPC_STATUS.INTERNAL), 'grpc-message': 'upstream sent no trailers' });
    this.finish();
  }

  protected sendStatus(code: number, message: string, headSent: boolean): void {
    if (!headSent) {
      this.#status = 200;
      const head: OutgoingHttpHeaders = { 'grpc-status': String(code), 'grpc-message': message };
      this.addRequestId(head);
      this.#head = this.#webHead(head);
      this.#write(EMPTY, true);
      return;
    }
    this.#end({ 'grpc-status': String(code), 'grpc-message': message });
  }

  /**
   * End with these trailers: as the trailer frame, or, for a bare JSON body (no frames) whose
   * head is still held because no message came, in the head (trailers-only).
   */
  #end(trailers: OutgoingHttpHeaders): void {
    const head = this.#head;
    if (!this.#web.mode.framed && head !== null) {
      for (const name of Object.keys(trailers)) head[name] = trailers[name];
      this.#write(EMPTY, true);
      return;
    }
    this.#write(this.#tail(trailers), true);
  }

  /** The upstream's head as a grpc-web head. */
  #webHead(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
    const web = this.#web;
    headers['content-type'] = web.mode.contentType;
    if (web.allowOrigin !== null) {
      headers['access-control-allow-origin'] = web.allowOrigin;
      headers['access-control-expose-headers'] = EXPOSED_HEADERS;
    }
    return headers;
  }

  /** The last body bytes: what base64 held back, and the trailer frame (framed modes only). */
  #tail(trailers: OutgoingHttpHeaders): Buffer | string {
    const mode = this.#web.mode;
    if (!mode.framed) return this.#base64 === null ? EMPTY : this.#base64.encode(EMPTY, true);
    const tail = trailerFrame(trailers as Record<string, string | number | string[] | undefined>);
    return this.#base64 === null ? tail : this.#base64.encode(tail, true);
  }

  /** JSON modes: the whole messages in this chunk, as JSON (framed or concatenated); null if none. */
  #transcode(chunk: Buffer): Buffer | null {
    const frames = this.#frames!.push(chunk);
    if (frames.length === 0) return null;
    const output = this.#web.method!.output;
    const parts: Buffer[] = [];
    for (const f of frames) {
      if ((f.flag & TRAILER_FLAG) !== 0) continue;
      if ((f.flag & COMPRESSED_FLAG) !== 0) {
        this.#cut('a compressed response message cannot be transcoded to JSON');
        return null;
      }
      let json: Buffer;
      try {
        json = Buffer.from(JSON.stringify(output.toObject(output.decode(f.payload), { longs: String, enums: String, bytes: String })));
      } catch (err) {
        this.#cut(`response message is not a valid ${output.fullName.slice(1)}: ${(err as Error).message}`);
        return null;
      }
      parts.push(this.#web.mode.framed ? frame(DATA_FLAG, json) : json);
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** End the response with INTERNAL and cancel the upstream stream. */
  #cut(message: string): void {
    this.#write(this.#tail({ 'grpc-status': String(GRPC_STATUS.INTERNAL), 'grpc-message': percentEncode(message) }), true);
    this.abandon();
  }

  /** Write body bytes (the head first when it is still held), ending the response when `end`. */
  #write(body: Buffer | string, end: boolean): boolean {
    if (this.#ended || this.ctx.aborted) return true;
    this.#pendingBody = body;
    this.#pendingEnd = end;
    try {
      this.#res.cork(this.#corked);
    } catch {
      // Not expected (the response is neither ended nor aborted here), but an exception thrown
      // from an http2 event would cost the worker: cut this response instead.
      this.#ended = true;
      try {
        this.#res.close();
      } catch {
        /* already gone */
      }
      this.abandon();
      return true;
    } finally {
      this.#pendingBody = EMPTY;
    }
    return this.#writeResult;
  }

  #corked = (): void => {
    const res = this.#res;
    const head = this.#head;
    if (head !== null) {
      this.#head = null;
      res.writeStatus(`${this.#status} ${STATUS_CODES[this.#status] ?? 'Unknown'}`);
      for (const name of Object.keys(head)) {
        const value = head[name];
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const v of value) res.writeHeader(name, v);
        else res.writeHeader(name, String(value));
      }
      // A slow client: the upstream pauses (sendData returned false) until uWS drained.
      res.onWritable(this.#onWritable);
    }
    const body = this.#pendingBody;
    this.ctx.responseBytes += body.length;
    if (this.#pendingEnd) {
      this.#ended = true;
      res.end(body, this.#closeConnection);
      this.#writeResult = true;
    } else {
      this.#writeResult = res.write(body);
    }
  };

  #onWritable = (): boolean => {
    this.resumeUpstream();
    return true;
  };
}
