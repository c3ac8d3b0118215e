/**
 * The connections of one worker to one upstream address. Keep-alive with a LIFO idle stack (the
 * warmest connection first); `maxConnections` is a real cap: beyond it requests wait in a bounded
 * FIFO queue, and one that waits longer than the queue timeout, or finds the queue full, fails
 * with a 503 whose message says which.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Failure } from './failures';
import { ExchangeState, type UpstreamExchange } from './exchange';
import { ConnState, UpstreamConnection } from './connection';
import type { UpstreamEngine } from './engine';
import type { ParserKernel } from './parser-kernel';
import { NativeSocket } from './native-socket';

/**
 * The read buffer every plain upstream connection of this worker reads into (node's `onread`).
 * Reads are handled synchronously and one at a time, so one buffer serves them all; without it
 * node allocates a 64 KiB buffer per read and pushes each through the stream machinery.
 * Size: node's own default read size.
 */
const sharedReadBuffer = Buffer.allocUnsafe(64 * 1024);

export interface PoolOptions {
  readonly secure: boolean;
  /** Address to connect to (an IP, or a name the system resolves). */
  readonly host: string;
  readonly port: number;
  /** TLS server name (SNI and certificate check); '' for an IP target. */
  readonly servername: string;
  readonly tlsVerify: boolean;
  readonly connectTimeoutMs: number;
  /** 0 = unlimited. */
  readonly maxConnections: number;
  readonly maxPending: number;
  readonly queueTimeoutMs: number;
  readonly keepAliveMs: number;
  /** 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly maxHeadBytes: number;
  /** Who parses responses: the js or the native kernel (parser-kernel.ts). */
  readonly kernel: ParserKernel;
  /**
   * Connect with the addon's sockets (native-socket.ts): `--upstream-engine native`, plain TCP,
   * and `host` an IP (a name goes through node's resolver and net.Socket).
   */
  readonly nativeSockets: boolean;
}

export class UpstreamPool {
  readonly engine: UpstreamEngine;
  readonly key: string;
  readonly options: PoolOptions;
  readonly secure: boolean;
  /** Every live connection (connecting, idle, busy). */
  readonly connections: UpstreamConnection[] = [];
  readonly #idle: UpstreamConnection[] = [];
  readonly #queue: UpstreamExchange[] = [];
  #closed = false;
  readonly queueFullMessage: string;
  readonly queueTimeoutMessage: string;

  constructor(engine: UpstreamEngine, key: string, options: PoolOptions) {
    this.engine = engine;
    this.key = key;
    this.options = options;
    this.secure = options.secure;
    const where = `${options.host}:${options.port}`;
    this.queueFullMessage = `upstream connection pool full: ${options.maxConnections} connections to ${where} busy and ${options.maxPending} requests waiting`;
    this.queueTimeoutMessage = `upstream connection pool busy: no connection to ${where} free within ${options.queueTimeoutMs} ms (${options.maxConnections} connections)`;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get pendingCount(): number {
    return this.#queue.length;
  }

  get busy(): boolean {
    return this.connections.length > 0 || this.#queue.length > 0;
  }

  /** Send an exchange: on an idle connection, a new one, or after waiting its turn. */
  dispatch(ex: UpstreamExchange): void {
    ex.pool = this;
    if (this.#closed) return this.#refuse(ex, Failure.Closed, '');
    const idle = this.#idle;
    while (idle.length > 0) {
      const conn = idle.pop()!;
      if (conn.state === ConnState.Idle && !conn.socket.destroyed) {
        conn.start(ex);
        return;
      }
      conn.destroy();
    }
    const max = this.options.maxConnections;
    if (max === 0 || this.connections.length < max) {
      this.#open().start(ex);
      return;
    }
    if (this.#queue.length >= this.options.maxPending) return this.#refuse(ex, Failure.QueueFull, this.queueFullMessage);
    ex.state = ExchangeState.Queued;
    ex.queueDeadline = this.engine.deadlineIn(this.options.queueTimeoutMs);
    this.#queue.push(ex);
  }

  /** Replay after a keep-alive race: always on a new connection. */
  dispatchFresh(ex: UpstreamExchange): void {
    if (this.#closed) return this.#refuse(ex, Failure.Closed, '');
    this.#open().start(ex);
  }

  #refuse(ex: UpstreamExchange, failure: Failure, detail: string): void {
    ex.state = ExchangeState.Done;
    ex.handler.onExchangeFailed(failure, detail, null);
  }

  #open(): UpstreamConnection {
    const o = this.options;
    if (o.nativeSockets) {
      const socket = new NativeSocket(o.host, o.port);
      this.engine.wake();
      const native = new UpstreamConnection(this, socket, o.maxHeadBytes, o.kernel);
      socket.reader = native;
      this.connections.push(native);
      return native;
    }
    // Plain TCP reads into the worker's one shared read buffer (UpstreamConnection.onBorrowedRead);
    // TLS sockets keep 'data' events.
    let conn: UpstreamConnection | null = null;
    const socket = o.secure
      ? tls.connect({ host: o.host, port: o.port, servername: o.servername === '' ? undefined : o.servername, rejectUnauthorized: o.tlsVerify })
      : net.connect({
          host: o.host,
          port: o.port,
          onread: {
            buffer: sharedReadBuffer,
            callback: (bytes: number, shared: Uint8Array): boolean => {
              conn!.onBorrowedRead(bytes, shared as Buffer);
              return true;
            },
          },
        });
    // The clock first: a stopped clock's `now` is stale, and the connect deadline builds on it.
    this.engine.wake();
    conn = new UpstreamConnection(this, socket, o.maxHeadBytes, o.kernel);
    this.connections.push(conn);
    return conn;
  }

  /** A connection finished its exchange and may carry another. */
  release(conn: UpstreamConnection): void {
    const next = this.#queue.shift();
    if (next === undefined && this.#closed) return conn.destroy();
    conn.becomeIdle();
    if (next !== undefined) {
      conn.start(next);
      return;
    }
    this.#idle.push(conn);
  }

  /** A connection closed: forget it, and let a waiting request open its replacement. */
  remove(conn: UpstreamConnection): void {
    const all = this.connections;
    const at = all.indexOf(conn);
    if (at < 0) return;
    all.splice(at, 1);
    const idleAt = this.#idle.indexOf(conn);
    if (idleAt >= 0) this.#idle.splice(idleAt, 1);
    if (this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      this.#open().start(next);
    }
  }

  dequeue(ex: UpstreamExchange): void {
    const at = this.#queue.indexOf(ex);
    if (at >= 0) this.#queue.splice(at, 1);
  }

  /** The engine's tick: deadlines of connections and of waiting requests. */
  sweep(now: number): void {
    const all = this.connections;
    for (let i = all.length - 1; i >= 0; i--) {
      const conn = all[i];
      if (conn !== undefined && conn.deadline !== 0 && now >= conn.deadline) conn.timedOut();
    }
    const queue = this.#queue;
    // FIFO with one timeout: the oldest expires first.
    while (queue.length > 0 && now >= queue[0].queueDeadline) {
      const ex = queue.shift()!;
      this.#refuse(ex, Failure.QueueTimeout, this.queueTimeoutMessage);
    }
  }

  /**
   * Stop taking requests (the target left the config); idle connections close now, busy ones
   * after their exchange. Requests already waiting are still served: they belong to the old
   * snapshot, which keeps the target until they end.
   */
  close(): void {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.destroy();
  }

  /** Close every connection now (the worker is going away). */
  destroy(): void {
    this.close();
    for (const ex of this.#queue.splice(0)) this.#refuse(ex, Failure.Closed, '');
    for (const conn of this.connections.slice()) conn.destroy();
  }
}
