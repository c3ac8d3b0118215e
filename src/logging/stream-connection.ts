/**
 * One outgoing TCP (or TLS) connection for the log shippers (tcp-log, syslog over TCP, statsd
 * over TCP): opened on the first write, reused while writes keep coming, closed after `keepaliveMs`
 * idle (Kong's setkeepalive). A write resolves once the kernel took the bytes; a connect or write
 * slower than `timeoutMs`, or any socket error, rejects and drops the connection, so the batch
 * queue's retry opens a fresh one.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface StreamTarget {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly keepaliveMs: number;
  /** null: plain TCP. */
  readonly tls: { readonly servername: string | null; readonly rejectUnauthorized: boolean } | null;
}

/** OpenResty's default socket timeout, used when a config says 0. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export class StreamConnection {
  readonly #target: StreamTarget;
  #socket: net.Socket | null = null;
  #ready: Promise<net.Socket> | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(target: StreamTarget) {
    // Kong's cosockets take 0 as "the default" (60 s), not "fail at once".
    this.#target = target.timeoutMs > 0 ? target : { ...target, timeoutMs: DEFAULT_TIMEOUT_MS };
  }

  /** Connections opened so far (tests read it to see reuse). */
  connects = 0;

  async write(data: string | Buffer): Promise<void> {
    if (this.#closed) throw new Error('connection closed');
    const socket = await this.#connect();
    this.#clearIdle();
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve()))),
        this.#target.timeoutMs,
        `write to ${this.#target.host}:${this.#target.port} timed out`,
      );
    } catch (err) {
      this.#drop();
      throw err;
    }
    this.#armIdle();
  }

  close(): void {
    this.#closed = true;
    this.#drop();
  }

  #connect(): Promise<net.Socket> {
    if (this.#ready !== null) return this.#ready;
    const t = this.#target;
    this.connects++;
    this.#ready = new Promise<net.Socket>((resolve, reject) => {
      const host = t.host.startsWith('[') ? t.host.slice(1, -1) : t.host;
      const socket: net.Socket =
        t.tls === null
          ? net.connect({ host, port: t.port })
          : tls.connect({ host, port: t.port, servername: t.tls.servername ?? (net.isIP(host) ? undefined : host), rejectUnauthorized: t.tls.rejectUnauthorized });
      this.#socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error(`connect to ${t.host}:${t.port} timed out`)), t.timeoutMs);
      const ready = t.tls === null ? 'connect' : 'secureConnect';
      socket.once(ready, () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        if (this.#socket === socket) {
          this.#socket = null;
          this.#ready = null;
          this.#clearIdle();
        }
        reject(new Error(`connection to ${t.host}:${t.port} closed`));
      });
      // The receiver may talk back (it should not); read and discard so the socket never stalls.
      socket.on('data', () => {});
    });
    // A rejected connect must not leave an unhandled rejection when nobody awaits it again.
    this.#ready.catch(() => this.#drop());
    return this.#ready;
  }

  #armIdle(): void {
    this.#clearIdle();
    this.#idleTimer = setTimeout(() => this.#drop(), this.#target.keepaliveMs);
    this.#idleTimer.unref();
  }

  #clearIdle(): void {
    if (this.#idleTimer !== null) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
  }

  #drop(): void {
    this.#clearIdle();
    const s = this.#socket;
    this.#socket = null;
    this.#ready = null;
    s?.destroy();
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
