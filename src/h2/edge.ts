/**
 * Wiring of the HTTP/2-capable TLS port for one worker: the front (h2/front.ts) takes the public
 * `--listen-tls` address, h2 connections go to H2Downstream, and HTTP/1.1 is piped to a uWS
 * listener of this worker on loopback:
 *   - `start`: the uWS HTTPS listener (tls/listener.ts), which terminates TLS itself;
 *   - `startTerminating` (client certificates on): node terminates TLS for every connection
 *     (h2/terminator.ts) and the plaintext goes to an inner plain uWS listener (h2/inner-listener.ts).
 * DataPlane starts it; ProxyServer drains it (`edge`).
 */
import type { Logger } from 'pino';
import type { WebSocketBehavior } from 'uWebSockets.js';
import type { ProxyServer } from '../proxy/server';
import type { CertificateSet } from '../tls/certificate-set';
import type { TlsListener } from '../tls/listener';
import { H2Downstream } from './downstream';
import { TlsFront } from './front';
import { InnerListener } from './inner-listener';
import { LoopbackPeers } from './loopback-peers';
import { TlsTerminator, type ClientAuthOptions } from './terminator';

export class H2Edge {
  readonly front: TlsFront;
  readonly downstream: H2Downstream;
  /** Client certificates on: node's TLS and the inner plain listener; else null. */
  readonly #terminator: TlsTerminator | null;
  readonly #inner: InnerListener | null;

  private constructor(front: TlsFront, downstream: H2Downstream, terminator: TlsTerminator | null = null, inner: InnerListener | null = null) {
    this.front = front;
    this.downstream = downstream;
    this.#terminator = terminator;
    this.#inner = inner;
  }

  /** Null when another worker's front already holds the port. */
  static async start(server: ProxyServer, inner: TlsListener, host: string, port: number, set: CertificateSet, logger: Logger): Promise<H2Edge | null> {
    const peers = new LoopbackPeers();
    const downstream = new H2Downstream(server, logger, set);
    const front = new TlsFront(host, port, () => inner.localPort, downstream, peers, logger);
    if (!(await front.listen())) return null;
    server.loopbackPeers = peers;
    const edge = new H2Edge(front, downstream);
    server.edge = edge;
    return edge;
  }

  /**
   * Client certificates on: the TLS port without uWS's HTTPS listener. Null when another worker's
   * front already holds the port.
   */
  static async startTerminating(server: ProxyServer, host: string, port: number, set: CertificateSet, cas: readonly string[], options: ClientAuthOptions, logger: Logger): Promise<H2Edge | null> {
    const inner = new InnerListener(server.handleSecure, server.wsBehaviorSecure as WebSocketBehavior<unknown>, server.connectionFilter, server.settings.clientIdleTimeoutS ?? 0);
    await inner.listen();
    const peers = new LoopbackPeers();
    const downstream = new H2Downstream(server, logger, set);
    const front = new TlsFront(host, port, () => inner.localPort, downstream, peers, logger);
    const terminator = new TlsTerminator(set, cas, options, front.onSecure, logger);
    front.terminateWith(terminator);
    if (!(await front.listen())) {
      inner.closeConnections();
      return null;
    }
    server.loopbackPeers = peers;
    const edge = new H2Edge(front, downstream, terminator, inner);
    server.edge = edge;
    return edge;
  }

  update(set: CertificateSet, cas: readonly string[] = []): void {
    this.downstream.update(set);
    this.#terminator?.update(set, cas);
  }

  close(): void {
    this.front.close();
    this.downstream.close();
    this.#inner?.close();
  }

  destroy(): void {
    this.downstream.destroy();
    this.front.destroyPipes();
    this.#inner?.closeConnections();
  }
}
