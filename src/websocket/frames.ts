/**
 * RFC 6455 framing for the upstream side of a proxied WebSocket: we are the client there, so the
 * frames we write are masked and the frames we read must not be. The downstream side is uWS's.
 *
 * The decoder reassembles fragmented messages (uWS sends whole messages downstream), enforces the
 * message size limit while the fragments arrive, and reports protocol errors as close codes
 * instead of throwing.
 */
import { randomFillSync } from 'node:crypto';

export const enum Opcode {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
}

export interface FrameSink {
  onMessage(payload: Buffer, isBinary: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** `code` 1005 when the close frame had no status. */
  onClose(code: number, reason: Buffer): void;
}

/** Close codes this module produces. */
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_TOO_BIG = 1009;

const EMPTY = Buffer.alloc(0);

export class FrameDecoder {
  readonly #maxMessage: number;
  /** Bytes not parsed yet, kept as the socket delivered them: joined once a whole frame is here. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** How many buffered bytes the next parse needs (header, then the whole frame). */
  #need = 2;
  #fragments: Buffer[] = [];
  #fragmentBytes = 0;
  #fragmentBinary = false;
  #inMessage = false;

  constructor(maxMessageBytes: number) {
    this.#maxMessage = maxMessageBytes;
  }

  /** Feed bytes from the socket; returns 0, or the close code of the protocol error found. */
  push(chunk: Buffer, sink: FrameSink): number {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    // A big frame arrives in many reads: wait for all of it rather than joining at every read.
    if (this.#buffered < this.#need) return 0;
    let buf = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#buffered);
    this.#need = 2;
    for (;;) {
      if (buf.length < 2) break;
      const b0 = buf[0];
      const b1 = buf[1];
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) !== 0) return CLOSE_PROTOCOL_ERROR; // RSV bits, masked server frame
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buf.length < 4) {
          this.#need = 4;
          break;
        }
        length = buf.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) {
          this.#need = 10;
          break;
        }
        const high = buf.readUInt32BE(2);
        if (high > 0x1fffff) return CLOSE_TOO_BIG;
        length = high * 2 ** 32 + buf.readUInt32BE(6);
        offset = 10;
      }
      const control = opcode >= 0x8;
      if (control && (!fin || length > 125)) return CLOSE_PROTOCOL_ERROR;
      if (!control && this.#fragmentBytes + length > this.#maxMessage) return CLOSE_TOO_BIG;
      if (buf.length < offset + length) {
        this.#need = offset + length;
        break;
      }
      const payload = buf.subarray(offset, offset + length);
      buf = buf.subarray(offset + length);
      const problem = this.#frame(fin, opcode, payload, sink);
      if (problem !== 0) return problem;
    }
    // Keep the unparsed tail (socket reads are fresh buffers, never reused by Node).
    this.#chunks = buf.length === 0 ? [] : [buf];
    this.#buffered = buf.length;
    return 0;
  }

  #frame(fin: boolean, opcode: number, payload: Buffer, sink: FrameSink): number {
    switch (opcode) {
      case Opcode.Text:
      case Opcode.Binary:
        if (this.#inMessage) return CLOSE_PROTOCOL_ERROR;
        if (fin) {
          sink.onMessage(Buffer.from(payload), opcode === Opcode.Binary);
          return 0;
        }
        this.#inMessage = true;
        this.#fragmentBinary = opcode === Opcode.Binary;
        this.#fragments.push(Buffer.from(payload));
        this.#fragmentBytes = payload.length;
        return 0;
      case Opcode.Continuation:
        if (!this.#inMessage) return CLOSE_PROTOCOL_ERROR;
        this.#fragments.push(Buffer.from(payload));
        this.#fragmentBytes += payload.length;
        if (fin) {
          const message = Buffer.concat(this.#fragments, this.#fragmentBytes);
          this.#fragments = [];
          this.#fragmentBytes = 0;
          this.#inMessage = false;
          sink.onMessage(message, this.#fragmentBinary);
        }
        return 0;
      case Opcode.Ping:
        sink.onPing(Buffer.from(payload));
        return 0;
      case Opcode.Pong:
        sink.onPong(Buffer.from(payload));
        return 0;
      case Opcode.Close:
        if (payload.length === 1) return CLOSE_PROTOCOL_ERROR;
        sink.onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005, Buffer.from(payload.subarray(2)));
        return 0;
      default:
        return CLOSE_PROTOCOL_ERROR;
    }
  }
}

const maskPool = Buffer.alloc(4096);
let maskOffset = maskPool.length;

/** One masked client frame (FIN set) carrying `payload`. */
export function encodeFrame(opcode: Opcode, payload: Uint8Array): Buffer {
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extra + 4 + length);
  frame[0] = 0x80 | opcode;
  if (extra === 0) frame[1] = 0x80 | length;
  else if (extra === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  if (maskOffset + 4 > maskPool.length) {
    randomFillSync(maskPool);
    maskOffset = 0;
  }
  const m = 2 + extra;
  maskPool.copy(frame, m, maskOffset, maskOffset + 4);
  maskOffset += 4;
  const start = m + 4;
  for (let i = 0; i < length; i++) frame[start + i] = payload[i] ^ frame[m + (i & 3)];
  return frame;
}

/** A close frame with `code` and `reason` (no payload for 1005). */
export function encodeClose(code: number, reason: Uint8Array): Buffer {
  if (code === 1005) return encodeFrame(Opcode.Close, EMPTY);
  const payload = Buffer.allocUnsafe(2 + Math.min(reason.length, 123));
  payload.writeUInt16BE(code, 0);
  Buffer.from(reason.buffer, reason.byteOffset, Math.min(reason.length, 123)).copy(payload, 2);
  return encodeFrame(Opcode.Close, payload);
}
