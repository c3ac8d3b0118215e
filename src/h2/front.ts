/**
 * The TLS port when HTTP/2 is on (ARCHITECTURE.md "HTTP/2 downstream"): a node `net` server
 * that reads each connection's ClientHello (h2/client-hello.ts) and
 *   - offers `h2`: node:tls + node:http2 in this thread (h2/downstream.ts), streams entering
 *     the same request path as uWS requests;
 *   - anything else (http/1.1, no ALPN): the raw TLS bytes are piped, untouched, to this
 *     worker's uWS HTTPS listener on loopback, which terminates TLS as before. The pipe
 *     connects from a loopback address of its own (127.x.y.z), so ProxyServer can map it back
 *     to the client's address (`loopbackPeers`).
 * With client certificates on (`--tls-client-verify`), no ClientHello is read: every connection
 * is handed to node:tls (h2/terminator.ts), and after the handshake h2 goes to HTTP/2 as above and
 * HTTP/1.1 is piped, as plaintext, to this worker's inner plain uWS listener (h2/inner-listener.ts),
 * the loopback peer table carrying the verified certificate beside the client's address.
 *
 * Port sharing between workers: Node 20's `net` has no SO_REUSEPORT, so the listening socket is
 * made by the native addon (`listenReusePort`) and given to `net.Server.listen({ fd })`; every
 * worker then has its own front on the shared port and the kernel spreads connections, as for
 * uWS. Without the addon, a worker that finds the port taken by another worker's front logs it
 * and leaves HTTPS to that worker.
 */
import net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import { NEED_MORE, OFFERS_H2, offersH2 } from './client-hello';
import type { H2Downstream } from './downstream';
import { ClientPeer, type LoopbackPeers } from './loopback-peers';
import { PrefixedSocket } from './prefixed-socket';
import type { TlsTerminator } from './terminator';
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
  readonly #peers: LoopbackPeers;
  readonly #logger: Logger;
  readonly #server: net.Server;
  readonly #pipes = new Set<net.Socket>();
  /** mTLS: node terminates every connection (null: the ClientHello decides, uWS terminates HTTP/1.1). */
  #terminator: TlsTerminator | null = null;
  #listening = false;

  constructor(host: string, port: number, innerPort: () => number, h2: H2Downstream, peers: LoopbackPeers, logger: Logger) {
    this.host = host;
    this.port = port;
    this.#innerPort = innerPort;
    this.#h2 = h2;
    this.#peers = peers;
    this.#logger = logger;
    this.#server = net.createServer({ noDelay: true }, this.#onConnection);
  }

  /** mTLS: terminate every connection with `terminator` (before listen). */
  terminateWith(terminator: TlsTerminator): void {
    this.#terminator = terminator;
  }

  /** mTLS: the handshake is done and the client's certificate checked (TlsTerminator's SecureHandler). */
  readonly onSecure = (socket: tls.TLSSocket, peer: ClientPeer): void => {
    if (socket.alpnProtocol === 'h2') this.#h2.adoptSecure(socket, peer);
    else this.#pipe(socket, null, peer);
  };

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
    if (this.#terminator !== null) return this.#terminator.accept(socket);
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
      else this.#pipe(socket, buf, new ClientPeer(socket.remoteAddress ?? '', null, null));
    };
    socket.on('data', onData);
    socket.on('error', () => clearTimeout(timer));
    socket.on('close', () => clearTimeout(timer));
  };

  /**
   * Pipe `client` to the inner uWS listener from a loopback address of its own, which the inner
   * side maps back to `peer`. `first`: bytes already read from the client (its ClientHello).
   */
  #pipe(client: net.Socket, first: Buffer | null, peer: ClientPeer): void {
    const local = this.#peers.reserve(peer);
    const inner = net.connect({ host: '127.0.0.1', port: this.#innerPort(), localAddress: local, noDelay: true });
    this.#pipes.add(inner);
    if (first !== null) inner.write(first);
    client.pipe(inner);
    inner.pipe(client);
    const done = (): void => {
      this.#pipes.delete(inner);
      this.#peers.release(local, peer);
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
}
