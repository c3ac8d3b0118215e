/**
 * A plain-TCP upstream socket whose I/O runs in the addon on this worker's libuv loop
 * (native/src/tcp_transport.c), for `--upstream-engine native`. It offers the part of
 * `net.Socket` an UpstreamConnection uses (UpstreamSocket), so the connection, its deadlines and
 * its parser are the same code for both engines; only the bytes take a shorter way:
 * - a write is one call into the addon, which copies the bytes and tries the socket at once
 *   (no Writable, no WriteWrap); cork() gathers pieces for one writev;
 * - a read is one call from the addon with a byte count: the bytes are in the thread's one read
 *   buffer, which the parser reads in place (as with node's `onread`, see pool.ts).
 *
 * Events other than reads (connect, EOF, errors, drain) arrive as (slot, kind, status) and are
 * dispatched through a table of this thread's sockets indexed by slot.
 */
import { nativeTransport, type NativeTransport } from '../util/native';

/** What an UpstreamConnection needs of its socket: a `net.Socket`, a `tls.TLSSocket`, or this. */
export interface UpstreamSocket {
  readonly destroyed: boolean;
  /**
   * write() copies whatever the kernel does not take before it returns, so the caller's bytes
   * may be reused at once (a view of uWS's read buffer, say). True only for NativeSocket.
   */
  readonly copiesWrites?: boolean;
  on(event: 'connect' | 'secureConnect' | 'data' | 'end' | 'error' | 'close' | 'drain', listener: (...args: never[]) => void): unknown;
  write(data: string | Buffer, encoding?: BufferEncoding): boolean;
  /** NativeSocket only (copiesWrites): pieces in one writev, bypassing any cork. */
  writeNow?(a: string | Uint8Array, b?: string | Uint8Array, c?: string | Uint8Array): boolean;
  cork(): void;
  uncork(): void;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  setNoDelay(noDelay?: boolean): unknown;
}

/** Who reads a native socket's bytes (UpstreamConnection). */
export interface BorrowedReader {
  onBorrowedRead(bytes: number, shared: Buffer): void;
}

const enum Event {
  Connect = 1,
  Eof = 2,
  ReadError = 3,
  Drain = 4,
  WriteError = 5,
}

/** Corked bytes past which write() asks the caller to wait for 'drain', as net.Socket's 16 KiB. */
const CORK_HIGH_WATER = 64 * 1024;

/** Node's default read size; every native socket of this thread reads into it in turn. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);
/** This thread's open native sockets by slot. */
const sockets: (NativeSocket | undefined)[] = [];
let initialised = false;

function onRead(slot: number, bytes: number): void {
  const socket = sockets[slot];
  if (socket !== undefined && socket.reader !== null) socket.reader.onBorrowedRead(bytes, readBuffer);
}

function onEvent(slot: number, kind: number, status: number): void {
  const socket = sockets[slot];
  if (socket !== undefined) socket.event(kind, status);
}

type Listener = (...args: never[]) => void;
type ErrorListener = (err: Error) => void;

export class NativeSocket implements UpstreamSocket {
  readonly #transport: NativeTransport;
  readonly #slot: number;
  readonly #where: string;
  destroyed = false;
  readonly copiesWrites = true;
  reader: BorrowedReader | null = null;
  #onConnect: Listener | null = null;
  #onEnd: Listener | null = null;
  #onError: ErrorListener | null = null;
  #onClose: Listener | null = null;
  #onDrain: Listener | null = null;
  /** Pieces written while corked, sent in one writev by uncork(). */
  #corked: (string | Buffer)[] | null = null;
  #corkedBytes = 0;
  /** A corked write() said "wait for drain": uncork owes a 'drain' even if the kernel takes all. */
  #drainOwed = false;

  /** `ip`: an IPv4 or IPv6 literal (the pool resolves names first, or uses net for them). */
  constructor(ip: string, port: number) {
    const transport = nativeTransport!;
    if (!initialised) {
      transport.init(readBuffer, onRead, onEvent);
      initialised = true;
    }
    this.#transport = transport;
    this.#where = `${ip}:${port}`;
    const slot = transport.connect(ip, port);
    this.#slot = slot;
    if (slot < 0) {
      this.destroyed = true;
      // As net.connect: the error comes as an event, after the caller attached its listeners.
      process.nextTick(emitLater, this, 'connect', slot);
      return;
    }
    sockets[slot] = this;
  }

  on(event: string, listener: Listener): this {
    switch (event) {
      case 'connect':
        this.#onConnect = listener;
        break;
      case 'end':
        this.#onEnd = listener;
        break;
      case 'error':
        this.#onError = listener as ErrorListener;
        break;
      case 'close':
        this.#onClose = listener;
        break;
      case 'drain':
        this.#onDrain = listener;
        break;
      default:
        // 'data': reads go to `reader`; 'secureConnect': never TLS.
        break;
    }
    return this;
  }

  setNoDelay(): this {
    // The addon sets TCP_NODELAY when the connection is made.
    return this;
  }

  write(data: string | Buffer): boolean {
    if (this.destroyed) return false;
    const corked = this.#corked;
    if (corked !== null) {
      corked.push(data);
      this.#corkedBytes += data.length;
      if (this.#corkedBytes < CORK_HIGH_WATER) return true;
      this.#drainOwed = true;
      return false;
    }
    return this.#settle(this.#transport.write(this.#slot, data), 'write');
  }

  /** Up to three pieces in one writev, now (not corked); false: wait for 'drain'. */
  writeNow(a: string | Uint8Array, b?: string | Uint8Array, c?: string | Uint8Array): boolean {
    if (this.destroyed) return false;
    const t = this.#transport;
    const rc = c !== undefined ? t.write(this.#slot, a, b!, c) : b !== undefined ? t.write(this.#slot, a, b) : t.write(this.#slot, a);
    return this.#settle(rc, 'write');
  }

  cork(): void {
    if (this.#corked === null) this.#corked = [];
  }

  uncork(): void {
    const pieces = this.#corked;
    if (pieces === null) return;
    this.#corked = null;
    this.#corkedBytes = 0;
    const t = this.#transport;
    let rc = 1;
    for (let i = 0; i < pieces.length && !this.destroyed; i += 4) {
      const left = pieces.length - i;
      rc =
        left >= 4
          ? t.write(this.#slot, pieces[i], pieces[i + 1], pieces[i + 2], pieces[i + 3])
          : left === 3
            ? t.write(this.#slot, pieces[i], pieces[i + 1], pieces[i + 2])
            : left === 2
              ? t.write(this.#slot, pieces[i], pieces[i + 1])
              : t.write(this.#slot, pieces[i]);
      if (rc < 0) {
        this.#settle(rc, 'write');
        return;
      }
    }
    if (this.#drainOwed) {
      this.#drainOwed = false;
      // Queued (rc 0): the addon says 'drain' when the queue is out. Taken whole: say it here,
      // later, as net.Socket does after a write that returned false.
      if (rc === 1) process.nextTick(drainLater, this);
    }
  }

  /** The addon's write result as net.Socket's: false means wait for 'drain'. */
  #settle(rc: number, syscall: string): boolean {
    if (rc === 1) return true;
    if (rc === 0) return false;
    // As net.Socket: a write error is an 'error' event, never a throw from write().
    this.#closeHandle();
    process.nextTick(emitLater, this, syscall, rc);
    return false;
  }

  pause(): this {
    if (!this.destroyed) this.#transport.readStop(this.#slot);
    return this;
  }

  resume(): this {
    if (!this.destroyed) this.#transport.readStart(this.#slot);
    return this;
  }

  destroy(): this {
    this.#closeHandle();
    return this;
  }

  #closeHandle(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#transport.close(this.#slot);
    sockets[this.#slot] = undefined;
  }

  /** @internal from the addon (onEvent) */
  event(kind: number, status: number): void {
    switch (kind) {
      case Event.Connect:
        if (status === 0) this.#onConnect?.();
        else this.fail('connect', status);
        break;
      case Event.Eof:
        this.#onEnd?.();
        // allowHalfOpen is off: the end of the upstream's side is the end of the socket.
        if (!this.destroyed) {
          this.#closeHandle();
          this.#onClose?.();
        }
        break;
      case Event.ReadError:
        this.fail('read', status);
        break;
      case Event.WriteError:
        this.fail('write', status);
        break;
      case Event.Drain:
        this.#onDrain?.();
        break;
      default:
        break;
    }
  }

  /** @internal an error event, with the error net.Socket would give (code = libuv's name). */
  fail(syscall: string, status: number): void {
    this.#closeHandle();
    const code = this.#transport.errorName(status);
    const err = Object.assign(new Error(`${syscall} ${code} ${this.#where}`), { code, errno: status, syscall });
    this.#onError?.(err);
    this.#onClose?.();
  }
}

function drainLater(socket: NativeSocket): void {
  if (!socket.destroyed) socket.event(Event.Drain, 0);
}

function emitLater(socket: NativeSocket, syscall: string, status: number): void {
  socket.fail(syscall, status);
}

/** True when this build of the addon has native sockets. */
export const nativeSocketsAvailable: boolean = nativeTransport !== null;
