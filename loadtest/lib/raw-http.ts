/**
 * A raw keep-alive HTTP/1.1 client on `net` sockets, for what autocannon cannot do: hold tens of
 * thousands of mostly idle connections, and send at a steady rate (autocannon's overallRate sends
 * each second's quota as fast as it can, then waits for the next second).
 *
 * One request in flight per connection (no pipelining). The response parser knows just enough
 * HTTP/1.1 for a proxy's answers: status line, Content-Length or chunked framing, 1xx interim
 * responses, `Connection: close`. Anything else counts as an error rather than being guessed at.
 *
 * A pacer issues requests at `rate` per second from one timer: in 'strict' mode it walks the
 * connections round-robin (so every connection gets a request every N / rate seconds, which is
 * what keeps idle connections open against the gateway's idle timeout); in 'next-idle' mode it
 * picks the next connection that has no request in flight (a steady open-loop-ish rate over a
 * small pool).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const CONNECTING = 0;
const IDLE = 1;
const BUSY = 2;
const CLOSED = 3;

export interface RawPoolOptions {
  host: string;
  port: number;
  /** Source addresses, used round-robin (e.g. 127.0.0.2..127.0.0.9); [] = the kernel's choice. */
  localAddresses: readonly string[];
  path: string;
  headers?: Record<string, string>;
  /** A request without a complete response after this long is an error and its socket is dropped. */
  requestTimeoutMs: number;
}

export interface Counters {
  sent: number;
  completed: number;
  /** Responses whose status was not 2xx. */
  non2xx: number;
  /** Pacer visits that found the connection still waiting for its previous response. */
  skippedBusy: number;
  /** Pacer slots for which no connection was idle ('next-idle' mode). */
  noIdle: number;
  errors: Record<string, number>;
  errorsTotal: number;
}

export function diffCounters(a: Counters, b: Counters): Counters {
  const errors: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.errors)) {
    const d = v - (a.errors[k] ?? 0);
    if (d !== 0) errors[k] = d;
  }
  return {
    sent: b.sent - a.sent,
    completed: b.completed - a.completed,
    non2xx: b.non2xx - a.non2xx,
    skippedBusy: b.skippedBusy - a.skippedBusy,
    noIdle: b.noIdle - a.noIdle,
    errors,
    errorsTotal: b.errorsTotal - a.errorsTotal,
  };
}

export interface OpenResult {
  requested: number;
  opened: number;
  failed: number;
  seconds: number;
}

type ParseResult = { status: number; consumed: number; close: boolean } | null | { error: string };

const RE_CL = /\r\ncontent-length:[ \t]*(\d+)/i;
const RE_CHUNKED = /\r\ntransfer-encoding:[^\r]*chunked/i;
const RE_CLOSE = /\r\nconnection:[^\r]*close/i;

/** Parses one response at the start of `s`; null when more bytes are needed. */
export function parseResponse(s: string): ParseResult {
  let start = 0;
  for (;;) {
    const he = s.indexOf('\r\n\r\n', start);
    if (he < 0) return s.length - start > 65_536 ? { error: 'response-head-too-large' } : null;
    if (!s.startsWith('HTTP/1.', start)) return { error: 'bad-status-line' };
    const status = Number(s.slice(start + 9, start + 12));
    if (!(status >= 100 && status <= 599)) return { error: 'bad-status-line' };
    const head = s.slice(start, he + 2);
    const bodyStart = he + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      start = bodyStart; // interim response (100 Continue, 103 Early Hints): the real one follows
      continue;
    }
    const close = RE_CLOSE.test(head);
    if (RE_CHUNKED.test(head)) {
      let p = bodyStart;
      for (;;) {
        const le = s.indexOf('\r\n', p);
        if (le < 0) return null;
        const sizeText = s.slice(p, le);
        const semi = sizeText.indexOf(';');
        const size = parseInt(semi < 0 ? sizeText : sizeText.slice(0, semi), 16);
        if (!Number.isFinite(size) || size < 0) return { error: 'bad-chunk-size' };
        if (size === 0) {
          // last-chunk, then optional trailers, then CRLF
          if (s.length < le + 4) return null;
          if (s.startsWith('\r\n', le + 2)) return { status, consumed: le + 4, close };
          const te = s.indexOf('\r\n\r\n', le + 2);
          return te < 0 ? null : { status, consumed: te + 4, close };
        }
        p = le + 2 + size + 2;
        if (s.length < p) return null;
      }
    }
    const cl = RE_CL.exec(head);
    if (cl !== null) {
      const end = bodyStart + Number(cl[1]);
      return s.length < end ? null : { status, consumed: end, close };
    }
    if (status === 204 || status === 304) return { status, consumed: bodyStart, close };
    return { error: 'response-without-framing' };
  }
}

class Conn {
  state = CONNECTING;
  opened = false;
  errored = false;
  closedByUs = false;
  sentAt = 0;
  buf = '';
  constructor(readonly sock: net.Socket) {}
}

export class RawPool {
  readonly conns: Conn[] = [];
  /** Connections that are open and answered at least one request. */
  held = 0;
  /** Called for every complete response (latency in ms). */
  onComplete: (latencyMs: number, status: number) => void = () => {};

  #c: Counters = { sent: 0, completed: 0, non2xx: 0, skippedBusy: 0, noIdle: 0, errors: {}, errorsTotal: 0 };
  readonly #opts: RawPoolOptions;
  readonly #request: Buffer;
  #closing = false;

  // pacer
  #timer: NodeJS.Timeout | null = null;
  #rate = 0;
  #mode: 'strict' | 'next-idle' = 'strict';
  #rateStart = 0;
  #issued = 0;
  #cursor = 0;
  #lastScan = 0;

  constructor(opts: RawPoolOptions) {
    this.#opts = opts;
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    this.#request = Buffer.from(
      `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUser-Agent: floodgate-loadtest\r\n${extra}\r\n`,
      'latin1',
    );
  }

  counters(): Counters {
    return { ...this.#c, errors: { ...this.#c.errors } };
  }

  #error(kind: string): void {
    this.#c.errors[kind] = (this.#c.errors[kind] ?? 0) + 1;
    this.#c.errorsTotal++;
  }

  #send(c: Conn): void {
    c.state = BUSY;
    c.sentAt = performance.now();
    this.#c.sent++;
    c.sock.write(this.#request);
  }

  #connect(index: number, onOpen: (ok: boolean) => void): Conn {
    const addrs = this.#opts.localAddresses;
    const sock = net.connect({
      host: this.#opts.host,
      port: this.#opts.port,
      localAddress: addrs.length > 0 ? addrs[index % addrs.length] : undefined,
      noDelay: true,
    });
    const c = new Conn(sock);
    this.conns.push(c);
    let reported = false;
    const report = (ok: boolean) => {
      if (!reported) {
        reported = true;
        onOpen(ok);
      }
    };
    sock.on('connect', () => this.#send(c));
    sock.on('data', (chunk: Buffer) => {
      if (c.state !== BUSY) {
        this.#error('unsolicited-data');
        c.errored = true;
        sock.destroy();
        return;
      }
      c.buf += chunk.toString('latin1');
      const r = parseResponse(c.buf);
      if (r === null) return;
      if ('error' in r) {
        this.#error(r.error);
        c.errored = true;
        sock.destroy();
        return;
      }
      const latency = performance.now() - c.sentAt;
      c.buf = c.buf.length === r.consumed ? '' : c.buf.slice(r.consumed);
      c.state = IDLE;
      this.#c.completed++;
      if (r.status < 200 || r.status > 299) this.#c.non2xx++;
      if (!c.opened) {
        c.opened = true;
        this.held++;
        report(true);
      }
      this.onComplete(latency, r.status);
      if (c.buf.length > 0) {
        this.#error('unsolicited-data');
        c.errored = true;
        sock.destroy();
      } else if (r.close) {
        this.#error('server-sent-connection-close');
        c.errored = true;
        sock.destroy();
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (c.closedByUs || this.#closing) return;
      this.#error(c.opened ? `socket-${err.code ?? 'error'}` : `connect-${err.code ?? 'error'}`);
      c.errored = true;
    });
    sock.on('close', () => {
      const was = c.state;
      c.state = CLOSED;
      if (c.opened) this.held--;
      if (!c.closedByUs && !this.#closing && !c.errored) {
        this.#error(was === BUSY ? 'closed-by-peer-mid-request' : c.opened ? 'closed-by-peer-idle' : 'closed-before-first-response');
      }
      report(false);
    });
    return c;
  }

  /**
   * Opens `n` more connections, at most `concurrency` at a time still waiting for their first
   * response (each sends one request as soon as it is connected). Bounded by `timeoutMs`:
   * connections not open by then are dropped and counted as failed.
   */
  open(n: number, concurrency: number, timeoutMs: number, onProgress?: (opened: number) => void): Promise<OpenResult> {
    return new Promise((resolve) => {
      const start = performance.now();
      let next = 0;
      let pending = 0;
      let opened = 0;
      let failed = 0;
      let finished = false;
      let lastProgress = 0;
      const mine: Conn[] = [];
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        for (const c of mine) {
          if (!c.opened && c.state !== CLOSED) {
            c.closedByUs = true;
            c.sock.destroy();
          }
        }
        const ok = mine.filter((c) => c.opened && c.state !== CLOSED).length;
        resolve({ requested: n, opened: ok, failed: n - ok, seconds: (performance.now() - start) / 1000 });
      };
      const timer = setTimeout(finish, timeoutMs);
      const launch = () => {
        while (!finished && pending < concurrency && next < n) {
          pending++;
          const c = this.#connect(next++, (ok) => {
            pending--;
            if (ok) opened++;
            else failed++;
            if (finished) return;
            if (onProgress && opened - lastProgress >= 1000) {
              lastProgress = opened;
              onProgress(opened);
            }
            if (opened + failed >= n) finish();
            else launch();
          });
          mine.push(c);
        }
      };
      launch();
      if (n === 0) finish();
    });
  }

  /** Starts (or retunes) the pacer: `rate` requests per second in total. */
  setRate(rate: number, mode: 'strict' | 'next-idle' = 'strict'): void {
    this.#rate = rate;
    this.#mode = mode;
    this.#rateStart = performance.now();
    this.#issued = 0;
    if (this.#timer === null) {
      this.#lastScan = performance.now();
      this.#timer = setInterval(() => this.#tick(), 2);
    }
  }

  stopPacer(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#rate = 0;
  }

  #tick(): void {
    const now = performance.now();
    if (now - this.#lastScan >= 1000) {
      this.#lastScan = now;
      const limit = this.#opts.requestTimeoutMs;
      for (const c of this.conns) {
        if (c.state === BUSY && now - c.sentAt > limit) {
          this.#error('timeout');
          c.errored = true;
          c.sock.destroy();
        }
      }
    }
    const len = this.conns.length;
    if (this.#rate <= 0 || len === 0) return;
    let due = Math.floor(((now - this.#rateStart) / 1000) * this.#rate) - this.#issued;
    if (due <= 0) return;
    this.#issued += due;
    if (due > len) due = len; // after a stall: one pass over the connections at most
    const conns = this.conns;
    if (this.#mode === 'strict') {
      for (let k = 0; k < due; k++) {
        if (this.#cursor >= len) this.#cursor = 0;
        const c = conns[this.#cursor++]!;
        if (c.state === IDLE) this.#send(c);
        else if (c.state === BUSY) this.#c.skippedBusy++;
      }
      return;
    }
    for (let k = 0; k < due; k++) {
      let sent = false;
      for (let j = 0; j < len; j++) {
        if (this.#cursor >= len) this.#cursor = 0;
        const c = conns[this.#cursor++]!;
        if (c.state === IDLE) {
          this.#send(c);
          sent = true;
          break;
        }
      }
      if (!sent) {
        this.#c.noIdle += due - k;
        return;
      }
    }
  }

  /** Closes every connection (FIN), waits up to `timeoutMs` for the closes, then destroys the rest. */
  async closeAll(timeoutMs: number): Promise<void> {
    this.#closing = true;
    this.stopPacer();
    const open = this.conns.filter((c) => c.state !== CLOSED);
    await new Promise<void>((resolve) => {
      let left = open.length;
      if (left === 0) return resolve();
      const t = setTimeout(() => {
        for (const c of open) if (c.state !== CLOSED) c.sock.destroy();
        resolve();
      }, timeoutMs);
      for (const c of open) {
        c.closedByUs = true;
        c.sock.once('close', () => {
          if (--left === 0) {
            clearTimeout(t);
            resolve();
          }
        });
        c.sock.end();
      }
    });
  }
}
