/**
 * A connected UDP socket for the log shippers (udp-log, syslog over UDP, statsd): bound once per
 * queue, the peer resolved on connect, each message one datagram as Kong sends it. A send slower
 * than `timeoutMs` (a stuck DNS lookup) or an ICMP error rejects and drops the socket, so the
 * queue's retry starts afresh.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { DEFAULT_TIMEOUT_MS, withTimeout } from './stream-connection';

export class DatagramSender {
  readonly #host: string;
  readonly #port: number;
  readonly #timeoutMs: number;
  #socket: Promise<dgram.Socket> | null = null;
  #closed = false;

  constructor(host: string, port: number, timeoutMs: number) {
    this.#host = host.startsWith('[') ? host.slice(1, -1) : host;
    this.#port = port;
    this.#timeoutMs = timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS;
  }

  async send(messages: readonly (string | Buffer)[]): Promise<void> {
    if (this.#closed) throw new Error('sender closed');
    const socket = await withTimeout(this.#open(), this.#timeoutMs, `resolving ${this.#host} timed out`).catch((err: unknown) => {
      this.#drop();
      throw err;
    });
    try {
      for (const m of messages) {
        await withTimeout(
          new Promise<void>((resolve, reject) => socket.send(m, (err) => (err ? reject(err) : resolve()))),
          this.#timeoutMs,
          `send to ${this.#host}:${this.#port} timed out`,
        );
      }
    } catch (err) {
      this.#drop();
      throw err;
    }
  }

  close(): void {
    this.#closed = true;
    this.#drop();
  }

  #open(): Promise<dgram.Socket> {
    if (this.#socket !== null) return this.#socket;
    const opening = new Promise<dgram.Socket>((resolve, reject) => {
      const type = net.isIPv6(this.#host) ? 'udp6' : 'udp4';
      const socket = dgram.createSocket(type);
      socket.unref();
      // Before connect: the lookup failed. After: an ICMP error for an earlier datagram. Either
      // way this socket is done; the next send opens another.
      socket.once('error', (err) => {
        if (this.#socket === opening) this.#socket = null;
        socket.close();
        reject(err);
      });
      socket.connect(this.#port, this.#host, () => resolve(socket));
    });
    this.#socket = opening;
    return opening;
  }

  #drop(): void {
    const s = this.#socket;
    this.#socket = null;
    if (s !== null) void s.then((sock) => closeQuietly(sock), () => undefined);
  }
}

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // already closed by its error handler
  }
}
