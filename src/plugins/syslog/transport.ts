/**
 * Where syslog entries go. Each entry is a priority (facility * 8 + severity) and a message.
 *
 * - unix: the local syslog socket (/dev/log), as Kong's syslog(3) does. Node has no AF_UNIX
 *   datagram sockets, so each batch is handed to util-linux `logger` (one process per batch and
 *   priority, the lines on its stdin), which writes them to the socket as syslog(3) would
 *   (datagram, or stream when the socket is one) and exits non-zero when it cannot: the queue then
 *   retries. Batches are coalesced for 200 ms, so a busy worker spawns a few processes a second.
 * - udp / tcp: a remote syslog server, RFC 3164 lines (`<PRI>Mmm dd hh:mm:ss host kong: msg`), one
 *   per datagram over UDP, newline-framed over TCP (RFC 6587 non-transparent framing).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { DatagramSender } from '../../logging/datagram-sender';
import { StreamConnection } from '../../logging/stream-connection';

export interface SyslogEntry {
  readonly priority: number;
  /** One line: JSON never contains a raw newline. */
  readonly message: string;
}

export interface SyslogTransport {
  send(entries: SyslogEntry[]): Promise<void>;
  close(): void;
}

/** Kong's sender name. */
export const SYSLOG_TAG = 'kong';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Largest message `logger` will pass whole (the default truncates at 1 KiB). */
const LOGGER_MAX_BYTES = 65_000;

/** RFC 3164 timestamp, local time, day padded with a space. */
export function bsdTimestamp(d: Date): string {
  const day = d.getDate();
  const two = (n: number) => (n < 10 ? '0' + n : String(n));
  return `${MONTHS[d.getMonth()]} ${day < 10 ? ' ' + day : day} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export function rfc3164Line(entry: SyslogEntry, now: Date, hostname: string): string {
  return `<${entry.priority}>${bsdTimestamp(now)} ${hostname} ${SYSLOG_TAG}: ${entry.message}`;
}

const FACILITY_NAMES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp'];

/** `logger -p` wants facility.level names; local0..7 are 16..23. */
function priorityName(priority: number): string {
  const facility = priority >> 3;
  const level = priority & 7;
  const name = facility >= 16 ? `local${facility - 16}` : FACILITY_NAMES[facility];
  return `${name}.${level}`;
}

class LocalSocketTransport implements SyslogTransport {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  async send(entries: SyslogEntry[]): Promise<void> {
    const byPriority = new Map<number, string[]>();
    for (const e of entries) {
      const lines = byPriority.get(e.priority);
      if (lines === undefined) byPriority.set(e.priority, [e.message]);
      else lines.push(e.message);
    }
    for (const [priority, lines] of byPriority) await this.#logger(priority, lines.join('\n') + '\n');
  }

  close(): void {}

  #logger(priority: number, input: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn('logger', ['-u', this.#path, '--socket-errors=on', '-t', SYSLOG_TAG, '-p', priorityName(priority), '--size', String(LOGGER_MAX_BYTES)], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (stderr.length < 1000) stderr += d;
      });
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`logger exited ${code}: ${stderr.trim()}`))));
      child.stdin.on('error', () => {}); // logger died early: its exit code says why
      child.stdin.end(input);
    });
  }
}

class UdpTransport implements SyslogTransport {
  readonly #sender: DatagramSender;
  readonly #hostname = os.hostname();

  constructor(host: string, port: number) {
    this.#sender = new DatagramSender(host, port, 10_000);
  }

  send(entries: SyslogEntry[]): Promise<void> {
    const now = new Date();
    return this.#sender.send(entries.map((e) => rfc3164Line(e, now, this.#hostname)));
  }

  close(): void {
    this.#sender.close();
  }
}

class TcpTransport implements SyslogTransport {
  readonly #connection: StreamConnection;
  readonly #hostname = os.hostname();

  constructor(host: string, port: number) {
    this.#connection = new StreamConnection({ host, port, timeoutMs: 10_000, keepaliveMs: 60_000, tls: null });
  }

  send(entries: SyslogEntry[]): Promise<void> {
    const now = new Date();
    let out = '';
    for (const e of entries) out += rfc3164Line(e, now, this.#hostname) + '\n';
    return this.#connection.write(out);
  }

  close(): void {
    this.#connection.close();
  }
}

export function syslogTransport(protocol: 'unix' | 'udp' | 'tcp', socketPath: string, host: string | null, port: number): SyslogTransport {
  if (protocol === 'unix') return new LocalSocketTransport(socketPath);
  if (protocol === 'udp') return new UdpTransport(host!, port);
  return new TcpTransport(host!, port);
}
