/**
 * A strict, incremental HTTP/1.1 response parser (RFC 9112), one per upstream connection and
 * reused for every response on it. Written for a proxy: the head is validated in one pass once
 * its end (CRLF CRLF) is in, and kept as byte ranges (ResponseHead); the body is framed by
 * Content-Length, chunked coding (extensions and trailers checked, then dropped) or the close of
 * the connection, and handed on as slices of the socket's own chunks, never copied.
 *
 * What a lenient parser would let through is an error here, because a proxy that guesses at
 * framing can be made to smuggle responses: CL with TE, conflicting CLs, a bad or overflowing
 * chunk size, a bare CR or LF, NUL, obs-fold, a line without a colon, an oversized head.
 *
 * The byte work (head validation, chunked framing) is done by a ParserKernel: TypeScript for
 * `--upstream-engine js`, the addon's C for `native` (parser-kernel.ts, native-kernel.ts); this
 * class is the same for both, so both engines frame, pause and fail alike.
 */
import { ParseError } from './failures';
import { ResponseHead } from './response-head';
import { ChunkSlot, HEAD_GROW, HEAD_TOO_LARGE, HeadOut, TCHAR, VCHAR, jsKernel, type ParserKernel } from './parser-kernel';

/** Where parse results go: the connection, or a test's collector. */
export interface ParserSink {
  /** A 1xx head (not 101): framing-free, another head follows. */
  onInformational(status: number): void;
  /** The final head. Framing state is set before the call. */
  onHead(head: ResponseHead): void;
  /**
   * False: pause (deliver nothing more until `resume()`). The slice is valid during the call
   * only (it may be a view of a shared read buffer): copy what must outlive it.
   */
  onBody(chunk: Buffer): boolean;
  /** The response is complete; `extra` is true when bytes followed it in the same read. */
  onComplete(extra: boolean): void;
  onParseError(error: ParseError): void;
}

const enum S {
  Head = 0,
  BodyLength,
  BodyClose,
  ChunkSize,
  ChunkSizeWs,
  ChunkExt,
  ChunkSizeLf,
  ChunkData,
  ChunkDataCr,
  ChunkDataLf,
  TrailerLineStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  TrailerEndLf,
  Done,
  Failed,
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const SEMI = 59;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** 13 hex digits: 2^52, still an exact JS number. */
const MAX_CHUNK_SIZE_DIGITS = 13;
/** Longest chunk-size line extension we read through. */
const MAX_CHUNK_EXT_BYTES = 4096;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

/** buf[start, end) in a Buffer of its own (buf.copy: a JS byte loop measured 5x the instructions). */
function copyOut(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  buf.copy(out, 0, start, end);
  return out;
}

export class ResponseParser {
  readonly #sink: ParserSink;
  readonly #maxHeadBytes: number;
  #state = S.Head;
  /** The request was HEAD: the response has no body whatever its headers say. */
  #noBody = false;
  /** Head bytes of a head split across reads (allocated on first need, then reused). */
  #acc: Buffer | null = null;
  #accLen = 0;
  /** Body bytes left: of the Content-Length, or of the current chunk. */
  #remaining = 0;
  #sizeDigits = 0;
  #extBytes = 0;
  #trailerBytes = 0;
  /** Bytes of the current response seen so far (0: the upstream has not started answering). */
  bytesSeen = 0;
  /** The current response's head said the connection may be kept (and its framing allows it). */
  keepAlive = false;
  /**
   * The upstream's `Keep-Alive: timeout=N` hint in ms (-1 without one): it closes idle
   * connections after that, so we stop reusing them a little before.
   */
  keepAliveHintMs = -1;
  lastError = ParseError.None;
  /** The response ended inside the current step; execute tells the sink once the offset is known. */
  #pendingComplete = false;
  #paused = false;
  /** The read being parsed (held while paused) and the offset reached in it. */
  #buf: Buffer | null = null;
  #pos = 0;
  /** `#buf` is a shared read buffer that is reused once execute returns (see execute). */
  #borrowed = false;

  /** Who reads the bytes: the TypeScript kernel or the C one (parser-kernel.ts). */
  readonly #kernel: ParserKernel;
  /** The kernel frames chunks (the native one); null: this class does, byte by byte. */
  readonly #chunkState: Float64Array | null;

  constructor(sink: ParserSink, maxHeadBytes: number, kernel: ParserKernel = jsKernel) {
    this.#sink = sink;
    this.#maxHeadBytes = maxHeadBytes;
    this.#kernel = kernel;
    this.#chunkState = kernel.chunkState;
  }

  /** Get ready for the response to a new request. */
  reset(requestIsHead: boolean): void {
    this.#state = S.Head;
    this.#noBody = requestIsHead;
    this.#accLen = 0;
    this.bytesSeen = 0;
    this.keepAlive = false;
    this.keepAliveHintMs = -1;
    this.lastError = ParseError.None;
    this.#pendingComplete = false;
    this.#paused = false;
    this.#buf = null;
  }

  /** Stop parsing (the exchange was abandoned); later input is ignored. */
  stop(): void {
    this.#state = S.Failed;
    this.#paused = false;
    this.#buf = null;
  }

  get complete(): boolean {
    return this.#state === S.Done;
  }

  /** The body runs until the connection closes. */
  get closeDelimited(): boolean {
    return this.#state === S.BodyClose;
  }

  /**
   * Feed one read. Results go to the sink, synchronously, until the sink asks for a pause.
   * `borrowed`: `buf` is the connection's shared read buffer (connection.ts), overwritten by the
   * next read of any connection. The parser then copies what it keeps after returning (the head,
   * the rest of a paused read); body slices handed to the sink are only valid during the call.
   */
  execute(buf: Buffer, borrowed = false): void {
    if (this.#state === S.Done) {
      if (buf.length > 0) this.#fail(ParseError.ExtraBytes);
      return;
    }
    this.bytesSeen += buf.length;
    this.#buf = buf;
    this.#borrowed = borrowed;
    this.#pos = 0;
    this.#run();
  }

  /**
   * The sink refused a body slice (its client is slow): nothing more, not even the end of the
   * response, is delivered until `resume`. The rest of the read is held here, so a proxy that
   * writes with uWS `tryEnd` never gets a second slice while the first is pending.
   */
  get paused(): boolean {
    return this.#paused;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#buf !== null) this.#run();
  }

  #run(): void {
    const buf = this.#buf!;
    const len = buf.length;
    let i = this.#pos;
    for (;;) {
      if (this.#paused) break;
      // A sized body whose last bytes went out in the previous step.
      if (this.#state === S.BodyLength && this.#remaining === 0) this.#complete();
      if (this.#pendingComplete) {
        this.#pendingComplete = false;
        if ((this.#state as S) === S.Done) this.#sink.onComplete(i < len);
      }
      if (i >= len) break;
      switch (this.#state as S) {
        case S.Head:
          i = this.#head(buf, i);
          break;
        case S.BodyLength: {
          const n = Math.min(this.#remaining, len - i);
          this.#remaining -= n;
          const slice = i === 0 && n === len ? buf : buf.subarray(i, i + n);
          i += n;
          if (!this.#sink.onBody(slice)) this.#paused = true;
          break;
        }
        case S.BodyClose: {
          const slice = i === 0 ? buf : buf.subarray(i);
          i = len;
          if (!this.#sink.onBody(slice)) this.#paused = true;
          break;
        }
        case S.ChunkData: {
          const n = Math.min(this.#remaining, len - i);
          this.#remaining -= n;
          const slice = buf.subarray(i, i + n);
          i += n;
          if (this.#remaining === 0) this.#state = S.ChunkDataCr;
          if (!this.#sink.onBody(slice)) this.#paused = true;
          break;
        }
        case S.Done:
        case S.Failed:
          // Done: more bytes than the framing allows, in the same read (the sink was told with
          // onComplete(extra)); they are never forwarded.
          this.#buf = null;
          return;
        default:
          i = this.#chunkState === null ? this.#chunkByte(buf[i], i) : this.#chunkScan(buf, i);
          break;
      }
    }
    this.#pos = i;
    if (!this.#paused) {
      this.#buf = null;
    } else if (this.#borrowed) {
      // Paused (a slow client) on a shared read buffer: keep our own copy of the rest.
      this.#buf = Buffer.from(buf.subarray(i));
      this.#pos = 0;
      this.#borrowed = false;
    }
  }

  /** The upstream closed the connection (EOF). True when that ended the response cleanly. */
  eof(): boolean {
    switch (this.#state) {
      case S.BodyClose:
        this.#complete();
        this.#pendingComplete = false;
        this.#sink.onComplete(false);
        return true;
      case S.Done:
      case S.Failed:
        return this.#state === S.Done;
      case S.Head:
        // Nothing at all is a reset (the caller decides); a partial head is a broken response.
        if (this.bytesSeen > 0) this.#fail(ParseError.IncompleteHead);
        return false;
      default:
        this.#fail(ParseError.IncompleteBody);
        return false;
    }
  }

  #fail(error: ParseError): void {
    this.#state = S.Failed;
    this.lastError = error;
    this.#sink.onParseError(error);
  }

  #complete(): void {
    this.#state = S.Done;
    this.#pendingComplete = true;
  }

  /** Look for the end of the head from `start`; parse it when found. Returns the next offset. */
  #head(buf: Buffer, start: number): number {
    const len = buf.length;
    const max = this.#maxHeadBytes;
    if (this.#accLen === 0) {
      // The common case: the whole head in this read, found and parsed in place in one step.
      const kernel = this.#kernel;
      kernel.out[HeadOut.KeepAliveHintMs] = this.keepAliveHintMs;
      const end = kernel.scanHead(buf, start, max);
      if (end === HEAD_TOO_LARGE) {
        this.#fail(ParseError.HeadTooLarge);
        return len;
      }
      if (end >= 0) {
        this.#headParsed(buf, start, end, kernel.out[HeadOut.Result], this.#borrowed);
        return end;
      }
      // The head continues in a later read: keep what we have.
      if (len - start > max + 3) {
        this.#fail(ParseError.HeadTooLarge);
        return len;
      }
      const acc = (this.#acc ??= Buffer.allocUnsafe(max + 4));
      buf.copy(acc, 0, start, len);
      this.#accLen = len - start;
      return len;
    }
    const acc = this.#acc!;
    const old = this.#accLen;
    const take = Math.min(len - start, acc.length - old);
    buf.copy(acc, old, start, start + take);
    const total = old + take;
    const at = acc.subarray(0, total).indexOf(HEAD_END, Math.max(0, old - 3));
    if (at < 0) {
      if (total >= acc.length) {
        this.#fail(ParseError.HeadTooLarge);
        return len;
      }
      this.#accLen = total;
      return start + take;
    }
    const end = at + 4;
    if (end > max) {
      this.#fail(ParseError.HeadTooLarge);
      return len;
    }
    this.#accLen = 0;
    // The accumulator is reused: the head gets its own copy, which outlives this read.
    const own = Buffer.from(acc.subarray(0, end));
    this.#parseHead(own, 0, end);
    return start + (end - old);
  }

  /** Validate and record one complete head buf[start, end) (end is just past CRLF CRLF). */
  #parseHead(buf: Buffer, start: number, end: number): void {
    this.#kernel.out[HeadOut.KeepAliveHintMs] = this.keepAliveHintMs;
    this.#headParsed(buf, start, end, this.#kernel.parseHead(buf, start, end), false);
  }

  /**
   * The kernel parsed buf[start, end) with result `rc`: record it and tell the sink. `copy`: buf
   * is a borrowed read buffer, so the head gets its own copy of its bytes (it outlives the read).
   */
  #headParsed(buf: Buffer, start: number, end: number, rc: number, copy: boolean): void {
    const kernel = this.#kernel;
    const out = kernel.out;
    while (rc === HEAD_GROW) {
      kernel.growRanges();
      rc = kernel.parseHead(buf, start, end);
    }
    this.keepAliveHintMs = out[HeadOut.KeepAliveHintMs];
    if (rc !== ParseError.None) return this.#fail(rc);
    const status = out[HeadOut.Status];
    const minor = out[HeadOut.Minor];
    const count = out[HeadOut.Count];
    const contentLength = out[HeadOut.ContentLength];
    const hasTE = out[HeadOut.HasTE] === 1;
    const chunked = out[HeadOut.Chunked] === 1;
    const close = out[HeadOut.Close] === 1;
    const keepAliveToken = out[HeadOut.KeepAliveToken] === 1;

    if (status < 200 && status !== 101) {
      // Interim response: no body, the final head follows on the same exchange.
      this.#state = S.Head;
      this.#sink.onInformational(status);
      return;
    }
    let next: S;
    if (this.#noBody || status === 204 || status === 304 || status === 101) {
      next = S.Done;
    } else if (hasTE) {
      if (chunked) {
        next = S.ChunkSize;
        this.#remaining = 0;
        this.#sizeDigits = 0;
        this.#extBytes = 0;
      } else {
        // A final coding other than chunked: the body runs to the close (RFC 9112 §6.3 item 4).
        next = S.BodyClose;
      }
    } else if (contentLength > 0) {
      next = S.BodyLength;
      this.#remaining = contentLength;
    } else if (contentLength === 0) {
      next = S.Done;
    } else {
      next = S.BodyClose;
    }
    // A body delimited by the close leaves nothing to reuse.
    const keepAlive = !close && (minor === 1 || keepAliveToken) && next !== S.BodyClose;
    this.keepAlive = keepAlive;
    // The kernel's ranges are scratch shared by every parser: the head gets its own, as a plain
    // array of small integers. A typed array of a few dozen entries has an off-heap backing
    // store, and allocating one cost more than parsing the head (bench/micro/pipeline.ts, "parse").
    const from = kernel.ranges;
    const n = count * 4;
    const ranges = new Array<number>(n);
    let headBuf = buf;
    if (copy) {
      headBuf = copyOut(buf, start, end);
      for (let k = 0; k < n; k++) ranges[k] = from[k] - start;
    } else {
      for (let k = 0; k < n; k++) ranges[k] = from[k];
    }
    const head = new ResponseHead(headBuf, status, minor, ranges, count, contentLength, chunked, keepAlive);
    this.#state = next;
    if (next === S.Done) this.#pendingComplete = true;
    this.#sink.onHead(head);
  }

  /**
   * Chunked framing through the native kernel: the framing bytes up to the next chunk data (or
   * the end of the response, or of the read) in one crossing, with the state synced both ways.
   */
  #chunkScan(buf: Buffer, i: number): number {
    const st = this.#chunkState!;
    st[ChunkSlot.State] = this.#state;
    st[ChunkSlot.Remaining] = this.#remaining;
    st[ChunkSlot.SizeDigits] = this.#sizeDigits;
    st[ChunkSlot.ExtBytes] = this.#extBytes;
    st[ChunkSlot.TrailerBytes] = this.#trailerBytes;
    st[ChunkSlot.MaxTrailerBytes] = this.#maxHeadBytes;
    const next = this.#kernel.chunkScan(buf, i);
    const state = st[ChunkSlot.State] as S;
    this.#remaining = st[ChunkSlot.Remaining];
    this.#sizeDigits = st[ChunkSlot.SizeDigits];
    this.#extBytes = st[ChunkSlot.ExtBytes];
    this.#trailerBytes = st[ChunkSlot.TrailerBytes];
    if (state === S.Failed) this.#fail(st[ChunkSlot.Error] as ParseError);
    else if (state === S.Done) this.#complete();
    else this.#state = state;
    return next;
  }

  /** One byte of chunked framing (size line, CRLFs, trailers). Returns the next offset. */
  #chunkByte(c: number, i: number): number {
    switch (this.#state) {
      case S.ChunkSize: {
        const h = HEX[c];
        if (h >= 0) {
          if (++this.#sizeDigits > MAX_CHUNK_SIZE_DIGITS) {
            this.#fail(ParseError.ChunkSizeOverflow);
            break;
          }
          this.#remaining = this.#remaining * 16 + h;
          break;
        }
        if (this.#sizeDigits === 0) {
          this.#fail(c === 0 ? ParseError.Nul : ParseError.BadChunkSize);
          break;
        }
        if (c === CR) this.#state = S.ChunkSizeLf;
        else if (c === SEMI) this.#state = S.ChunkExt;
        else if (c === SP || c === HTAB) this.#state = S.ChunkSizeWs;
        else this.#fail(c === 0 ? ParseError.Nul : c === LF ? ParseError.BareLF : ParseError.BadChunkSize);
        break;
      }
      case S.ChunkSizeWs:
        // BWS before a chunk extension only.
        if (c === SEMI) this.#state = S.ChunkExt;
        else if (c !== SP && c !== HTAB) this.#fail(ParseError.BadChunkSize);
        break;
      case S.ChunkExt:
        if (c === CR) this.#state = S.ChunkSizeLf;
        else if (VCHAR[c] === 0) this.#fail(c === 0 ? ParseError.Nul : c === LF ? ParseError.BareLF : ParseError.BadChunkExtension);
        else if (++this.#extBytes > MAX_CHUNK_EXT_BYTES) this.#fail(ParseError.BadChunkExtension);
        break;
      case S.ChunkSizeLf:
        if (c !== LF) {
          this.#fail(ParseError.BareCR);
          break;
        }
        if (this.#remaining === 0) {
          this.#state = S.TrailerLineStart;
          this.#trailerBytes = 0;
        } else {
          this.#state = S.ChunkData;
        }
        break;
      case S.ChunkDataCr:
        if (c === CR) this.#state = S.ChunkDataLf;
        else this.#fail(ParseError.BadChunkFraming);
        break;
      case S.ChunkDataLf:
        if (c !== LF) {
          this.#fail(ParseError.BareCR);
          break;
        }
        this.#state = S.ChunkSize;
        this.#sizeDigits = 0;
        this.#extBytes = 0;
        break;
      case S.TrailerLineStart:
        if (c === CR) this.#state = S.TrailerEndLf;
        else if (c === SP || c === HTAB) this.#fail(ParseError.ObsFold);
        else if (TCHAR[c] === 1) this.#state = S.TrailerName;
        else this.#fail(c === 0 ? ParseError.Nul : c === LF ? ParseError.BareLF : ParseError.BadHeaderName);
        break;
      case S.TrailerName:
        if (c === COLON) this.#state = S.TrailerValue;
        else if (TCHAR[c] === 0) this.#fail(c === CR || c === LF ? ParseError.NoColon : c === 0 ? ParseError.Nul : ParseError.BadHeaderName);
        break;
      case S.TrailerValue:
        if (c === CR) this.#state = S.TrailerLf;
        else if (VCHAR[c] === 0) this.#fail(c === 0 ? ParseError.Nul : c === LF ? ParseError.BareLF : ParseError.BadHeaderValue);
        break;
      case S.TrailerLf:
        if (c === LF) this.#state = S.TrailerLineStart;
        else this.#fail(ParseError.BareCR);
        break;
      case S.TrailerEndLf:
        if (c === LF) {
          // Trailers are checked and dropped: uWS cannot send them to the client.
          this.#complete();
          return i + 1;
        }
        this.#fail(ParseError.BareCR);
        break;
      default:
        break;
    }
    if (this.#state >= S.TrailerLineStart && this.#state <= S.TrailerEndLf && ++this.#trailerBytes > this.#maxHeadBytes) {
      this.#fail(ParseError.TrailersTooLarge);
    }
    return i + 1;
  }
}
