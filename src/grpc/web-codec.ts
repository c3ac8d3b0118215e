/**
 * The grpc-web wire format (grpc/grpc-web PROTOCOL-WEB.md), pure byte work with no I/O:
 *
 * - which content types are grpc-web, and what each means (Kong's grpc-web plugin list): base64
 *   text or binary, gRPC length-prefixed frames or a bare JSON body, protobuf or JSON messages;
 * - a frame is a flag byte, a 4-byte big-endian length and the payload; flag 0x80 marks the
 *   trailer frame, whose payload is the trailers as `name:value\r\n` lines (HTTP/1.1 cannot
 *   carry trailers, so grpc-web moves them into the body);
 * - base64 for `-text`: responses are encoded as they stream, holding back at most two bytes so
 *   that padding falls only where a frame ends (the spec lets servers pad at message boundaries,
 *   and a client can then decode each message as soon as it arrives); request bodies may hold
 *   several padded segments.
 */

export const DATA_FLAG = 0x00;
export const TRAILER_FLAG = 0x80;
/** Frame flag bit: the message is compressed (grpc-encoding). */
export const COMPRESSED_FLAG = 0x01;
const PREFIX = 5;

export interface GrpcWebMode {
  /** The request's media type (lower-case, no parameters); the response carries the same. */
  readonly contentType: string;
  /** `-text`: the body is base64. */
  readonly text: boolean;
  /** gRPC length-prefixed frames (every grpc-web type); false for a bare `application/json` body. */
  readonly framed: boolean;
  /** Messages are JSON, transcoded to and from protobuf with the plugin's `proto`. */
  readonly json: boolean;
}

function mode(contentType: string, text: boolean, framed: boolean, json: boolean): [string, GrpcWebMode] {
  return [contentType, Object.freeze({ contentType, text, framed, json })];
}

const MODES: ReadonlyMap<string, GrpcWebMode> = new Map([
  mode('application/grpc-web', false, true, false),
  mode('application/grpc-web+proto', false, true, false),
  mode('application/grpc-web-text', true, true, false),
  mode('application/grpc-web-text+proto', true, true, false),
  mode('application/grpc-web+json', false, true, true),
  mode('application/grpc-web-text+json', true, true, true),
  mode('application/json', false, false, true),
]);

export const GRPC_WEB_CONTENT_TYPES: readonly string[] = [...MODES.keys()];

/** The grpc-web mode of a Content-Type header value (parameters and case ignored); null if none. */
export function grpcWebMode(contentType: string | undefined): GrpcWebMode | null {
  if (contentType === undefined) return null;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return MODES.get(type) ?? null;
}

/** Native gRPC (application/grpc, application/grpc+proto, ...), which the plugin lets through. */
export function isNativeGrpc(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.trim().toLowerCase();
  return type === 'application/grpc' || (type.startsWith('application/grpc') && (type[16] === '+' || type[16] === ';'));
}

export function frame(flag: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX + payload.length);
  out[0] = flag;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, PREFIX);
  return out;
}

/** The trailer frame: each field as a `name:value\r\n` line, names lower-case, repeats kept. */
export function trailerFrame(fields: Readonly<Record<string, string | number | readonly string[] | undefined>>): Buffer {
  let block = '';
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (Array.isArray(value)) for (const v of value) block += `${lower}:${v}\r\n`;
    else block += `${lower}:${value as string | number}\r\n`;
  }
  return frame(TRAILER_FLAG, Buffer.from(block, 'latin1'));
}

/** A trailer frame's payload back into fields (what a grpc-web client does); later repeats win. */
export function parseTrailerBlock(payload: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}

export interface Frame {
  readonly flag: number;
  readonly payload: Buffer;
}

/**
 * Splits a byte stream into frames as chunks arrive: a frame split across chunks is held until
 * it is whole. `pending` is the number of bytes held.
 */
export class FrameReader {
  #held: Buffer | null = null;

  get pending(): number {
    return this.#held === null ? 0 : this.#held.length;
  }

  push(chunk: Buffer): Frame[] {
    let buf = this.#held === null ? chunk : Buffer.concat([this.#held, chunk]);
    const frames: Frame[] = [];
    while (buf.length >= PREFIX) {
      const length = buf.readUInt32BE(1);
      if (buf.length < PREFIX + length) break;
      frames.push({ flag: buf[0], payload: buf.subarray(PREFIX, PREFIX + length) });
      buf = buf.subarray(PREFIX + length);
    }
    this.#held = buf.length === 0 ? null : Buffer.from(buf);
    return frames;
  }
}

/** Whole frames of a complete body, or null when it ends inside one. */
export function splitFrames(body: Buffer): Frame[] | null {
  const reader = new FrameReader();
  const frames = reader.push(body);
  return reader.pending === 0 ? frames : null;
}

/**
 * Follows frame boundaries through a stream without holding bytes: `advance(chunk)` says whether
 * the stream, after that chunk, ends exactly where a frame ends.
 */
export class FrameBoundary {
  /** Bytes of the current frame's prefix seen so far (0..4), or 5 once in its payload. */
  #prefixSeen = 0;
  #length = 0;
  #payloadLeft = 0;

  advance(chunk: Uint8Array): boolean {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#prefixSeen < PREFIX) {
        if (this.#prefixSeen >= 1) this.#length = this.#length * 256 + chunk[i];
        this.#prefixSeen++;
        i++;
        if (this.#prefixSeen === PREFIX) {
          this.#payloadLeft = this.#length;
          this.#length = 0;
          if (this.#payloadLeft === 0) this.#prefixSeen = 0;
        }
        continue;
      }
      const take = Math.min(this.#payloadLeft, n - i);
      this.#payloadLeft -= take;
      i += take;
      if (this.#payloadLeft === 0) this.#prefixSeen = 0;
    }
    return this.#prefixSeen === 0;
  }
}

/**
 * base64 of a byte stream, chunk by chunk: bytes that do not fill a 3-byte group are held for the
 * next chunk unless `flush`, which pads (at a frame boundary, or at the end).
 */
export class Base64Encoder {
  #held: Buffer | null = null;

  encode(chunk: Buffer, flush: boolean): string {
    const data = this.#held === null ? chunk : Buffer.concat([this.#held, chunk]);
    if (flush) {
      this.#held = null;
      return data.toString('base64');
    }
    const whole = data.length - (data.length % 3);
    this.#held = whole === data.length ? null : Buffer.from(data.subarray(whole));
    return data.subarray(0, whole).toString('base64');
  }
}

const BASE64_ALPHABET = /^[A-Za-z0-9+/=]*$/;
const WHITESPACE = /[\s]+/g;

/**
 * A `-text` body to bytes. Whitespace is ignored; the body may be several padded segments
 * (a client that flushed more than once). Null when it is not base64.
 */
export function decodeBase64Body(body: Buffer): Buffer | null {
  const s = body.toString('latin1').replace(WHITESPACE, '');
  if (!BASE64_ALPHABET.test(s)) return null;
  const parts: Buffer[] = [];
  let start = 0;
  while (start < s.length) {
    const pad = s.indexOf('=', start);
    if (pad < 0) {
      const rest = s.length - start;
      if (rest % 4 === 1) return null;
      parts.push(Buffer.from(s.slice(start), 'base64'));
      break;
    }
    // The padded group ends the segment: its 4 characters end at the next multiple of 4.
    const end = start + Math.floor((pad - start) / 4) * 4 + 4;
    if (end > s.length) return null;
    const group = s.slice(end - 4, end);
    // "xx==" or "xxx=": two or three data characters, then only '='.
    if (!/^[A-Za-z0-9+/]{2}(==|[A-Za-z0-9+/]=)$/.test(group)) return null;
    parts.push(Buffer.from(s.slice(start, end), 'base64'));
    start = end;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
