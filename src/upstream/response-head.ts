/**
 * One upstream response head, kept as the bytes it arrived in: `buf` plus, per header, four
 * offsets (name start/end, value start/end) into it. Names and values become Buffers or strings
 * only when a caller asks, so a forwarded header costs no decoding.
 */
export class ResponseHead {
  readonly buf: Buffer;
  readonly status: number;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: number;
  /** [nameStart, nameEnd, valueStart, valueEnd] per header. */
  readonly ranges: readonly number[];
  readonly count: number;
  /** Declared body length, -1 when the response had no Content-Length. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** The connection may carry another request after this response (before framing checks). */
  readonly keepAlive: boolean;

  constructor(buf: Buffer, status: number, minorVersion: number, ranges: readonly number[], count: number, contentLength: number, chunked: boolean, keepAlive: boolean) {
    this.buf = buf;
    this.status = status;
    this.minorVersion = minorVersion;
    this.ranges = ranges;
    this.count = count;
    this.contentLength = contentLength;
    this.chunked = chunked;
    this.keepAlive = keepAlive;
  }

  name(i: number): Buffer {
    const r = this.ranges;
    return this.buf.subarray(r[i * 4], r[i * 4 + 1]);
  }

  value(i: number): Buffer {
    const r = this.ranges;
    return this.buf.subarray(r[i * 4 + 2], r[i * 4 + 3]);
  }

  /** The header name as a lower-case string (made on demand). */
  nameString(i: number): string {
    const r = this.ranges;
    return this.buf.toString('latin1', r[i * 4], r[i * 4 + 1]).toLowerCase();
  }

  valueString(i: number): string {
    const r = this.ranges;
    return this.buf.toString('latin1', r[i * 4 + 2], r[i * 4 + 3]);
  }

  /** First value of a header (name in lower case), or undefined. For tests and plugins. */
  get(lowerName: string): string | undefined {
    for (let i = 0; i < this.count; i++) if (this.nameString(i) === lowerName) return this.valueString(i);
    return undefined;
  }
}
