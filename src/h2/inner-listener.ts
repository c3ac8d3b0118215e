/**
 * With client certificates on, node terminates TLS (h2/terminator.ts) and HTTP/1.1 arrives here
 * as plaintext: a plain uWS app of this worker alone on 127.0.0.1 and a port of the kernel's
 * choosing, serving ProxyServer's HTTPS handler (scheme https, X-Forwarded-Proto: https). The
 * public plain listener cannot take these connections: it shares its port with the other workers
 * (SO_REUSEPORT), and the peer table that names each connection's client and certificate
 * (h2/loopback-peers.ts) belongs to this worker.
 */
import type { WebSocketBehavior } from 'uWebSockets.js';
import { addConnectionFilter, setHttpIdleTimeout, uws, uwsBuild, type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from '../proxy/uws';

export class InnerListener {
  readonly #app: TemplatedApp;
  #socket: us_listen_socket | null = null;

  constructor(
    handler: (res: HttpResponse, req: HttpRequest) => void,
    ws: WebSocketBehavior<unknown>,
    filter: ((res: HttpResponse, count: number) => void) | null,
    idleTimeoutS: number,
  ) {
    this.#app = uws.App().any('/*', handler).ws('/*', ws);
    if (idleTimeoutS > 0) setHttpIdleTimeout(this.#app, idleTimeoutS);
    // Piped connections count against --max-connections like any other.
    if (filter !== null) addConnectionFilter(this.#app, filter);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#app.listen('127.0.0.1', 0, (socket) => {
        if (socket === false) reject(new Error('cannot listen on 127.0.0.1 (inner listener for TLS-terminated connections)'));
        else {
          this.#socket = socket;
          resolve();
        }
      });
    });
  }

  get localPort(): number {
    return this.#socket === null ? 0 : uws.us_socket_local_port(this.#socket);
  }

  /** Drain: stop accepting; the piped connections finish their requests. */
  close(): void {
    if (this.#socket !== null) uws.us_listen_socket_close(this.#socket);
    this.#socket = null;
  }

  /** After the drain (v20.57): close every connection so the worker thread can end. */
  closeConnections(): void {
    this.close();
    if (uwsBuild.hasAppClose) this.#app.close();
  }
}
