/**
 * The downstream stage: writing one response to uWS. The status and headers go out with the first
 * body bytes in one cork (one send(2) for a small response), a body with a known length streams
 * through tryEnd so the client gets the same framing, an unknown length goes chunked, and a slow
 * client pushes back through onWritable (the upstream engine is paused meanwhile). A local reply
 * (a plugin's 401, the gateway's 502) is written here too.
 *
 * The request context extends this class rather than holding one: the writer's state is part of
 * the context's one fixed shape, and a request allocates no extra object for it.
 *
 * uWS rules this file lives by: every write after the handler returned happens inside
 * `res.cork`; after the response ended or the client aborted, `res` is never touched again.
 */
import type { ResponseHead } from '../upstream/response-head';
import { classifyResponseHeader, connectionTokens, nameInFlatList, nameIs, parseContentLength, ResponseHeaderKind, statusLine, statusLineBytes } from './headers';
import type { HttpResponse } from './uws';
import { REQUEST_ID_MAX_LENGTH, REQUEST_ID_PREFIX, writeRequestSerial } from '../logging/request-id';

const enum BodyMode {
  /** Response head not written yet. */
  None = 0,
  /** Upstream gave Content-Length: stream with tryEnd so the client gets the same framing. */
  Sized = 1,
  /** No length known: uWS writes chunked encoding. */
  Chunked = 2,
  /** HEAD, 204, 304: headers only. */
  Bodiless = 3,
}

/** The value of a response-header edit that hides the header instead of writing it. */
export const REMOVED_HEADER = '\u0000removed';

/**
 * The kept upstream header lines of the response being written, reused by every response of this
 * worker (writeUpstreamHead runs inside one cork and uWS copies what it is given). Grows to the
 * largest head seen, which --upstream-max-header-bytes bounds.
 */
let headerBlock: Buffer = Buffer.allocUnsafe(16 * 1024);

function growHeaderBlock(needed: number, used: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(needed, headerBlock.length * 2));
  headerBlock.copy(bigger, 0, 0, used);
  headerBlock = bigger;
  return bigger;
}

/**
 * Copy src[start, end) to dst at `at`; returns the offset after it. Short runs stay in JS: a 14-byte
 * copy took 41 ns as a loop and 131 ns through TypedArray.set or Buffer.copy; they meet near 60.
 */
function copyBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  if (end - start > 64) {
    dst.set(src.subarray(start, end), at);
    return at + end - start;
  }
  for (let i = start; i < end; i++) dst[at++] = src[i];
  return at;
}

/**
 * The two views of `headerBlock` the last writeHeader was given: the first name, and the rest of
 * the block. Responses of one upstream usually keep the same header lengths (Server, Date and
 * Content-Type do), so the views are made again only when a length changes: a Buffer view costs
 * about as much as copying a 40-byte header into the block.
 */
let viewsOf: Buffer | null = null;
let keyView: Buffer = Buffer.alloc(0);
let valueView: Buffer = keyView;
let keyViewLength = -1;
let valueViewEnd = -1;

function blockViews(block: Buffer, keyLength: number, end: number): void {
  if (viewsOf === block && keyViewLength === keyLength && valueViewEnd === end) return;
  if (viewsOf !== block || keyViewLength !== keyLength) keyView = block.subarray(0, keyLength);
  valueView = block.subarray(keyLength + 2, end);
  viewsOf = block;
  keyViewLength = keyLength;
  valueViewEnd = end;
}

/**
 * The plugins' response-header edits in one writeHeader call: the first name as the key, the rest
 * as one string value with the CRLFs between them (uWS writes `key: value\r\n`, so the bytes are
 * those of one call per edit). Each call is a crossing into uWS with two string conversions, and
 * rate-limiting alone sets five headers: README "Performance" has the instructions per request.
 * uWS UTF-8 encodes the string as it would each value alone.
 */
function writeEditsAsOneHeader(res: HttpResponse, edits: readonly string[]): void {
  let first = 0;
  while (first < edits.length && edits[first + 1] === REMOVED_HEADER) first += 2;
  if (first >= edits.length) return;
  let rest = edits[first + 1];
  for (let i = first + 2; i < edits.length; i += 2) {
    const value = edits[i + 1];
    if (value !== REMOVED_HEADER) rest += '\r\n' + edits[i] + ': ' + value;
  }
  res.writeHeader(edits[first], rest);
}

/** The edits as header lines (`name: value\r\n` each), the hidden ones left out. */
function editLines(edits: readonly string[]): string {
  let lines = '';
  for (let i = 0; i < edits.length; i += 2) {
    const value = edits[i + 1];
    if (value !== REMOVED_HEADER) lines += edits[i] + ': ' + value + '\r\n';
  }
  return lines;
}

/**
 * `<id header>: <thread's id prefix>` as bytes, for the id header last seen (one per server, so
 * it is built once), or null when the name is not ASCII.
 */
let idLineHeader = '';
let idLineStart: Uint8Array | null = null;

/** `name: <request id>\r\n` from the id's serial; -1 when the name is not ASCII (nothing written). */
function appendRequestIdLine(block: Buffer, at: number, name: string, serial: number): number {
  if (name !== idLineHeader) {
    idLineHeader = name;
    idLineStart = /^[\x00-\x7f]*$/.test(name) ? Buffer.from(name + ': ' + REQUEST_ID_PREFIX, 'latin1') : null;
  }
  const start = idLineStart;
  if (start === null) return -1;
  // A whole typed array: set() is one memcpy (a JS byte loop costs ~8 cycles a byte here).
  block.set(start, at);
  at = writeRequestSerial(block, at + start.length, serial);
  block[at++] = 13;
  block[at++] = 10;
  return at;
}

/** The response being corked. cork() runs its callback synchronously, so one slot is enough. */
let corked: DownstreamResponse | null = null;
let corkedChunk: Buffer | null = null;
let corkedResult = true;

function corkedWriteHead(): void {
  corked!.writeHead();
}
function corkedWriteChunk(): void {
  const out = corked!;
  if (out.headPending) out.writeHead();
  corkedResult = out.writeChunk(corkedChunk!);
}
function corkedLocalReply(): void {
  corked!.writeLocalReply();
}
function corkedFinish(): void {
  const out = corked!;
  if (out.headPending) out.writeHead();
  // The last bytes a response body filter held back.
  if (corkedChunk !== null && corkedChunk.length > 0) out.writeChunk(corkedChunk);
  out.finishBody();
}

export abstract class DownstreamResponse {
  readonly res: HttpResponse;
  /** The client went away: never touch `res` again. */
  aborted = false;
  /** The response has ended: never touch `res` again. */
  done = false;
  /** Status and headers are on the wire (or in uWS's buffer); a local reply is no longer possible. */
  headSent = false;
  /**
   * The upstream head arrived but is not written yet. It goes out together with the first body
   * chunk (or the end), so a small response costs one send(2) instead of two; a response whose
   * body is slow to start gets its head flushed at the end of the event-loop turn instead.
   */
  headPending = false;
  responseStatus = 0;
  /** Response body bytes handed to uWS. */
  responseBytes = 0;
  #mode = BodyMode.None;
  #total = 0;
  #pendingChunk: Buffer | null = null;
  #pendingStart = 0;
  #writableRegistered = false;
  /**
   * `res` is uWS's own response, which takes several upstream header lines in one writeHeader
   * call. False for an HTTP/2 stream dressed as one (h2/stream-response.ts), which reads each
   * call as one name and one value.
   */
  headerBlocks = true;
  /**
   * uWS will close after this response because of the request's `Connection: close`, but writes
   * no `Connection: close` itself (it does only when it decides to close). RFC 9112 §9.6 asks the
   * server to say it, NGINX does, and clients such as wrk otherwise write their next request on
   * the closing connection: so the header is written here. Set by the server for uWS responses.
   * (A close option uWS does not see, as in `keep-alive, close`, makes closeAfterResponse true,
   * and uWS then writes the header.)
   */
  announceClose = false;

  constructor(res: HttpResponse) {
    this.res = res;
  }

  /** Inside cork: the upstream head with the plugins' edits (see writeUpstreamHead). */
  abstract writeHead(): void;
  /** Inside cork: a local reply's head and body. */
  abstract writeLocalReply(): void;
  /** The server is draining: close connections after their response. */
  protected abstract get closeAfterResponse(): boolean;
  /** The response ended, whole or cut: release the request (exactly once). */
  protected abstract responseEnded(): void;
  /** The response was cut short: stop the upstream exchange. */
  protected abstract cancelUpstream(): void;
  /** The client is writable again: let the upstream engine read on. */
  protected abstract resumeUpstream(): void;

  // ---------------------------------------------------------------- from outside any cork

  /** End of the event-loop turn: write a head whose body has not started yet. */
  flushPendingHead(): void {
    if (!this.headPending || this.aborted || this.done) return;
    corked = this;
    this.res.cork(corkedWriteHead);
    corked = null;
  }

  /** A body chunk (head first when pending). False when the client is slow: pause the upstream. */
  sendChunk(chunk: Buffer): boolean {
    corked = this;
    corkedChunk = chunk;
    this.res.cork(corkedWriteChunk);
    corked = null;
    corkedChunk = null;
    return corkedResult;
  }

  /** The upstream body ended: the head if pending, a held-back tail, then the end. */
  sendEnd(tail: Buffer | null): void {
    corked = this;
    corkedChunk = tail;
    this.res.cork(corkedFinish);
    corked = null;
    corkedChunk = null;
  }

  /** Write a local reply (writeLocalReply) in one cork. */
  sendLocalReply(): void {
    corked = this;
    this.res.cork(corkedLocalReply);
    corked = null;
  }

  /** Too late for a status code: cut the connection so the client sees a truncated response. */
  closeDownstream(): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.cancelUpstream();
    this.res.close();
    this.responseEnded();
  }

  // ---------------------------------------------------------------- inside cork

  /**
   * Write the upstream's status and headers, dropping hop-by-hop ones and those the plugins
   * replaced (`edits`, flat pairs, REMOVED_HEADER hides one), then the edits and the request id.
   * Decides the body's framing: `rewrites` (a body filter changes the bytes) drops the length.
   *
   * The kept upstream headers are copied, as the bytes they arrived in, into one block and given
   * to uWS in one writeHeader call (see `headerBlocks`); names are compared in place in the
   * upstream's buffer. One call and no Buffer view per header: bench/micro/pipeline.ts
   * ("response head") measures the JS side of both ways (416 vs 358 ns for 4 kept headers); the
   * saved crossings into uWS show in the instructions per request (README "Performance").
   */
  protected writeUpstreamHead(
    head: ResponseHead,
    edits: readonly string[] | null,
    idHeader: string,
    requestId: string,
    requestSerial: number,
    bodiless: boolean,
    rewrites: boolean,
  ): void {
    const res = this.res;
    const status = this.responseStatus;
    this.headSent = true;
    this.headPending = false;
    res.writeStatus(this.headerBlocks ? statusLineBytes(status) : statusLine(status));
    const buf = head.buf;
    const ranges = head.ranges;
    let contentLength = -1;
    // Names a Connection header lists are hop-by-hop too (RFC 9110 §7.6.1) and may come before
    // it. uWS's block can be restarted when the rare such value shows up; per-header writes (h2)
    // cannot be taken back, so they look first.
    let extraHopByHop = this.headerBlocks ? null : connectionNamedHeaders(head);
    let block = headerBlock;
    let used = 0;
    let firstNameLength = 0;
    for (let i = 0; i < head.count; i++) {
      const nameStart = ranges[i * 4];
      const nameEnd = ranges[i * 4 + 1];
      const valueStart = ranges[i * 4 + 2];
      const valueEnd = ranges[i * 4 + 3];
      switch (classifyResponseHeader(buf, nameStart, nameEnd)) {
        case ResponseHeaderKind.Forward: {
          if (extraHopByHop !== null && extraHopByHop.includes(head.nameString(i))) break;
          if (edits !== null && nameInFlatList(buf, edits, nameStart, nameEnd)) break;
          if (idHeader.length === nameEnd - nameStart && nameIs(buf, idHeader, nameStart, nameEnd)) break;
          if (!this.headerBlocks) {
            res.writeHeader(head.name(i), head.value(i));
            break;
          }
          const lineLength = nameEnd - nameStart + valueEnd - valueStart + 4;
          if (used + lineLength > block.length) block = growHeaderBlock(used + lineLength, used);
          if (used === 0) firstNameLength = nameEnd - nameStart;
          used = copyBytes(buf, nameStart, nameEnd, block, used);
          block[used++] = 58; // ':'
          block[used++] = 32; // ' '
          used = copyBytes(buf, valueStart, valueEnd, block, used);
          block[used++] = 13;
          block[used++] = 10;
          break;
        }
        case ResponseHeaderKind.ContentLength:
          contentLength = parseContentLength(buf, valueStart, valueEnd);
          break;
        case ResponseHeaderKind.Connection:
          if (extraHopByHop === null && !isPlainConnectionValue(buf, valueStart, valueEnd)) {
            extraHopByHop = connectionNamedHeaders(head);
            if (extraHopByHop !== null) {
              // Start the block again, now knowing which names to leave out.
              used = 0;
              i = -1;
            }
          }
          break;
        default:
          break;
      }
    }
    // The request id joins the block unless a plugin set that header, written from its serial
    // number (logging/request-id.ts): the id string is a concatenation, and reading one of those
    // character by character first makes V8 flatten it.
    const idWanted = idHeader !== '' && (edits === null || !hasFlat(edits, idHeader));
    let idInBlock = false;
    if (idWanted && this.headerBlocks && requestSerial > 0) {
      const lineLength = idHeader.length + REQUEST_ID_MAX_LENGTH + 4;
      if (used + lineLength > block.length) block = growHeaderBlock(used + lineLength, used);
      const end = appendRequestIdLine(block, used, idHeader, requestSerial);
      if (end >= 0) {
        if (used === 0) firstNameLength = idHeader.length;
        used = end;
        idInBlock = true;
      }
    }
    // The plugins' edits follow in the block, as one string written by one native call (its
    // UTF-8 bytes, as uWS would write each value): a string pair given to writeHeader costs a
    // crossing and two conversions per edit, and rate-limiting alone sets five headers.
    let editsInBlock = false;
    if (edits !== null && this.headerBlocks && used > 0) {
      const lines = editLines(edits);
      const room = used + lines.length * 3;
      if (room > block.length) block = growHeaderBlock(room, used);
      used += block.write(lines, used, 'utf8');
      editsInBlock = true;
    }
    // uWS writes `key: value\r\n`: the first name as the key, the rest of the block (its last CRLF
    // left to uWS) as the value, reproduce the block byte for byte. uWS copies it before returning.
    if (used > 0) {
      blockViews(block, firstNameLength, used - 2);
      res.writeHeader(keyView, valueView);
    }
    if (edits !== null && !editsInBlock) {
      if (this.headerBlocks) writeEditsAsOneHeader(res, edits);
      else for (let i = 0; i < edits.length; i += 2) if (edits[i + 1] !== REMOVED_HEADER) res.writeHeader(edits[i], edits[i + 1]);
    }
    if (idWanted && !idInBlock) res.writeHeader(idHeader, requestId);
    if (this.announceClose) res.writeHeader('connection', 'close');
    if (bodiless || status === 204 || status === 304) {
      this.#mode = BodyMode.Bodiless;
      this.#total = contentLength;
    } else if (contentLength >= 0 && !rewrites) {
      this.#mode = BodyMode.Sized;
      this.#total = contentLength;
    } else {
      this.#mode = BodyMode.Chunked;
    }
  }

  /**
   * A local reply: status, content type, the replying plugin's `headers` (they win over the
   * response plugins' `edits`), the request id, and the body, closing after it when `close`.
   */
  protected writeLocal(contentType: string, headers: readonly string[] | null, edits: readonly string[] | null, idHeader: string, requestId: string, body: string | Buffer, close: boolean): void {
    const res = this.res;
    res.writeStatus(statusLine(this.responseStatus));
    res.writeHeader('content-type', contentType);
    if (headers !== null) for (let i = 0; i + 1 < headers.length; i += 2) res.writeHeader(headers[i], headers[i + 1]);
    if (edits !== null) {
      for (let i = 0; i + 1 < edits.length; i += 2) {
        if (edits[i + 1] !== REMOVED_HEADER && (headers === null || !hasFlatIgnoreCase(headers, edits[i]))) res.writeHeader(edits[i], edits[i + 1]);
      }
    }
    if (idHeader !== '' && (headers === null || !hasFlatIgnoreCase(headers, idHeader)) && (edits === null || !hasFlat(edits, idHeader))) {
      res.writeHeader(idHeader, requestId);
    }
    if (this.announceClose) res.writeHeader('connection', 'close');
    res.end(body, close);
  }

  /** @internal inside cork. Returns false when the client is slow (the engine then pauses). */
  writeChunk(chunk: Buffer): boolean {
    const res = this.res;
    if (this.#mode === BodyMode.Sized && this.responseBytes === 0 && chunk.length === this.#total) {
      // The whole body in one piece (every small response): end() frames it in one call, can
      // still say `Connection: close`, and buffers what the client cannot take yet. tryEnd would
      // also allocate its result pair, and need getWriteOffset: two more calls into uWS.
      this.responseBytes = chunk.length;
      res.end(chunk, this.closeAfterResponse);
      this.#markDone();
      return true;
    }
    // uWS's write offset: every earlier chunk was taken whole before this one was read (a partial
    // take pauses the upstream until #writable finished it), so it is what we handed over so far.
    const start = this.responseBytes;
    this.responseBytes += chunk.length;
    if (this.#mode === BodyMode.Sized) {
      const [ok, done] = res.tryEnd(chunk, this.#total);
      if (done) {
        this.#markDone();
        return true;
      }
      if (ok) return true;
      // The chunk may be a view of the engine's shared read buffer: keep a copy.
      this.#pendingChunk = Buffer.from(chunk);
      this.#pendingStart = start;
      this.#awaitWritable();
      return false;
    }
    if (this.#mode === BodyMode.Chunked) {
      if (res.write(chunk)) return true;
      this.#awaitWritable();
      return false;
    }
    // Bodiless: an upstream that sends a body to HEAD is ignored.
    return true;
  }

  /** @internal inside cork */
  finishBody(): void {
    const res = this.res;
    switch (this.#mode) {
      case BodyMode.Sized:
        if (this.done) break;
        if (this.#total === 0) {
          res.end(undefined, this.closeAfterResponse);
          this.#markDone();
        } else {
          // The upstream's body ended before the length it declared (a chunked body with a
          // Content-Length never gets here: the parser refuses CL with TE).
          this.closeDownstream();
        }
        break;
      case BodyMode.Chunked:
        // No closeConnection here: uWS (v20.30 and v20.57) writes a Connection header after the
        // body once it has started (test/conformance/http1/uws-issues/close-ignored-when-pipelined.js).
        res.end();
        this.#markDone();
        break;
      case BodyMode.Bodiless:
        // uWS reads an explicit `undefined` length as a number; omit the argument instead.
        // A 204 never carries Content-Length (RFC 9110 §8.6).
        if (this.#total >= 0 && this.responseStatus !== 204) res.endWithoutBody(this.#total, this.closeAfterResponse);
        else res.endWithoutBody();
        this.#markDone();
        break;
      default:
        break;
    }
  }

  #awaitWritable(): void {
    if (this.#writableRegistered) return;
    this.#writableRegistered = true;
    // Registered once, and only for clients slow enough to push back.
    this.res.onWritable((offset) => this.#writable(offset));
  }

  #writable(offset: number): boolean {
    if (this.aborted || this.done) return true;
    if (this.#mode === BodyMode.Sized && this.#pendingChunk !== null) {
      const [ok, done] = this.res.tryEnd(this.#pendingChunk.subarray(offset - this.#pendingStart), this.#total);
      if (done) this.#markDone();
      if (!ok) return false;
      this.#pendingChunk = null;
    }
    // Also when the last bytes just went out (done): the engine still holds the end of the
    // response, and reading it is what returns the connection to its pool.
    this.resumeUpstream();
    return true;
  }

  #markDone(): void {
    if (this.done) return;
    this.done = true;
    this.responseEnded();
  }
}

/**
 * Header names the upstream's Connection header(s) declare hop-by-hop (RFC 9110 §7.6.1); null
 * for the usual `keep-alive` or `close`, recognized in the raw bytes without making a string.
 */
function connectionNamedHeaders(head: ResponseHead): string[] | null {
  const buf = head.buf;
  const ranges = head.ranges;
  let names: string[] | null = null;
  for (let i = 0; i < head.count; i++) {
    const nameStart = ranges[i * 4];
    const nameEnd = ranges[i * 4 + 1];
    if (nameEnd - nameStart !== 10 || !nameIs(buf, 'connection', nameStart, nameEnd)) continue;
    const valueStart = ranges[i * 4 + 2];
    const valueEnd = ranges[i * 4 + 3];
    if (isPlainConnectionValue(buf, valueStart, valueEnd)) continue;
    const tokens = connectionTokens(head.valueString(i).toLowerCase());
    if (tokens !== null) names = names === null ? tokens : names.concat(tokens);
  }
  return names;
}

/** A Connection value that names no header: `keep-alive` or `close`, compared in the raw bytes. */
function isPlainConnectionValue(buf: Buffer, start: number, end: number): boolean {
  return nameIs(buf, 'keep-alive', start, end) || nameIs(buf, 'close', start, end);
}

function hasFlatIgnoreCase(list: readonly string[], lowerName: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i].toLowerCase() === lowerName) return true;
  return false;
}

export function hasFlat(list: readonly string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true;
  return false;
}
