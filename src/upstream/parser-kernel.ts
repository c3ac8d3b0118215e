/**
 * The byte work of the response parser, behind one interface with two implementations: this
 * file's TypeScript kernel (`--upstream-engine js`, and the fallback whenever the addon is not
 * built) and the C kernel in native/src/response_parser.c (`--upstream-engine native`, loaded by
 * native-kernel.ts). The parser's orchestration (split heads, body slices, pause, the sink) is
 * shared TypeScript in response-parser.ts, so the two engines differ only in who reads the bytes,
 * and test/unit/upstream-parser-parity.test.ts checks they read them alike.
 */
import { ParseError } from './failures';

/** `out` slots written by `parseHead` (a Float64Array: Content-Length needs more than 32 bits). */
export const enum HeadOut {
  Status = 0,
  Minor,
  Count,
  ContentLength,
  HasTE,
  Chunked,
  Close,
  KeepAliveToken,
  /** Read and written: the Keep-Alive timeout hint so far (a 1xx head may have set it). */
  KeepAliveHintMs,
  /** scanHead's parse result (what parseHead returns). */
  Result,
  Slots,
}

/** `parseHead` result: the ranges array is too small for the headers; grow it and call again. */
export const HEAD_GROW = -1;
/** `scanHead`: no CRLF CRLF after start in this read. */
export const HEAD_NOT_FOUND = -1;
/** `scanHead`: the head ends in this read but is longer than the limit. */
export const HEAD_TOO_LARGE = -2;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** `chunkScan` state slots (only the native kernel uses this array; the JS one keeps fields). */
export const enum ChunkSlot {
  State = 0,
  Remaining,
  SizeDigits,
  ExtBytes,
  TrailerBytes,
  MaxTrailerBytes,
  Error,
  Slots,
}

/**
 * A kernel and its scratch: one per thread (kernels are module singletons and a worker is one
 * thread), shared by every parser, because a parse is synchronous and the parser copies what it
 * keeps (the ranges) before it calls anyone.
 */
export interface ParserKernel {
  readonly name: 'js' | 'native';
  /** The last parseHead's results (HeadOut slots). */
  readonly out: Float64Array;
  /** The last parseHead's header ranges: [nameStart, nameEnd, valueStart, valueEnd] per header. */
  readonly ranges: Int32Array;
  /**
   * Validate the complete head buf[start, end) (ending in CRLF CRLF) into `out` and `ranges`.
   * Returns ParseError.None, a ParseError, or HEAD_GROW (then growRanges() and call again).
   */
  parseHead(buf: Buffer, start: number, end: number): number;
  /**
   * A head's first read, in one step (one crossing for the native kernel): find CRLF CRLF from
   * start; HEAD_NOT_FOUND, HEAD_TOO_LARGE (longer than max), or the head's end with parseHead's
   * result in out[HeadOut.Result].
   */
  scanHead(buf: Buffer, start: number, max: number): number;
  growRanges(): void;
  /**
   * The chunked-framing state chunkScan runs on (ChunkSlot), or null: the parser then runs its
   * own per-byte TypeScript state machine (cheaper in JS than syncing an array).
   */
  readonly chunkState: Float64Array | null;
  /**
   * Run chunked framing from buf[i] until chunk data starts, the response ends, it fails or the
   * input ends; returns the offset reached. Only called when chunkState is not null.
   */
  chunkScan(buf: Buffer, i: number): number;
}

/** Headers the scratch ranges hold before the first grow. */
export const INITIAL_RANGE_HEADERS = 64;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** RFC 9110 tchar, as a byte table. */
export const TCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const ch = String.fromCharCode(c);
  TCHAR[c] = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(ch) ? 1 : 0;
}
/** Bytes allowed in a field value or reason phrase: HTAB, SP, VCHAR, obs-text. */
export const VCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) VCHAR[c] = c === HTAB || (c >= 0x20 && c !== 0x7f) ? 1 : 0;

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

/** Validate and record one complete head buf[start, end) (end is just past CRLF CRLF). */
function parseHeadJs(buf: Buffer, start: number, end: number, ranges: Int32Array, out: Float64Array): number {
  // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
  let i = start;
  if (end - start < 14 || buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47) {
    return ParseError.BadStatusLine;
  }
  if (buf[i + 5] !== 49 || buf[i + 6] !== 46 || (buf[i + 7] !== 48 && buf[i + 7] !== 49)) {
    return buf[i + 5] >= 48 && buf[i + 5] <= 57 ? ParseError.UnsupportedVersion : ParseError.BadStatusLine;
  }
  const minor = buf[i + 7] - 48;
  if (buf[i + 8] !== SP) return ParseError.BadStatusLine;
  const d0 = buf[i + 9] - 48;
  const d1 = buf[i + 10] - 48;
  const d2 = buf[i + 11] - 48;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return ParseError.BadStatusLine;
  const status = d0 * 100 + d1 * 10 + d2;
  i += 12;
  if (buf[i] === SP) {
    i++;
    for (;;) {
      const c = buf[i];
      if (c === CR) break;
      if (VCHAR[c] === 0) return c === 0 ? ParseError.Nul : c === LF ? ParseError.BareLF : ParseError.BadStatusLine;
      i++;
    }
  } else if (buf[i] !== CR) {
    return ParseError.BadStatusLine;
  }
  if (buf[i + 1] !== LF) return ParseError.BareCR;
  i += 2;

  let count = 0;
  let contentLength = -1;
  let hasTE = false;
  let chunked = false;
  let close = false;
  let keepAliveToken = false;
  // Header lines until the empty line.
  while (buf[i] !== CR) {
    const c0 = buf[i];
    if (c0 === SP || c0 === HTAB) return ParseError.ObsFold;
    const nameStart = i;
    while (TCHAR[buf[i]] === 1) i++;
    const nameEnd = i;
    const c = buf[i];
    if (c !== COLON) {
      if (c === CR || c === LF) return ParseError.NoColon;
      if (c === 0) return ParseError.Nul;
      // Includes whitespace between the name and the colon (RFC 9112 §5.1: must reject).
      let j = i;
      while (buf[j] !== COLON && buf[j] !== CR && buf[j] !== LF) j++;
      return buf[j] === COLON ? ParseError.BadHeaderName : ParseError.NoColon;
    }
    if (nameEnd === nameStart) return ParseError.BadHeaderName;
    i++;
    while (buf[i] === SP || buf[i] === HTAB) i++;
    const valueStart = i;
    for (;;) {
      const v = buf[i];
      if (v === CR) break;
      if (VCHAR[v] === 0) return v === 0 ? ParseError.Nul : v === LF ? ParseError.BareLF : ParseError.BadHeaderValue;
      i++;
    }
    if (buf[i + 1] !== LF) return ParseError.BareCR;
    let valueEnd = i;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
    i += 2;

    if (count * 4 + 4 > ranges.length) return HEAD_GROW;
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
          out[HeadOut.KeepAliveHintMs] = keepAliveTimeout(buf, valueStart, valueEnd);
        }
        break;
      case 14:
        if (lowerEquals(buf, nameStart, nameEnd, 'content-length')) {
          const n = parseLengthList(buf, valueStart, valueEnd);
          if (n === -1) return ParseError.BadContentLength;
          if (n === -2 || (contentLength !== -1 && contentLength !== n)) return ParseError.ConflictingContentLength;
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
  if (buf[i + 1] !== LF) return ParseError.BareCR;
  if (hasTE && contentLength !== -1) return ParseError.ContentLengthAndTransferEncoding;
  out[HeadOut.Status] = status;
  out[HeadOut.Minor] = minor;
  out[HeadOut.Count] = count;
  out[HeadOut.ContentLength] = contentLength;
  out[HeadOut.HasTE] = hasTE ? 1 : 0;
  out[HeadOut.Chunked] = chunked ? 1 : 0;
  out[HeadOut.Close] = close ? 1 : 0;
  out[HeadOut.KeepAliveToken] = keepAliveToken ? 1 : 0;
  return ParseError.None;
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

class JsKernel implements ParserKernel {
  readonly name = 'js';
  readonly out = new Float64Array(HeadOut.Slots);
  ranges = new Int32Array(INITIAL_RANGE_HEADERS * 4);
  readonly chunkState = null;

  parseHead(buf: Buffer, start: number, end: number): number {
    return parseHeadJs(buf, start, end, this.ranges, this.out);
  }

  scanHead(buf: Buffer, start: number, max: number): number {
    const at = buf.indexOf(HEAD_END, start);
    if (at < 0) return HEAD_NOT_FOUND;
    const end = at + 4;
    if (end - start > max) return HEAD_TOO_LARGE;
    this.out[HeadOut.Result] = parseHeadJs(buf, start, end, this.ranges, this.out);
    return end;
  }

  growRanges(): void {
    const bigger = new Int32Array(this.ranges.length * 2);
    bigger.set(this.ranges);
    this.ranges = bigger;
  }

  chunkScan(): number {
    throw new Error('the js kernel frames chunks in the parser');
  }
}

export const jsKernel: ParserKernel = new JsKernel();
