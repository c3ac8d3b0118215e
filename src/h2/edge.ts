/**
 * Wiring of the HTTP/2-capable TLS port for one worker: the uWS HTTPS listener moves to a
 * loopback port of its own, the front (h2/front.ts) takes the public `--listen-tls` address, and
 * h2 connections go to H2Downstream. DataPlane starts it; ProxyServer drains it (`edge`).
 */
import type { Logger } from 'pino';
import type { ProxyServer } from '../proxy/server';
import type { CertificateSet } from '../tls/certificate-set';
import type { TlsListener } from '../tls/listener';
import { H2Downstream } from './downstream';
import { TlsFront } from './front';

export class H2Edge {
  readonly front: TlsFront;
  readonly downstream: H2Downstream;

  private constructor(front: TlsFront, downstream: H2Downstream) {
    this.front = front;
    this.downstream = downstream;
  }

  /** Null when another worker's front already holds the port. */
  static async start(server: ProxyServer, inner: TlsListener, host: string, port: number, set: CertificateSet, logger: Logger): Promise<H2Edge | null> {
    const peers = new Map<string, string>();
    const downstream = new H2Downstream(server, logger, set);
    const front = new TlsFront(host, port, () => inner.localPort, downstream, peers, logger);
    if (!(await front.listen())) return null;
    server.loopbackPeers = peers;
    const edge = new H2Edge(front, downstream);
    server.edge = edge;
    return edge;
  }

  update(set: CertificateSet): void {
    this.downstream.update(set);
  }

  close(): void {
    this.front.close();
    this.downstream.close();
  }

  destroy(): void {
    this.downstream.destroy();
    this.front.destroyPipes();
  }
}
