/**
 * Who is behind each connection the TLS front (h2/front.ts) pipes to this worker's inner uWS
 * listener. The front connects from a loopback address of its own per client connection
 * (127.a.b.c), so the inner side, which sees only that address, can find the client's address and,
 * with mTLS, the certificate verified on that connection (or the refusal to answer instead).
 * One entry per open piped connection, so every request on it reads the same object.
 */
import type { DownstreamHead } from '../proxy/request-head';
import type { ProxyError } from '../proxy/errors';
import type { PeerCertificate } from '../tls/client-certificate';

/** Who is behind one TLS connection: its address and, with mTLS, its certificate or its refusal. */
export class ClientPeer {
  readonly address: string;
  readonly certificate: PeerCertificate | null;
  readonly refusal: ProxyError | null;

  constructor(address: string, certificate: PeerCertificate | null, refusal: ProxyError | null) {
    this.address = address;
    this.certificate = certificate;
    this.refusal = refusal;
  }
}

export class LoopbackPeers {
  readonly #byLoopback = new Map<string, ClientPeer>();
  #next = 0;

  /** ProxyServer: a request from a piped connection gets its client's address and certificate. */
  restore(head: DownstreamHead): void {
    const peer = this.#byLoopback.get(head.remoteAddress);
    if (peer === undefined) return;
    head.remoteAddress = peer.address;
    head.clientCertificate = peer.certificate;
    head.clientCertificateRefusal = peer.refusal;
  }

  /** Reserve a loopback address for one piped connection; `release` it when the pipe closes. */
  reserve(peer: ClientPeer): string {
    const address = this.#unusedAddress();
    this.#byLoopback.set(address, peer);
    return address;
  }

  release(address: string, peer: ClientPeer): void {
    if (this.#byLoopback.get(address) === peer) this.#byLoopback.delete(address);
  }

  get size(): number {
    return this.#byLoopback.size;
  }

  /**
   * The next unused loopback address of 127.1.0.0/16 .. 127.254.255.255 (16 M of them), one per
   * piped connection at a time, so the inner side can tell whose connection it is.
   */
  #unusedAddress(): string {
    for (;;) {
      const n = this.#next;
      this.#next = (n + 1) % (254 * 65536);
      const a = 1 + (n >>> 16);
      const b = (n >>> 8) & 255;
      const c = n & 255;
      if (c === 0 || c === 255) continue;
      const address = `127.${a}.${b}.${c}`;
      if (!this.#byLoopback.has(address)) return address;
    }
  }
}
