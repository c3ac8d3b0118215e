/**
 * One upstream connection (TCP or TLS) carrying one exchange at a time: writes the request head
 * with the first body bytes, streams the body with backpressure (waits for 'drain'), honours
 * Expect: 100-continue, feeds every read to its ResponseParser and hands the result to the
 * exchange's handler. Its one deadline (connect, write, read, expect or idle) is checked by the
 * pool's sweep on the engine's coarse clock: no timer per request.
 *
 * Socket and body listeners are bound once per connection, not per request.
 */
import { Failure, ParseError, PARSE_ERROR_REASONS, failureForSocketError } from './failures';
import { ExchangeState, type UpstreamExchange } from './exchange';
import type { ResponseHead } from './response-head';
import { ResponseParser, type ParserSink } from './response-parser';
import type { UpstreamPool } from './pool';
import type { ParserKernel } from './parser-kernel';
import type { UpstreamSocket } from './native-socket';
import { DirectWrite, isDirectBody, type DirectBodySink } from './direct-body';

export const enum ConnState {
  Connecting = 0,
  Idle,
  Busy,
  Closed,
}

export const enum Deadline {
  None = 0,
  Connect,
  Write,
  Read,
  Expect,
  Idle,
}

/** Stop reusing a connection this long before the upstream's announced keep-alive timeout. */
const KEEP_ALIVE_HINT_MARGIN_MS = 1000;

/** How long to wait for `100 Continue` before sending the body anyway (as curl does). */
const EXPECT_WAIT_MS = 1000;

export class UpstreamConnection implements ParserSink, DirectBodySink {
  readonly pool: UpstreamPool;
  /** A net.Socket, a tls.TLSSocket, or a NativeSocket (`--upstream-engine native`). */
  readonly socket: UpstreamSocket;
  readonly parser: ResponseParser;
  state = ConnState.Connecting;
  exchange: UpstreamExchange | null = null;
  /** Requests carried, the current one included. */
  requests = 0;
  /** When the current deadline passes, on the engine's coarse clock (ms); 0 = none. */
  deadline = 0;
  deadlineKind = Deadline.None;
  #waitingDrain = false;
  /** socket.pause() is in effect (the client pushes back). */
  #socketPaused = false;
  #awaitingContinue = false;
  #chunkedBody = false;
  #bodyEnded = false;

  constructor(pool: UpstreamPool, socket: UpstreamSocket, maxHeadBytes: number, kernel: ParserKernel) {
    this.pool = pool;
    this.socket = socket;
    this.parser = new ResponseParser(this, maxHeadBytes, kernel);
    socket.setNoDelay(true);
    socket.on(pool.secure ? 'secureConnect' : 'connect', this.#onConnect);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
    this.#arm(Deadline.Connect, pool.options.connectTimeoutMs);
  }

  #arm(kind: Deadline, ms: number): void {
    this.deadlineKind = kind;
    this.deadline = this.pool.engine.deadlineIn(ms);
  }

  #disarm(): void {
    this.deadlineKind = Deadline.None;
    this.deadline = 0;
  }

  /** Take an exchange: send it now, or once connected. */
  start(ex: UpstreamExchange): void {
    this.exchange = ex;
    ex.conn = this;
    ex.state = ExchangeState.Active;
    this.requests++;
    this.#waitingDrain = false;
    this.#awaitingContinue = false;
    this.#bodyEnded = false;
    this.#chunkedBody = ex.body !== null && ex.bodyLength < 0;
    this.parser.reset(ex.method === 'HEAD');
    if (this.state === ConnState.Idle) {
      this.state = ConnState.Busy;
      this.#send();
    }
  }

  /**
   * Wait for the next exchange, for at most the keep-alive time, or less when the upstream said
   * it closes idle connections sooner (undici does the same).
   */
  becomeIdle(): void {
    this.state = ConnState.Idle;
    const hint = this.parser.keepAliveHintMs;
    const ms = this.pool.options.keepAliveMs;
    this.#arm(Deadline.Idle, hint > 0 ? Math.min(ms, hint - KEEP_ALIVE_HINT_MARGIN_MS) : ms);
  }

  /** A previously used connection: a failure before any response byte may be a reuse race. */
  get reused(): boolean {
    return this.requests > 1;
  }

  // ------------------------------------------------------------------ sending

  #send(): void {
    const ex = this.exchange!;
    const body = ex.body;
    if (body === null) {
      ex.headWritten = true;
      ex.requestWritten = true;
      this.socket.write(ex.head!, 'latin1');
      this.#arm(Deadline.Read, ex.readTimeoutMs);
      return;
    }
    body.on('readable', this.#pumpBody);
    body.on('end', this.#onBodyEnd);
    // Chunks after the first go from uWS's buffer straight to the socket (direct-body.ts).
    if (this.socket.copiesWrites === true && isDirectBody(body)) body.attachDirect(this);
    // Waiting for the client's body is not the upstream's fault: no deadline until we write
    // (write timeout) or have written everything (read timeout). The client side has its own.
    this.#disarm();
    if (ex.expectContinue) {
      ex.headWritten = true;
      this.socket.write(ex.head!, 'latin1');
      this.#awaitingContinue = true;
      this.#arm(Deadline.Expect, EXPECT_WAIT_MS);
      return;
    }
    this.#pumpBody();
  }

  /** Move what the body stream holds to the socket, until it is empty or the socket is full. */
  #pumpBody = (): void => {
    const ex = this.exchange;
    if (ex === null || ex.body === null || this.#waitingDrain || this.#awaitingContinue || this.#bodyEnded) return;
    const body = ex.body;
    const socket = this.socket;
    let corked = false;
    for (;;) {
      const chunk = body.read() as Buffer | null;
      if (chunk === null) break;
      if (!corked) {
        // Head and first body bytes in one writev.
        socket.cork();
        corked = true;
      }
      if (!ex.headWritten) {
        ex.headWritten = true;
        socket.write(ex.head!, 'latin1');
      }
      ex.bodyRead = true;
      let ok: boolean;
      if (this.#chunkedBody) {
        socket.write(chunk.length.toString(16) + '\r\n', 'latin1');
        socket.write(chunk);
        ok = socket.write('\r\n', 'latin1');
      } else {
        ok = socket.write(chunk);
      }
      if (!ok) {
        this.#waitingDrain = true;
        this.#arm(Deadline.Write, ex.writeTimeoutMs);
        break;
      }
    }
    if (corked) socket.uncork();
  };

  #onBodyEnd = (): void => {
    const ex = this.exchange;
    if (ex === null || this.#bodyEnded) return;
    this.#bodyEnded = true;
    const socket = this.socket;
    if (!ex.headWritten || this.#chunkedBody) {
      socket.cork();
      if (!ex.headWritten) {
        ex.headWritten = true;
        socket.write(ex.head!, 'latin1');
      }
      if (this.#chunkedBody) socket.write('0\r\n\r\n', 'latin1');
      socket.uncork();
    }
    ex.requestWritten = true;
    this.#detachBody(ex);
    if (!this.parser.complete && !this.parser.paused) this.#arm(Deadline.Read, ex.readTimeoutMs);
  };

  #onDrain = (): void => {
    if (!this.#waitingDrain) return;
    this.#waitingDrain = false;
    const ex = this.exchange;
    if (ex === null) return;
    if (this.deadlineKind === Deadline.Write) this.#disarm();
    this.#pumpBody();
    if (!this.#waitingDrain && this.exchange === ex && ex.body !== null && isDirectBody(ex.body)) ex.body.upstreamDrained();
  };

  /**
   * A chunk of the client's body, straight from uWS's buffer (direct-body.ts): written now, in
   * the body's framing, when nothing is ahead of it; the socket copies what it cannot send.
   */
  writeBodyDirect(chunk: Uint8Array): DirectWrite {
    const ex = this.exchange;
    if (ex === null || ex.body === null || !ex.headWritten || this.state !== ConnState.Busy || this.#waitingDrain || this.#awaitingContinue || this.#bodyEnded) {
      return DirectWrite.Refused;
    }
    ex.bodyRead = true;
    const socket = this.socket;
    const ok = this.#chunkedBody ? socket.writeNow!(chunk.length.toString(16) + '\r\n', chunk, '\r\n') : socket.writeNow!(chunk);
    if (ok) return DirectWrite.Written;
    this.#waitingDrain = true;
    this.#arm(Deadline.Write, ex.writeTimeoutMs);
    return DirectWrite.WrittenWaitDrain;
  }

  #detachBody(ex: UpstreamExchange): void {
    const body = ex.body;
    if (body === null) return;
    body.off('readable', this.#pumpBody);
    body.off('end', this.#onBodyEnd);
    if (isDirectBody(body)) body.attachDirect(null);
  }

  // ------------------------------------------------------------------ socket events

  #onConnect = (): void => {
    if (this.state !== ConnState.Connecting) return;
    if (this.exchange === null) {
      // Its exchange was abandoned while connecting: keep the connection for the next one.
      this.pool.release(this);
      return;
    }
    this.state = ConnState.Busy;
    this.#send();
  };

  /**
   * A read into the shared read buffer (pool.ts gives plain TCP sockets node's `onread` option):
   * no Buffer is allocated per read and the read skips the stream machinery; the parser copies
   * what it keeps (see ResponseParser.execute).
   */
  onBorrowedRead(bytes: number, shared: Buffer): void {
    this.#read(shared.subarray(0, bytes), true);
  }

  #onData = (chunk: Buffer): void => {
    this.#read(chunk, false);
  };

  #read(chunk: Buffer, borrowed: boolean): void {
    const ex = this.exchange;
    if (ex === null || this.state !== ConnState.Busy) {
      // An idle connection that talks is not in a state we know: never reuse it.
      this.destroy();
      return;
    }
    ex.responseStarted = true;
    if (this.deadlineKind === Deadline.Read) this.deadline = this.pool.engine.deadlineIn(ex.readTimeoutMs);
    try {
      this.parser.execute(chunk, borrowed);
    } catch (err) {
      // A handler threw (a plugin in onResponse, say): this exchange is lost, not the worker.
      this.#fail(Failure.HandlerError, '', err as Error);
      return;
    }
    if (this.parser.paused && this.exchange === ex) {
      // The client is slow: stop reading; no read timeout while we are the ones waiting.
      this.#socketPaused = true;
      this.socket.pause();
      if (this.deadlineKind === Deadline.Read) this.#disarm();
    }
  }

  #onEnd = (): void => {
    const ex = this.exchange;
    if (ex === null || this.state !== ConnState.Busy) {
      this.destroy();
      return;
    }
    let ended: boolean;
    try {
      ended = this.parser.eof();
    } catch (err) {
      this.#fail(Failure.HandlerError, '', err as Error);
      return;
    }
    if (ended) return;
    // eof() reported a parse error itself when the response had started.
    if (this.exchange === ex) this.#fail(Failure.Reset, '', null);
  };

  #onError = (err: Error): void => {
    if (this.exchange === null) {
      this.destroy();
      return;
    }
    this.#fail(failureForSocketError(err), '', err);
  };

  #onClose = (): void => {
    if (this.exchange !== null) this.#fail(Failure.Reset, '', null);
    else this.destroy();
  };

  /** The client caught up: read the upstream again. */
  resumeReading(): void {
    const ex = this.exchange;
    if (ex === null || !this.parser.paused) return;
    if (this.deadlineKind === Deadline.None && ex.requestWritten) this.#arm(Deadline.Read, ex.readTimeoutMs);
    try {
      // The rest of the held read first (it may end the response), then the socket.
      this.parser.resume();
    } catch (err) {
      this.#fail(Failure.HandlerError, '', err as Error);
      return;
    }
    if (this.exchange === ex && this.parser.paused) {
      if (this.deadlineKind === Deadline.Read) this.#disarm();
      return;
    }
    // Reading again, for this exchange or (if it just ended) to notice the idle socket's EOF.
    if (this.#socketPaused && this.state !== ConnState.Closed) {
      this.#socketPaused = false;
      this.socket.resume();
    }
  }

  // ------------------------------------------------------------------ ParserSink

  onInformational(status: number): void {
    if (status === 100 && this.#awaitingContinue) {
      this.#awaitingContinue = false;
      this.#disarm();
      this.#pumpBody();
    }
    // Other 1xx (102, 103) are dropped, as NGINX does.
  }

  onHead(head: ResponseHead): void {
    const ex = this.exchange!;
    if (head.status === 101) {
      this.#fail(Failure.Upgrade, '', null);
      return;
    }
    if (this.#awaitingContinue) {
      // A final answer instead of 100: the body is never sent, so the connection cannot be reused.
      this.#awaitingContinue = false;
      this.#bodyEnded = true;
      this.#detachBody(ex);
      this.#arm(Deadline.Read, ex.readTimeoutMs);
    } else if (this.deadlineKind === Deadline.None) {
      // An answer while the body is still going up: its own body is read under read_timeout.
      this.#arm(Deadline.Read, ex.readTimeoutMs);
    }
    ex.handler.onResponseHead(head);
  }

  onBody(chunk: Buffer): boolean {
    const ex = this.exchange;
    if (ex === null) return true;
    return ex.handler.onResponseData(chunk);
  }

  onComplete(extra: boolean): void {
    const ex = this.exchange;
    if (ex === null) return;
    this.#detachBody(ex);
    this.exchange = null;
    ex.conn = null;
    ex.state = ExchangeState.Done;
    const cap = this.pool.options.maxRequestsPerConnection;
    const hint = this.parser.keepAliveHintMs;
    const reusable =
      this.parser.keepAlive &&
      !extra &&
      ex.requestWritten &&
      this.state === ConnState.Busy &&
      (cap === 0 || this.requests < cap) &&
      (hint < 0 || hint > KEEP_ALIVE_HINT_MARGIN_MS);
    if (reusable) {
      this.pool.release(this);
    } else {
      // Bytes past the framing, a close-delimited body, a body we never finished sending.
      this.destroy();
    }
    ex.handler.onResponseEnd();
  }

  onParseError(error: ParseError): void {
    this.#fail(Failure.Protocol, PARSE_ERROR_REASONS[error], null);
  }

  // ------------------------------------------------------------------ ends

  /** The pool's sweep found the deadline passed. */
  timedOut(): void {
    switch (this.deadlineKind) {
      case Deadline.Connect:
        this.#fail(Failure.ConnectTimeout, '', null);
        break;
      case Deadline.Write:
        this.#fail(Failure.WriteTimeout, '', null);
        break;
      case Deadline.Read:
        this.#fail(Failure.ReadTimeout, '', null);
        break;
      case Deadline.Expect:
        // No 100 in time: send the body anyway (RFC 9110 §10.1.1).
        this.#awaitingContinue = false;
        this.#disarm();
        this.#pumpBody();
        break;
      case Deadline.Idle:
        if (this.exchange === null) this.destroy();
        else this.#disarm();
        break;
      default:
        break;
    }
  }

  /** The exchange is abandoned by the proxy. */
  abandon(ex: UpstreamExchange): void {
    if (this.exchange !== ex) return;
    this.#detachBody(ex);
    this.exchange = null;
    ex.conn = null;
    // A connection still connecting is kept for the next request; one mid-exchange is not.
    if (this.state !== ConnState.Connecting) this.destroy();
  }

  #fail(failure: Failure, detail: string, cause: Error | null): void {
    const ex = this.exchange;
    if (ex !== null) {
      this.#detachBody(ex);
      this.exchange = null;
      ex.conn = null;
    }
    const reused = this.reused;
    this.destroy();
    if (ex === null || ex.state !== ExchangeState.Active) return;
    // A reused connection that failed before any response byte: the upstream most likely closed
    // it while we were writing (a keep-alive race). Replay once on a new connection.
    if (reused && !ex.responseStarted && !ex.raceRetried && ex.replayable && (failure === Failure.Reset || failure === Failure.Refused)) {
      ex.raceRetried = true;
      ex.headWritten = false;
      ex.requestWritten = false;
      this.pool.dispatchFresh(ex);
      return;
    }
    ex.state = ExchangeState.Done;
    ex.handler.onExchangeFailed(failure, detail, cause);
  }

  destroy(): void {
    if (this.state === ConnState.Closed) return;
    // Never drop an exchange silently: it fails like a reset.
    if (this.exchange !== null) return this.#fail(Failure.Reset, '', null);
    this.state = ConnState.Closed;
    this.#disarm();
    this.parser.stop();
    this.socket.destroy();
    this.pool.remove(this);
  }
}
