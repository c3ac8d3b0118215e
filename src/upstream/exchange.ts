/**
 * One request sent upstream and its response: what to send (the head serialized once into one
 * buffer, the body stream), the handler that gets the response, and the flags that decide
 * whether a failed attempt may be replayed. A proxied request owns one exchange and reuses it for
 * every attempt (retries), so an attempt allocates nothing but its head buffer.
 */
import type { Readable } from 'node:stream';
import type { Failure } from './failures';
import type { ResponseHead } from './response-head';
import type { UpstreamConnection } from './connection';
import type { UpstreamPool } from './pool';
import { isIdempotent } from '../util/http-methods';

/** What the proxy implements to receive a response (RequestContext). */
export interface ExchangeHandler {
  /** The final response head (1xx are consumed by the engine, as NGINX does). */
  onResponseHead(head: ResponseHead): void;
  /**
   * A body slice, valid during the call only: it may be a view of the engine's shared read
   * buffer (connection.ts), which the next read overwrites. Copy what must outlive the call.
   * Return false to stop reading until `exchange.resume()`.
   */
  onResponseData(chunk: Buffer): boolean;
  onResponseEnd(): void;
  /** `detail`: the parse error reason or the pool's queue message; `cause`: the socket error. */
  onExchangeFailed(failure: Failure, detail: string, cause: Error | null): void;
}

export const enum ExchangeState {
  Idle = 0,
  Queued,
  /** On a connection: connecting, writing, or waiting for / reading the response. */
  Active,
  Done,
}


/** Header values: HTAB, SP, VCHAR, obs-text (no CR, LF, NUL or other controls). */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const WIDE_CHAR = /[^\x00-\xff]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** A control character other than HTAB (DEL included): never sent in a header value. */
export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value);
}

/**
 * A header value as the engine writes it (latin1, one byte per character), or null when it cannot
 * be sent (a control character: header injection). Characters above U+00FF (a unicode username,
 * say) go out as their UTF-8 bytes, as NGINX passes them; everything else byte for byte.
 */
export function headerValueOnWire(value: string): string | null {
  if (!BAD_VALUE.test(value)) return value;
  if (!WIDE_CHAR.test(value) || CONTROL.test(value)) return null;
  return Buffer.from(value, 'utf8').toString('latin1');
}
const BAD_TARGET = /[^\x21-\x7e\x80-\xff]/;

export class UpstreamExchange {
  readonly handler: ExchangeHandler;
  state = ExchangeState.Idle;
  method = '';
  /**
   * The serialized request head (request line + headers + CRLF), built once per attempt. A
   * latin1 string (one character per byte), written with socket.write(head, 'latin1'): node
   * copies a small string straight to the socket, where a Buffer would first be allocated and
   * filled here (bench/micro/pipeline.ts, "engine write").
   */
  head: string | null = null;
  body: Readable | null = null;
  /** Declared body length; -1 = unknown (sent chunked). */
  bodyLength = -1;
  expectContinue = false;
  readTimeoutMs = 60_000;
  writeTimeoutMs = 60_000;
  /** Bytes were written to a socket: the upstream may have seen the request. */
  headWritten = false;
  /** Body bytes were taken from the stream: the request cannot be replayed any more. */
  bodyRead = false;
  /** The whole request (head and body) is written. */
  requestWritten = false;
  /** A byte of the response arrived. */
  responseStarted = false;
  /** The one free replay after a reused connection failed was used. */
  raceRetried = false;
  /** Where the exchange is queued or running. */
  pool: UpstreamPool | null = null;
  conn: UpstreamConnection | null = null;
  /** Queue deadline on the engine's coarse clock (ms), while queued. */
  queueDeadline = 0;

  constructor(handler: ExchangeHandler) {
    this.handler = handler;
  }

  /**
   * Serialize the request head. `headers` is a flat [name, value, ...] list of lower-case names
   * (the proxy's upstream header list). Returns false when a name or value cannot be sent (a
   * control character: header injection), or the target is malformed.
   *
   * `validated`: every name is a token and every value is already in its wire form (no control
   * character, nothing above U+00FF), as the proxy guarantees for its list (the client's headers
   * passed uWS's parser and the request checks, plugin edits are checked when they are set:
   * RequestContext.setUpstreamHeader). The per-header checks are then skipped: two regex tests
   * per header were a third of this function's cost (bench/micro/pipeline.ts, "engine write").
   */
  prepare(
    method: string,
    target: string,
    headers: readonly string[],
    body: Readable | null,
    bodyLength: number,
    readTimeoutMs: number,
    writeTimeoutMs: number,
    validated = false,
  ): boolean {
    if (BAD_TARGET.test(target)) return false;
    let text = method + ' ' + target + ' HTTP/1.1\r\n';
    let expect = false;
    let hasLength = false;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      if (name === 'expect') {
        // Honoured only for a body still to come; the engine waits for 100 before sending it.
        if (body === null || value.toLowerCase() !== '100-continue') continue;
        expect = true;
      } else if (name === 'content-length') {
        if (body === null && bodyLength < 0) continue;
        hasLength = true;
      }
      if (validated) {
        text += name + ': ' + value + '\r\n';
        continue;
      }
      if (!TOKEN.test(name)) return false;
      const wire = headerValueOnWire(value);
      if (wire === null) return false;
      text += name + ': ' + wire + '\r\n';
    }
    if (body !== null) {
      if (bodyLength < 0) text += 'transfer-encoding: chunked\r\n';
      else if (!hasLength) text += 'content-length: ' + bodyLength + '\r\n';
    } else if (!hasLength && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
      // As undici and NGINX: a body-carrying method without a body says so.
      text += 'content-length: 0\r\n';
    }
    text += '\r\n';
    this.head = text;
    this.method = method;
    this.body = body;
    this.bodyLength = body === null ? -1 : bodyLength;
    this.expectContinue = expect;
    this.readTimeoutMs = readTimeoutMs;
    this.writeTimeoutMs = writeTimeoutMs;
    return true;
  }

  /** Reset the per-attempt flags (the head stays: a replay sends the same bytes). */
  beginAttempt(): void {
    this.state = ExchangeState.Idle;
    this.headWritten = false;
    this.bodyRead = false;
    this.requestWritten = false;
    this.responseStarted = false;
    this.raceRetried = false;
    this.conn = null;
    this.pool = null;
  }

  /** The request can be sent again on another connection without a risk of doing it twice. */
  get replayable(): boolean {
    if (this.body === null) return !this.headWritten || isIdempotent(this.method);
    return !this.bodyRead;
  }

  /** The proxy lost interest (client gone, local reply): drop the exchange wherever it is. */
  abort(): void {
    const state = this.state;
    this.state = ExchangeState.Done;
    if (state === ExchangeState.Queued) this.pool?.dequeue(this);
    else if (state === ExchangeState.Active) this.conn?.abandon(this);
    this.conn = null;
  }

  /** The client drained: read the upstream again. */
  resume(): void {
    if (this.state === ExchangeState.Active) this.conn?.resumeReading();
  }
}
