/**
 * The TLS port when HTTP/2 is on (ARCHITECTURE.md "HTTP/2 downstream"): a node `net` server
 * that reads each connection's ClientHello (h2/client-hello.ts) and
 *   - offers `h2`: node:tls + node:http2 in this thread (h2/downstream.ts), streams entering
 *     the same request path as uWS requests;
 *   - anything else (http/1.1, no ALPN): the raw TLS bytes are piped, untouched, to this
 *     worker's uWS HTTPS listener on loopback, which terminates TLS as before. The pipe
 *     connects from a loopback address of its own (127.x.y.z), so ProxyServer can map it back
 *     to the client's address (`loopbackPeers`).
 *
 * Port sharing between workers: Node 20's `net` has no SO_REUSEPORT, so the listening socket is
 * made by the native addon (`listenReusePort`) and given to `net.Server.listen({ fd })`; every
 * worker then has its own front on the shared port and the kernel spreads connections, as for
 * uWS. Without the addon, a worker that finds the port taken by another worker's front logs it
 * and leaves HTTPS to that worker.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { NEED_MORE, OFFERS_H2, offersH2 } from './client-hello';
import type { H2Downstream } from './downstream';
import { PrefixedSocket } from './prefixed-socket';
import { listenReusePort } from '../util/native';

/** A client that has not finished its ClientHello by then is dropped (slowloris on the front). */
const HELLO_TIMEOUT_MS = 10_000;
/** One TLS record plus its header: the most a ClientHello read can need. */
const HELLO_MAX_BYTES = 16_384 + 5;

export class TlsFront {
  readonly host: string;
  readonly port: number;
  readonly #innerPort: () => number;
  readonly #h2: H2Downstream;
  readonly #peers: Map<string, string>;
  readonly #logger: Logger;
  readonly #server: net.Server;
  readonly #pipes = new Set<net.Socket>();
  #nextLoopback = 0;
  #listening = false;

  constructor(host: string, port: number, innerPort: () => number, h2: H2Downstream, peers: Map<string, string>, logger: Logger) {
    this.host = host;
    this.port = port;
    this.#innerPort = innerPort;
    this.#h2 = h2;
    this.#peers = peers;
    this.#logger = logger;
    this.#server = net.createServer({ noDelay: true }, this.#onConnection);
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** False when another worker's front holds the port (see the file comment). */
  listen(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') resolve(false);
        else reject(err);
      };
      this.#server.once('error', onError);
      let fd: number | null = null;
      try {
        fd = listenReusePort(this.host, this.port, 511);
      } catch (err) {
        onError(err as NodeJS.ErrnoException);
        return;
      }
      const where = fd === null ? { host: this.host, port: this.port, backlog: 511 } : { fd, backlog: 511 };
      this.#server.listen(where, () => {
        this.#server.off('error', onError);
        this.#listening = true;
        resolve(true);
      });
    });
  }

  /** Stop accepting. Piped HTTPS/1.1 connections are closed by uWS's own drain. */
  close(): void {
    if (this.#listening) this.#server.close();
    this.#listening = false;
  }

  /** After the drain: cut the pipes uWS has not closed. */
  destroyPipes(): void {
    for (const s of this.#pipes) s.destroy();
  }

  #onConnection = (socket: net.Socket): void => {
    let buf: Buffer | null = null;
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
      const verdict = buf.length > HELLO_MAX_BYTES ? -1 : offersH2(buf);
      if (verdict === NEED_MORE) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      if (verdict === OFFERS_H2) this.#h2.adopt(new PrefixedSocket(socket, buf), socket.remoteAddress ?? '');
      else this.#pipe(socket, buf);
    };
    socket.on('data', onData);
    socket.on('error', () => clearTimeout(timer));
    socket.on('close', () => clearTimeout(timer));
  };

  #pipe(client: net.Socket, hello: Buffer): void {
    const local = this.#loopbackAddress();
    this.#peers.set(local, client.remoteAddress ?? '');
    const inner = net.connect({ host: '127.0.0.1', port: this.#innerPort(), localAddress: local, noDelay: true });
    this.#pipes.add(inner);
    inner.write(hello);
    client.pipe(inner);
    inner.pipe(client);
    const done = (): void => {
      this.#pipes.delete(inner);
      if (this.#peers.get(local) !== undefined) this.#peers.delete(local);
      client.destroy();
      inner.destroy();
    };
    client.on('error', done);
    inner.on('error', (err) => {
      this.#logger.debug({ err }, 'TLS front: inner connection failed');
      done();
    });
    client.on('close', done);
    inner.on('close', done);
    client.resume();
  }

  /**
   * The next unused loopback address of 127.1.0.0/16 .. 127.254.255.255 (16 M of them), one per
   * piped connection at a time, so the inner side can tell whose connection it is.
   */
  #loopbackAddress(): string {
    for (;;) {
      const n = this.#nextLoopback;
      this.#nextLoopback = (n + 1) % (254 * 65536);
      const a = 1 + (n >>> 16);
      const b = (n >>> 8) & 255;
      const c = n & 255;
      if (c === 0 || c === 255) continue;
      const address = `127.${a}.${b}.${c}`;
      if (!this.#peers.has(address)) return address;
    }
  }
}
