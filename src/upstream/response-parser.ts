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
 */
import { ParseError } from './failures';
import { ResponseHead } from './response-head';

/** Where parse results go: the connection, or a test's collector. */
export interface ParserSink {
  /** A 1xx head (not 101): framing-free, another head follows. */
  onInformational(status: number): void;
  /** The final head. Framing state is set before the call. */
  onHead(head: ResponseHead): void;
  /** False: pause (deliver nothing more until `resume()`). */
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

/** RFC 9110 tchar, as a byte table. */
const TCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const ch = String.fromCharCode(c);
  TCHAR[c] = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(ch) ? 1 : 0;
}
/** Bytes allowed in a field value or reason phrase: HTAB, SP, VCHAR, obs-text. */
const VCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) VCHAR[c] = c === HTAB || (c >= 0x20 && c !== 0x7f) ? 1 : 0;
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

function lowerEquals(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((buf[start + i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** A comma list contains `token` (lower case), compared case-insensitively, OWS trimmed. */
function listHas(buf: Buffer, start: number, end: number, token: string): boolean {
  let i = start;
  while (i < end) {
    while (i < end && (buf[i] === SP || buf[i] === HTAB || buf[i] === 44)) i++;
    let j = i;
    while (j < end && buf[j] !== 44) j++;
    let k = j;
    while (k > i && (buf[k - 1] === SP || buf[k - 1] === HTAB)) k--;
    if (lowerEquals(buf, i, k, token)) return true;
    i = j + 1;
  }
  return false;
}

/** The last element of a comma list is `token`. */
function listEndsWith(buf: Buffer, start: number, end: number, token: string): boolean {
  let k = end;
  while (k > start && (buf[k - 1] === SP || buf[k - 1] === HTAB)) k--;
  let i = k;
  while (i > start && buf[i - 1] !== 44) i--;
  while (i < k && (buf[i] === SP || buf[i] === HTAB)) i++;
  return lowerEquals(buf, i, k, token);
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
  #ranges = new Int32Array(64 * 4);
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

  constructor(sink: ParserSink, maxHeadBytes: number) {
    this.#sink = sink;
    this.#maxHeadBytes = maxHeadBytes;
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

  /** Feed one read. Results go to the sink, synchronously, until the sink asks for a pause. */
  execute(buf: Buffer): void {
    if (this.#state === S.Done) {
      if (buf.length > 0) this.#fail(ParseError.ExtraBytes);
      return;
    }
    this.bytesSeen += buf.length;
    this.#buf = buf;
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
          i = this.#chunkByte(buf[i], i);
          break;
      }
    }
    this.#pos = i;
    if (!this.#paused) this.#buf = null;
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
      const at = buf.indexOf(HEAD_END, start);
      if (at >= 0) {
        const end = at + 4;
        if (end - start > max) {
          this.#fail(ParseError.HeadTooLarge);
          return len;
        }
        this.#parseHead(buf, start, end);
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
    // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
    let i = start;
    if (
      end - start < 14 ||
      buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47
    ) {
      return this.#fail(ParseError.BadStatusLine);
    }
    if (buf[i + 5] !== 49 || buf[i + 6] !== 46 || (buf[i + 7] !== 48 && buf[i + 7] !== 49)) {
      return this.#fail(buf[i + 5] >= 48 && buf[i + 5] <= 57 ? ParseError.UnsupportedVersion : ParseError.BadStatusLine);
    }
    const minor = buf[i + 7] - 48;
    if (buf[i + 8] !== SP) return this.#fail(ParseError.BadStatusLine);
    const d0 = buf[i + 9] - 48;
    const d1 = buf[i + 10] - 48;
    const d2 = buf[i + 11] - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.#fail(ParseError.BadStatusLine);
    const status = d0 * 100 + d1 * 10 + d2;
    i += 12;
    if (buf[i] === SP) {
      i++;
      for (;;) {
        const c = buf[i];
        if (c === CR) break;
        if (VCHAR[c] === 0) return this.#fail(c === 0 ? ParseError.Nul : c === LF ? ParseError.BareLF : ParseError.BadStatusLine);
        i++;
      }
    } else if (buf[i] !== CR) {
      return this.#fail(ParseError.BadStatusLine);
    }
    if (buf[i + 1] !== LF) return this.#fail(ParseError.BareCR);
    i += 2;

    let ranges = this.#ranges;
    let count = 0;
    let contentLength = -1;
    let hasTE = false;
    let chunked = false;
    let close = false;
    let keepAliveToken = false;
    // Header lines until the empty line.
    while (buf[i] !== CR) {
      const c0 = buf[i];
      if (c0 === SP || c0 === HTAB) return this.#fail(ParseError.ObsFold);
      const nameStart = i;
      while (TCHAR[buf[i]] === 1) i++;
      const nameEnd = i;
      const c = buf[i];
      if (c !== COLON) {
        if (c === CR || c === LF) return this.#fail(ParseError.NoColon);
        if (c === 0) return this.#fail(ParseError.Nul);
        // Includes whitespace between the name and the colon (RFC 9112 §5.1: must reject).
        let j = i;
        while (buf[j] !== COLON && buf[j] !== CR && buf[j] !== LF) j++;
        return this.#fail(buf[j] === COLON ? ParseError.BadHeaderName : ParseError.NoColon);
      }
      if (nameEnd === nameStart) return this.#fail(ParseError.BadHeaderName);
      i++;
      while (buf[i] === SP || buf[i] === HTAB) i++;
      const valueStart = i;
      for (;;) {
        const v = buf[i];
        if (v === CR) break;
        if (VCHAR[v] === 0) return this.#fail(v === 0 ? ParseError.Nul : v === LF ? ParseError.BareLF : ParseError.BadHeaderValue);
        i++;
      }
      if (buf[i + 1] !== LF) return this.#fail(ParseError.BareCR);
      let valueEnd = i;
      while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
      i += 2;

      if (count * 4 + 4 > ranges.length) {
        const bigger = new Int32Array(ranges.length * 2);
        bigger.set(ranges);
        ranges = this.#ranges = bigger;
      }
      const r = count * 4;
      ranges[r] = nameStart;
      ranges[r + 1] = nameEnd;
      ranges[r + 2] = valueStart;
      ranges[r + 3] = valueEnd;
      count++;

      switch (nameEnd - nameStart) {
        case 10:
          if (lowerEquals(buf, nameStart, nameEnd, 'connection')) {
            if (listHas(buf, valueStart, valueEnd, 'close')) close = true;
            if (listHas(buf, valueStart, valueEnd, 'keep-alive')) keepAliveToken = true;
          } else if (lowerEquals(buf, nameStart, nameEnd, 'keep-alive')) {
            this.keepAliveHintMs = keepAliveTimeout(buf, valueStart, valueEnd);
          }
          break;
        case 14:
          if (lowerEquals(buf, nameStart, nameEnd, 'content-length')) {
            const n = parseLengthList(buf, valueStart, valueEnd);
            if (n === -1) return this.#fail(ParseError.BadContentLength);
            if (n === -2 || (contentLength !== -1 && contentLength !== n)) return this.#fail(ParseError.ConflictingContentLength);
            contentLength = n;
          }
          break;
        case 17:
          if (lowerEquals(buf, nameStart, nameEnd, 'transfer-encoding')) {
            hasTE = true;
            // Only the last coding frames the message (RFC 9112 §6.3).
            chunked = listEndsWith(buf, valueStart, valueEnd, 'chunked');
          }
          break;
        default:
          break;
      }
    }
    if (buf[i + 1] !== LF) return this.#fail(ParseError.BareCR);
    if (hasTE && contentLength !== -1) return this.#fail(ParseError.ContentLengthAndTransferEncoding);

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
    const head = new ResponseHead(buf, status, minor, ranges.slice(0, count * 4), count, contentLength, chunked, keepAlive);
    this.#state = next;
    if (next === S.Done) this.#pendingComplete = true;
    this.#sink.onHead(head);
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

/** `timeout=N` (seconds) in a Keep-Alive header value, in ms; -1 when absent or malformed. */
function keepAliveTimeout(buf: Buffer, start: number, end: number): number {
  for (let i = start; i + 8 <= end; i++) {
    if (!lowerEquals(buf, i, i + 8, 'timeout=')) continue;
    if (i > start && buf[i - 1] !== SP && buf[i - 1] !== 44 && buf[i - 1] !== HTAB) continue;
    let n = 0;
    let j = i + 8;
    const first = j;
    while (j < end && buf[j] >= 48 && buf[j] <= 57 && j - first < 9) n = n * 10 + (buf[j++] - 48);
    return j === first ? -1 : n * 1000;
  }
  return -1;
}

/**
 * A Content-Length value: digits, or a list of identical digit strings ("5, 5", which RFC 9112
 * §6.3 lets a recipient accept). -1 malformed or overflowing, -2 a list of differing values.
 */
function parseLengthList(buf: Buffer, start: number, end: number): number {
  let value = -1;
  let i = start;
  for (;;) {
    let n = 0;
    let digits = 0;
    while (i < end && buf[i] >= 48 && buf[i] <= 57) {
      n = n * 10 + (buf[i] - 48);
      i++;
      if (++digits > 15) return -1;
    }
    if (digits === 0) return -1;
    if (value !== -1 && value !== n) return -2;
    value = n;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (i === end) return value;
    if (buf[i] !== 44) return -1;
    i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
  }
}
