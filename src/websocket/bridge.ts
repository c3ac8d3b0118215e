/**
 * One proxied WebSocket: uWS's WebSocket downstream, a raw upstream socket (handed over by
 * undici after the upstream's 101) with our framing (frames.ts). Messages, pings, pongs and close
 * frames cross in both directions; either side's disconnect closes the other.
 *
 * Backpressure:
 *   - upstream -> client: when uWS buffers more than `pauseAtBytes` for the client, the upstream
 *     socket is paused until uWS's `drain` says the client caught up. Memory stays bounded by
 *     that plus one socket read.
 *   - client -> upstream: uWS (v20.30) cannot pause a WebSocket's reads, so when the upstream
 *     socket has more than `pauseAtBytes` unwritten, both sides are closed with 1013.
 *
 * Pings: uWS answers a client's ping itself; the ping also goes upstream and the upstream's pong to
 * it is dropped (the client already has one). The upstream's pings go to the client and the
 * client's pongs go back upstream, so upstream keep-alives work end to end.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'uWebSockets.js';
import { CLOSE_TOO_BIG, encodeClose, encodeFrame, FrameDecoder, Opcode, type FrameSink } from './frames';
import { websocketStats } from './stats';

export interface WebSocketSettings {
  /** Largest message either way; bigger ones close both sides with 1009. */
  readonly maxMessageBytes: number;
  /** Close both sides after this long without a message either way; 0 = never. */
  readonly idleTimeoutSeconds: number;
  /** Per-connection buffering before the sender is paused (or, client side, cut off). */
  readonly pauseAtBytes: number;
}

export const defaultWebSocketSettings: WebSocketSettings = {
  maxMessageBytes: 16 * 1024 * 1024,
  idleTimeoutSeconds: 120,
  pauseAtBytes: 1024 * 1024,
};

const CLOSE_GOING_AWAY = 1001;
const CLOSE_TRY_AGAIN_LATER = 1013;
const UPSTREAM_CLOSE_WAIT_MS = 2_000;

export class WebSocketBridge implements FrameSink {
  readonly #socket: Socket;
  readonly #settings: WebSocketSettings;
  readonly #decoder: FrameDecoder;
  /** The listener's open bridges, so a drain can close them (ProxyServer.drain). */
  readonly #registry: Set<WebSocketBridge>;
  #ws: WebSocket<unknown> | null = null;
  /** Upstream frames that arrived between the upstream's 101 and uWS's `open`. */
  #early: (() => void)[] | null = [];
  #downClosed = false;
  #upClosed = false;
  #paused = false;

  constructor(socket: Socket, head: Buffer | null, settings: WebSocketSettings, registry: Set<WebSocketBridge>) {
    this.#socket = socket;
    this.#registry = registry;
    registry.add(this);
    this.#settings = settings;
    this.#decoder = new FrameDecoder(settings.maxMessageBytes);
    socket.setNoDelay(true);
    if (settings.idleTimeoutSeconds > 0) socket.setTimeout(settings.idleTimeoutSeconds * 1000, this.#onIdle);
    socket.on('data', this.#onData);
    socket.on('close', this.#onSocketClose);
    socket.on('error', () => {}); // 'close' follows
    websocketStats.open++;
    websocketStats.opened++;
    if (head !== null && head.length > 0) this.#onData(head);
  }

  // ------------------------------------------------------------- downstream (uWS behavior)

  open(ws: WebSocket<unknown>): void {
    this.#ws = ws;
    const early = this.#early!;
    this.#early = null;
    for (const run of early) if (!this.#downClosed) run();
  }

  message(message: ArrayBuffer, isBinary: boolean): void {
    if (this.#upClosed) return;
    websocketStats.messagesToUpstream++;
    websocketStats.bytesToUpstream += message.byteLength;
    this.#socket.write(encodeFrame(isBinary ? Opcode.Binary : Opcode.Text, new Uint8Array(message)));
    if (this.#socket.writableLength > this.#settings.pauseAtBytes) this.#closeBoth(CLOSE_TRY_AGAIN_LATER, 'upstream is not reading fast enough');
  }

  ping(message: ArrayBuffer): void {
    if (!this.#upClosed) this.#socket.write(encodeFrame(Opcode.Ping, new Uint8Array(message)));
  }

  pong(message: ArrayBuffer): void {
    if (!this.#upClosed) this.#socket.write(encodeFrame(Opcode.Pong, new Uint8Array(message)));
  }

  drain(ws: WebSocket<unknown>): void {
    if (this.#paused && ws.getBufferedAmount() < this.#settings.pauseAtBytes / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  /** uWS: the client side is closed (close frame, disconnect, idle timeout or our own end()). */
  close(code: number, reason: ArrayBuffer): void {
    this.#downClosed = true;
    this.#ws = null;
    this.#registry.delete(this);
    websocketStats.open--;
    if (this.#upClosed) return;
    this.#upClosed = true;
    if (code === 1006) {
      // The client vanished without a close frame: the upstream sees the same.
      this.#socket.destroy();
      return;
    }
    this.#socket.end(encodeClose(code, new Uint8Array(reason)));
    // The upstream answers with its close frame and closes; do not wait for it forever.
    setTimeout(destroySocket, UPSTREAM_CLOSE_WAIT_MS, this.#socket).unref();
  }

  // ------------------------------------------------------------- upstream (FrameSink)

  onMessage(payload: Buffer, isBinary: boolean): void {
    if (this.#deferred(() => this.onMessage(payload, isBinary))) return;
    websocketStats.messagesToClient++;
    websocketStats.bytesToClient += payload.length;
    const ws = this.#ws!;
    ws.send(payload, isBinary);
    if (!this.#paused && ws.getBufferedAmount() > this.#settings.pauseAtBytes) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  onPing(payload: Buffer): void {
    if (this.#deferred(() => this.onPing(payload))) return;
    this.#ws!.ping(payload);
  }

  onPong(): void {
    // Answers to the pings we forwarded for the client, which uWS already answered.
  }

  onClose(code: number, reason: Buffer): void {
    if (this.#deferred(() => this.onClose(code, reason))) return;
    this.#upClosed = true;
    // Finish the closing handshake upstream, then pass the same code and reason to the client.
    this.#socket.end(encodeClose(code, reason));
    this.#ws!.end(code === 1005 ? undefined : code, reason);
  }

  /** The gateway is draining: 1001 to both sides. */
  shutdown(): void {
    if (!this.#downClosed) this.#closeBoth(CLOSE_GOING_AWAY, 'gateway shutting down');
  }

  // ------------------------------------------------------------- internals

  /** Before uWS's `open`, queue; after the client side closed, drop. True when not to run now. */
  #deferred(run: () => void): boolean {
    if (this.#downClosed) return true;
    if (this.#early !== null) {
      this.#early.push(run);
      return true;
    }
    return false;
  }

  #onData = (chunk: Buffer): void => {
    const problem = this.#decoder.push(chunk, this);
    if (problem !== 0) this.#closeBoth(problem, problem === CLOSE_TOO_BIG ? 'message too big' : 'upstream protocol error');
  };

  #onIdle = (): void => {
    this.#closeBoth(CLOSE_GOING_AWAY, 'idle timeout');
  };

  #onSocketClose = (): void => {
    const wasOpen = !this.#upClosed;
    this.#upClosed = true;
    // The upstream went away without a close frame: the client sees an abnormal closure too.
    if (wasOpen && !this.#deferred(() => this.#ws!.close())) this.#ws!.close();
  };

  #closeBoth(code: number, reason: string): void {
    if (!this.#upClosed) {
      this.#upClosed = true;
      this.#socket.end(encodeClose(code, Buffer.from(reason)));
      setTimeout(destroySocket, UPSTREAM_CLOSE_WAIT_MS, this.#socket).unref();
    }
    if (!this.#deferred(() => this.#ws!.end(code, reason))) this.#ws!.end(code, reason);
  }
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}
