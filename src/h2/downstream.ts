/**
 * HTTP/2 downstream: node:http2 sessions for the connections the TLS front (h2/front.ts) found
 * offering `h2`, each stream entering ProxyServer's request path (`acceptStream`) as an
 * H2StreamResponse. Limits and the known HTTP/2 attacks are bounded here (README "HTTP/2"):
 *
 *   - streams: SETTINGS_MAX_CONCURRENT_STREAMS 128; a client opening more gets them refused,
 *     and after `maxSessionRejectedStreams` refused ones the session is closed;
 *   - headers: SETTINGS_MAX_HEADER_LIST_SIZE = --max-header-bytes and at most 128 header
 *     fields (HPACK bomb, CONTINUATION flood: nghttp2 counts the decoded size while it decodes
 *     and ends the session past the limit);
 *   - rapid reset (CVE-2023-44487): nghttp2's stream reset rate limit sends GOAWAY; a reset
 *     stream cancels its upstream request through onAborted like a lost HTTP/1.1 client;
 *   - ping and settings floods: nghttp2 bounds the queued acknowledgements (GOAWAY past it),
 *     `maxSettings` bounds the entries of one SETTINGS frame;
 *   - invalid frames: `maxSessionInvalidFrames`;
 *   - memory: `maxSessionMemory` per session (node refuses new streams past it);
 *   - a session with nothing to do for 120 s is closed with GOAWAY;
 *   - drain: every session gets GOAWAY (`close()`), streams in flight finish.
 */
import http2, { type Http2SecureServer, type Http2Session, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { collectStreamHeader, type ProxyServer } from '../proxy/server';
import type { DownstreamHead } from '../proxy/request-head';
import type { HttpResponse } from '../proxy/uws';
import type { CertificateSet, TlsCertificate } from '../tls/certificate-set';
import { TLS12_CIPHERS } from '../tls/listener';
import { normalizeServerName, selectCertificate } from '../tls/sni';
import { H2StreamResponse } from './stream-response';
import { ClientPeer } from './loopback-peers';

export const H2_MAX_CONCURRENT_STREAMS = 128;
const NO_PEER = new ClientPeer('', null, null);
export const H2_MAX_HEADER_FIELDS = 128;
export const H2_SESSION_IDLE_MS = 120_000;
/** A client that has not finished the TLS handshake by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
const END_STREAM = http2.constants.NGHTTP2_FLAG_END_STREAM;

/** Who is behind the TCP connection under a session: address and, with mTLS, certificate (set by the front). */
const PEER = Symbol('floodgate.h2.peer');
type Tagged = Duplex & { [PEER]?: ClientPeer };

export class H2Downstream {
  readonly #server: ProxyServer;
  readonly #logger: Logger;
  readonly #h2: Http2SecureServer;
  readonly #sessions = new Set<Http2Session>();
  #set: CertificateSet;
  #contexts = new Map<TlsCertificate, tls.SecureContext>();
  #closed = false;

  constructor(server: ProxyServer, logger: Logger, set: CertificateSet) {
    this.#server = server;
    this.#logger = logger;
    this.#set = set;
    const fallback = set.fallback!;
    this.#h2 = http2.createSecureServer({
      ...pemOptions(fallback),
      minVersion: 'TLSv1.2',
      ciphers: TLS12_CIPHERS,
      ALPNProtocols: ['h2'],
      SNICallback: (name, cb) => cb(null, this.#contextFor(name)),
      settings: {
        maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: server.settings.maxHeaderBytes,
        enablePush: false,
      },
      maxHeaderListPairs: H2_MAX_HEADER_FIELDS,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      maxSettings: 32,
      maxOutstandingPings: 10,
      maxSessionMemory: 10,
      maxSendHeaderBlockLength: 256 * 1024,
      unknownProtocolTimeout: 10_000,
    });
    this.#h2.setTimeout(H2_SESSION_IDLE_MS);
    this.#h2.on('session', this.#onSession);
    this.#h2.on('stream', this.#onStream);
    this.#h2.on('tlsClientError', () => {
      /* a failed handshake is the client's problem; the socket is closed by node */
    });
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Certificates changed (reload): new handshakes use the new set. */
  update(set: CertificateSet): void {
    this.#set = set;
    this.#contexts = new Map();
    if (set.fallback !== null) this.#h2.setSecureContext({ ...pemOptions(set.fallback), minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS });
  }

  /** A TCP connection whose ClientHello offered h2 (bytes already read are replayed by `socket`). */
  adopt(socket: Duplex, remoteAddress: string): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    // TLS is set up here rather than by emitting 'connection' on the server, so the TLS socket
    // (what a session's `socket` is) can carry the client's address: one over a JS stream has none.
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: this.#contextFor(''),
      ALPNProtocols: ['h2'],
      SNICallback: (name, cb) => cb(null, this.#contextFor(name)),
    }) as tls.TLSSocket & Tagged;
    secure[PEER] = new ClientPeer(remoteAddress, null, null);
    const timer = setTimeout(() => secure.destroy(), HANDSHAKE_TIMEOUT_MS);
    secure.once('secure', () => {
      clearTimeout(timer);
      // What tls.Server does for sockets it made itself (_tls_wrap onServerSocketSecure): a
      // session waits for 'secureConnect' (client sockets only) while secureConnecting is set.
      const internals = secure as unknown as { secureConnecting: boolean; _releaseControl?: () => boolean };
      internals.secureConnecting = false;
      internals._releaseControl?.();
      this.#h2.emit('secureConnection', secure);
    });
    secure.on('error', () => {
      clearTimeout(timer);
      secure.destroy();
    });
    secure.once('close', () => clearTimeout(timer));
  }

  /**
   * mTLS: a connection node:tls already terminated (h2/terminator.ts) that chose h2 by ALPN, with
   * who is behind it. Every stream of its session carries the peer's certificate (or refusal).
   */
  adoptSecure(secure: tls.TLSSocket, peer: ClientPeer): void {
    if (this.#closed) {
      secure.destroy();
      return;
    }
    (secure as tls.TLSSocket & Tagged)[PEER] = peer;
    this.#h2.emit('secureConnection', secure);
  }

  /** Drain: GOAWAY to every session; streams in flight finish, new ones are refused. */
  close(): void {
    this.#closed = true;
    for (const session of this.#sessions) session.close();
  }

  /** After the drain deadline: end every session now. */
  destroy(): void {
    this.#closed = true;
    for (const session of this.#sessions) session.destroy();
  }

  #contextFor(name: string): tls.SecureContext | undefined {
    const cert = selectCertificate(this.#set, name === '' ? '' : normalizeServerName(name));
    if (cert === null) return undefined;
    let ctx = this.#contexts.get(cert);
    if (ctx === undefined) {
      ctx = tls.createSecureContext({ ...pemOptions(cert), minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS });
      this.#contexts.set(cert, ctx);
    }
    return ctx;
  }

  #onSession = (session: Http2Session): void => {
    this.#sessions.add(session);
    session.on('close', () => this.#sessions.delete(session));
    session.on('error', (err) => this.#logger.debug({ err }, 'h2 session error'));
    session.on('frameError', () => {
      /* counted by node against maxSessionInvalidFrames */
    });
    if (this.#closed) session.close();
  };

  #onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]): void => {
    const socket = stream.session?.socket as unknown as Tagged | undefined;
    const peer = socket?.[PEER] ?? NO_PEER;
    const res = new H2StreamResponse(stream);
    this.#server.acceptStream(res as unknown as HttpResponse, (head) => fillHead(head, rawHeaders, peer, (flags & END_STREAM) !== 0));
    void headers;
  };
}

/** The request head of one stream, as server.ts's collector builds it for HTTP/1.1. */
function fillHead(head: DownstreamHead, raw: string[], peer: ClientPeer, endStream: boolean): void {
  let authority = '';
  let path = '';
  let cookie = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':method') head.method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      head.headBytes += name.length + value.length + 4;
      continue;
    }
    // RFC 9113 §8.2.3: h2 clients may split Cookie into several fields; HTTP/1.1 wants one.
    if (name === 'cookie') cookie = cookie === '' ? value : cookie + '; ' + value;
    else collectStreamHeader(name, value);
  }
  if (cookie !== '') collectStreamHeader('cookie', cookie);
  // RFC 9113 §8.3.1: :authority is the Host; the upstream still needs a Host header.
  if (head.hostHeader === '' && authority !== '') collectStreamHeader('host', authority);
  const q = path.indexOf('?');
  head.rawPath = q === -1 ? path : path.slice(0, q);
  head.query = q === -1 ? '' : path.slice(q + 1);
  head.headBytes += head.method.length + path.length + 12;
  head.remoteAddress = peer.address;
  head.clientCertificate = peer.certificate;
  head.clientCertificateRefusal = peer.refusal;
  // An h2 request carries a body unless its HEADERS frame ended the stream; without a
  // content-length it has no declared size, which the request path knows as "chunked"
  // (the upstream gets Transfer-Encoding: chunked).
  if (!endStream && head.contentLength === -1) head.hasTransferEncoding = true;
}

function pemOptions(cert: TlsCertificate): { key: string[]; cert: string[] } {
  const keys = [cert.key];
  const certs = [cert.cert];
  if (cert.certAlt !== null && cert.keyAlt !== null) {
    keys.push(cert.keyAlt);
    certs.push(cert.certAlt);
  }
  return { key: keys, cert: certs };
}
