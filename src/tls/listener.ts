/**
 * One worker's HTTPS listener: uWS SSLApps on the shared TLS port (SO_REUSEPORT, like the plain
 * listener), with the worker's ProxyServer handler on every server name.
 *
 * uWS facts this is built around (v20.30 and v20.57 have the same SSL API):
 *   - certificates are read from files (`cert_file_name`, `key_file_name`), inside native code, when
 *     the app or the server name is created. So each build writes its PEM pairs to a private
 *     directory (mode 0700, files 0600, in /dev/shm when present: RAM, not disk) and removes them
 *     as soon as uWS has read them.
 *   - the default certificate is the app's own; SNI names are added with `addServerName`, each with
 *     its own router, so the handler is attached under `domain(name)` too (uWS closes a connection
 *     whose SNI router has no handler). `domain()` prints "Browsed to SNI: name" to stdout.
 *   - `removeServerName` deletes that router while connections negotiated with the name may still
 *     send requests through it. So a name is never removed or replaced in place: a reload that
 *     only adds names adds them; any other change builds a new app (a "generation") with the whole
 *     set. Open connections stay on the app they were accepted by (old certificate, new config)
 *     until they close; the retired app is kept (nothing tells when its last connection ended).
 *
 * How a new generation starts taking connections:
 *   - v20.57: one acceptor SSLApp owns the listen socket for the listener's whole life and hands
 *     each accepted socket, before any TLS, to its one child app (`addChildAppDescriptor`), which
 *     does the handshake. A swap adds the new generation as a child and removes the old one, so no
 *     listen socket ever closes and no connection is refused.
 *   - v20.30 (no child apps): the new generation listens on the same port (SO_REUSEPORT) and the
 *     old one's listen socket is closed, which resets connections still in its accept queue (see
 *     README "TLS" for how rare that is).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { WebSocketBehavior } from 'uWebSockets.js';
import { addConnectionFilter, setHttpIdleTimeout, uws, type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from '../proxy/uws';
import { fingerprintOf, pairTag, type CertificateSet, type TlsCertificate } from './certificate-set';
import { serverNameEntries } from './sni';

/**
 * TLS 1.2 suites: forward secrecy and AEAD only, ECDSA before RSA (Mozilla's "intermediate"
 * profile without DHE, which needs DH parameters nobody should still negotiate). TLS 1.3 uses the
 * library's three AEAD suites, which BoringSSL does not let anyone reorder. TLS 1.0 and 1.1 are
 * refused by uSockets itself (minimum version 1.2).
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** uWS v20.57's child-app API (not in its index.d.ts). */
interface ChildApps {
  addChildAppDescriptor(descriptor: number): void;
  removeChildAppDescriptor(descriptor: number): void;
  getDescriptor(): number;
}

function hasChildApps(app: TemplatedApp): app is TemplatedApp & ChildApps {
  const a = app as Partial<ChildApps>;
  return typeof a.addChildAppDescriptor === 'function' && typeof a.removeChildAppDescriptor === 'function' && typeof a.getDescriptor === 'function';
}

export type UpdateResult = 'unchanged' | 'added' | 'rebuilt' | 'failed';

interface Generation {
  readonly app: TemplatedApp;
  readonly fingerprint: string;
  /** Pattern -> pair tag of what uWS holds for it; the fallback under ''. */
  readonly registered: Map<string, string>;
  listenSocket: us_listen_socket | null;
}

export class TlsListener {
  readonly host: string;
  readonly port: number;
  readonly #handler: Handler;
  /** --client-idle-timeout (seconds; 0 = uWS's own). */
  readonly #idleTimeoutS: number;
  /** uWS's `ws` behavior (WebSocket upgrades), registered beside the handler on every router. */
  readonly #ws: WebSocketBehavior<unknown> | null;
  readonly #logger: Logger;
  #current: Generation | null = null;
  /** v20.57: the app that owns the listen socket and hands sockets to the current generation. */
  #acceptor: (TemplatedApp & ChildApps) | null = null;
  #acceptorSocket: us_listen_socket | null = null;
  /** Apps of earlier generations: their connections live on until the clients close them. */
  readonly #retired: Generation[] = [];
  #closed = false;

  /** The plain listener's connection filter (--max-connections, client timeouts), or null. */
  readonly #filter: ((res: HttpResponse, count: number) => void) | null;

  constructor(
    host: string,
    port: number,
    handler: Handler,
    logger: Logger,
    ws: WebSocketBehavior<unknown> | null = null,
    filter: ((res: HttpResponse, count: number) => void) | null = null,
    idleTimeoutS = 0,
  ) {
    this.#idleTimeoutS = idleTimeoutS;
    this.host = host;
    this.port = port;
    this.#handler = handler;
    this.#ws = ws;
    this.#logger = logger;
    this.#filter = filter;
  }

  get listening(): boolean {
    return this.#acceptorSocket !== null || this.#current?.listenSocket != null;
  }

  /** The port actually bound (a listener made with port 0 gets one from the kernel; h2/front.ts). */
  get localPort(): number {
    const socket = this.#acceptorSocket ?? this.#current?.listenSocket ?? null;
    return socket === null ? 0 : uws.us_socket_local_port(socket);
  }

  /** True when generations are swapped behind one acceptor (uWS v20.57). */
  get seamless(): boolean {
    return this.#acceptor !== null;
  }

  /** Build the first generation and listen. Rejects when nothing can be served or the port is taken. */
  async start(set: CertificateSet): Promise<void> {
    const gen = this.#build(set);
    // The acceptor's own certificate is never used (sockets leave it before the handshake), but
    // uWS needs one to make an SSLApp.
    const acceptor = withPemFiles([set.fallback!], (fileOf) => uws.SSLApp(appOptions(fileOf, set.fallback!)));
    if (hasChildApps(acceptor) && hasChildApps(gen.app)) {
      acceptor.addChildAppDescriptor(gen.app.getDescriptor());
      this.#acceptorSocket = await listenOn(acceptor, this.host, this.port);
      this.#acceptor = acceptor;
    } else {
      gen.listenSocket = await listenOn(gen.app, this.host, this.port);
    }
    this.#current = gen;
  }

  /**
   * Apply a new certificate set (after a reload). Never drops an accepted connection; on failure the
   * running generation keeps serving and the error is logged.
   */
  async update(set: CertificateSet): Promise<UpdateResult> {
    const current = this.#current;
    if (current === null || this.#closed) return 'unchanged';
    const fingerprint = fingerprintOf(set);
    if (fingerprint === current.fingerprint) return 'unchanged';
    try {
      const wanted = registrations(set);
      if (onlyAdds(current.registered, wanted)) {
        this.#addNames(current.app, set, current.registered);
        this.#current = { ...current, fingerprint, registered: wanted, listenSocket: current.listenSocket };
        return 'added';
      }
      const next = this.#build(set);
      const acceptor = this.#acceptor;
      if (acceptor !== null) {
        // Back to back, so no socket is handed to the old generation after this.
        acceptor.addChildAppDescriptor((next.app as TemplatedApp & ChildApps).getDescriptor());
        acceptor.removeChildAppDescriptor((current.app as TemplatedApp & ChildApps).getDescriptor());
        this.#current = next;
        this.#retired.push(current);
        return 'rebuilt';
      }
      next.listenSocket = await listenOn(next.app, this.host, this.port);
      if (this.#closed) {
        uws.us_listen_socket_close(next.listenSocket!);
        return 'failed';
      }
      this.#current = next;
      this.#retired.push(current);
      // A listen socket closed with connections still in its accept queue resets them. Closing
      // in the check phase right after a poll phase (the second setImmediate: the first runs after
      // the poll that delivered this reload, whose work let connections queue up) leaves only the
      // microseconds between uSockets' accept loop and the close.
      setImmediate(() =>
        setImmediate(() => {
          if (current.listenSocket !== null) uws.us_listen_socket_close(current.listenSocket);
          current.listenSocket = null;
        }),
      );
      return 'rebuilt';
    } catch (err) {
      this.#logger.error({ err }, 'TLS certificates not updated; the previous ones keep serving');
      return 'failed';
    }
  }

  /** Stop accepting (drain); connections already accepted finish their requests. */
  close(): void {
    this.#closed = true;
    if (this.#acceptorSocket !== null) {
      uws.us_listen_socket_close(this.#acceptorSocket);
      this.#acceptorSocket = null;
    }
    for (const gen of [this.#current, ...this.#retired]) {
      if (gen?.listenSocket != null) {
        uws.us_listen_socket_close(gen.listenSocket);
        gen.listenSocket = null;
      }
    }
  }

  /**
   * After a drain, on uWS builds with App.close() (v20.57): close every connection of every
   * generation, so the worker thread can end. The caller checked that App.close() exists.
   */
  closeConnections(): void {
    this.close();
    this.#acceptor?.close();
    for (const gen of [this.#current, ...this.#retired]) gen?.app.close();
  }

  #build(set: CertificateSet): Generation {
    if (set.fallback === null) throw new Error('the TLS listener has no certificate to serve');
    const wanted = registrations(set);
    return withPemFiles(collectPairs(set), (fileOf) => {
      const app = uws.SSLApp(appOptions(fileOf, set.fallback!));
      if (this.#idleTimeoutS > 0) setHttpIdleTimeout(app, this.#idleTimeoutS);
      // Connections are counted where the handshake happens (the generation, not the acceptor).
      if (this.#filter !== null) addConnectionFilter(app, this.#filter);
      app.any('/*', this.#handler);
      if (this.#ws !== null) app.ws('/*', this.#ws);
      this.#addNames(app, set, new Map(), fileOf);
      return { app, fingerprint: fingerprintOf(set), registered: wanted, listenSocket: null };
    });
  }

  /** Register every name of `wanted` that `have` lacks. */
  #addNames(app: TemplatedApp, set: CertificateSet, have: Map<string, string>, files?: (c: TlsCertificate) => string[]): void {
    const entries = serverNameEntries(set).filter((e) => !have.has(e.pattern));
    if (entries.length === 0) return;
    const register = (fileOf: (c: TlsCertificate) => string[]) => {
      for (const e of entries) {
        app.addServerName(e.pattern, appOptions(fileOf, e.certificate));
        app.domain(e.pattern).any('/*', this.#handler);
        if (this.#ws !== null) app.ws('/*', this.#ws);
      }
    };
    if (files !== undefined) register(files);
    else withPemFiles(entries.map((e) => e.certificate), register);
  }
}

function listenOn(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) reject(new Error(`cannot listen on ${host}:${port} (TLS)`));
      else resolve(socket);
    });
  });
}

/** Pattern -> pair tag, with the fallback under ''. */
function registrations(set: CertificateSet): Map<string, string> {
  const out = new Map<string, string>();
  out.set('', set.fallback === null ? '' : pairTag(set.fallback.cert, set.fallback.key));
  for (const e of serverNameEntries(set)) out.set(e.pattern, pairTag(e.certificate.cert, e.certificate.key));
  return out;
}

/** True when `wanted` keeps everything `have` holds, unchanged, and only adds names. */
function onlyAdds(have: Map<string, string>, wanted: Map<string, string>): boolean {
  for (const [pattern, tag] of have) if (wanted.get(pattern) !== tag) return false;
  return true;
}

function collectPairs(set: CertificateSet): TlsCertificate[] {
  return set.fallback === null ? [...set.certificates] : [set.fallback, ...set.certificates];
}

function appOptions(fileOf: (c: TlsCertificate) => string[], c: TlsCertificate) {
  const [certFile, keyFile] = fileOf(c);
  return { cert_file_name: certFile, key_file_name: keyFile, ssl_ciphers: TLS12_CIPHERS };
}

/**
 * Writes each certificate's PEM pair to a fresh private directory, runs `use` (which hands the file
 * names to uWS, which reads them synchronously), and removes the directory whatever happens.
 */
function withPemFiles<T>(certificates: readonly TlsCertificate[], use: (fileOf: (c: TlsCertificate) => string[]) => T): T {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'floodgate-tls-'));
  try {
    const files = new Map<string, string[]>();
    for (const c of certificates) {
      const tag = pairTag(c.cert, c.key);
      if (files.has(tag)) continue;
      const certFile = path.join(dir, `${tag}.crt`);
      const keyFile = path.join(dir, `${tag}.key`);
      fs.writeFileSync(certFile, c.cert, { mode: 0o600 });
      fs.writeFileSync(keyFile, c.key, { mode: 0o600 });
      files.set(tag, [certFile, keyFile]);
    }
    return use((c) => files.get(pairTag(c.cert, c.key))!);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
