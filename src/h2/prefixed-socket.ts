/**
 * A Duplex over a TCP socket that first replays bytes already read from it. The TLS front reads
 * the ClientHello to see the ALPN offer; node:tls takes over a net.Socket's handle directly and
 * would never see those bytes (`unshift` does not reach the handle), so an h2 connection is
 * handed to node:tls through this stream instead.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export class PrefixedSocket extends Duplex {
  readonly socket: Socket;

  constructor(socket: Socket, prefix: Buffer) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.push(prefix);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.socket.cork();
    for (let i = 0; i < chunks.length - 1; i++) this.socket.write(chunks[i].chunk);
    this.socket.write(chunks[chunks.length - 1].chunk, callback);
    this.socket.uncork();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }
}
