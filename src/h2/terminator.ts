/**
 * TLS termination in node for every connection of the TLS port, used when client certificates are
 * on (`--tls-client-verify optional|required`, ARCHITECTURE.md "Client certificates"). uWS.js
 * cannot show JavaScript a peer certificate, so the front (h2/front.ts) hands each accepted socket
 * here instead of reading its ClientHello; after the handshake, the connection goes to HTTP/2
 * (ALPN h2) or, as plaintext, to this worker's inner uWS listener, with the verified identity.
 *
 * The handshake asks for a certificate (`requestCert`) but never fails for it
 * (`rejectUnauthorized: false`): as NGINX's `ssl_verify_client`, a missing (required) or
 * unverified certificate is answered with an HTTP 400 that says why (proxy/errors.ts), which a
 * client can read and the access log records, rather than a bare TLS alert.
 *
 * Certificates and trusted CAs change with a reload: new handshakes use the new contexts,
 * established connections keep theirs. When the CAs change the session ticket keys are replaced
 * too, so no session resumed from a ticket issued under the old CAs skips the new verification.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { clientCertificateError, Errors, type ProxyError } from '../proxy/errors';
import { fingerprintOf, type CertificateSet, type TlsCertificate } from '../tls/certificate-set';
import { PeerCertificate } from '../tls/client-certificate';
import { TLS12_CIPHERS } from '../tls/listener';
import type { ClientVerify } from '../tls/settings';
import { normalizeServerName, selectCertificate } from '../tls/sni';
import { ClientPeer } from './loopback-peers';

/** A client that has not finished the handshake by then is dropped (slowloris on the front). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ClientAuthOptions {
  readonly verify: Exclude<ClientVerify, 'off'>;
  /** Send the identity upstream as x-forwarded-client-cert. */
  readonly forward: boolean;
  /** Offer h2 by ALPN (--http2 on). */
  readonly http2: boolean;
}

/** Called once per connection after the handshake, with who is behind it. */
export type SecureHandler = (socket: tls.TLSSocket, peer: ClientPeer) => void;

export class TlsTerminator {
  readonly #options: ClientAuthOptions;
  readonly #server: tls.Server;
  readonly #logger: Logger;
  #set: CertificateSet;
  #cas: readonly string[];
  #fingerprint: string;
  #contexts = new Map<TlsCertificate, tls.SecureContext>();
  /** Ties sessions to this server (OpenSSL refuses to resume without one once it verifies peers). */
  readonly #sessionIdContext = randomBytes(16).toString('hex');

  constructor(set: CertificateSet, cas: readonly string[], options: ClientAuthOptions, onSecure: SecureHandler, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#set = set;
    this.#cas = cas;
    this.#fingerprint = fingerprintOf(set);
    this.#server = tls.createServer({
      ...this.#contextOptions(set.fallback!),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: options.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
      SNICallback: (name, cb) => cb(null, this.#contextFor(name)),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      sessionIdContext: this.#sessionIdContext,
    });
    this.#server.on('secureConnection', (socket: tls.TLSSocket) => onSecure(socket, this.#identify(socket)));
    this.#server.on('tlsClientError', (err: Error) => logger.debug({ err }, 'TLS handshake failed'));
  }

  /** A TCP connection accepted by the front: the handshake starts here. */
  accept(socket: Socket): void {
    this.#server.emit('connection', socket);
  }

  /** Certificates or CAs changed (reload): new handshakes use the new ones. */
  update(set: CertificateSet, cas: readonly string[]): void {
    const casChanged = cas.length !== this.#cas.length || cas.some((c, i) => c !== this.#cas[i]);
    const fingerprint = fingerprintOf(set);
    // Most reloads change neither: keep the contexts, and the session tickets they issued.
    if (!casChanged && fingerprint === this.#fingerprint) return;
    this.#fingerprint = fingerprint;
    this.#set = set;
    this.#cas = cas;
    this.#contexts = new Map();
    if (set.fallback !== null) this.#server.setSecureContext({ ...this.#contextOptions(set.fallback), sessionIdContext: this.#sessionIdContext });
    // A new context comes with new ticket keys already; replaced explicitly all the same, as a
    // session resumed from an old ticket would keep its old verification result.
    if (casChanged) this.#server.setTicketKeys(randomBytes(48));
  }

  #identify(socket: tls.TLSSocket): ClientPeer {
    const address = socket.remoteAddress ?? '';
    const x509 = socket.getPeerX509Certificate();
    if (x509 === undefined) {
      return new ClientPeer(address, null, this.#options.verify === 'required' ? Errors.noClientCertificate : null);
    }
    if (!socket.authorized) {
      const reason = String(socket.authorizationError ?? 'unverified');
      this.#logger.debug({ client: address, reason, subject: x509.subject }, 'client certificate refused');
      return new ClientPeer(address, null, clientCertificateError(reason));
    }
    return new ClientPeer(address, new PeerCertificate(x509, this.#options.forward), null);
  }

  #contextFor(name: string): tls.SecureContext | undefined {
    const cert = selectCertificate(this.#set, name === '' ? '' : normalizeServerName(name));
    if (cert === null) return undefined;
    let ctx = this.#contexts.get(cert);
    if (ctx === undefined) {
      ctx = tls.createSecureContext(this.#contextOptions(cert));
      this.#contexts.set(cert, ctx);
    }
    return ctx;
  }

  #contextOptions(cert: TlsCertificate): tls.SecureContextOptions {
    const keys = [cert.key];
    const certs = [cert.cert];
    if (cert.certAlt !== null && cert.keyAlt !== null) {
      keys.push(cert.keyAlt);
      certs.push(cert.certAlt);
    }
    return { key: keys, cert: certs, ca: [...this.#cas], minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS };
  }
}
