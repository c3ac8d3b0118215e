/**
 * The WebSocket path through the proxy. An `Upgrade: websocket` GET arrives at uWS's `ws`
 * handler, whose `upgrade` callback runs the ordinary request path (route, https-only check,
 * onRequest plugins: auth, rate limiting...), so a refused upgrade gets the same 401 or 429 as any
 * request. When the plugins let it through, the context sends the upgrade to the balanced target
 * (websocket/upstream.ts, outside the HTTP engine); on the upstream's 101, `completeUpgrade` hands
 * the raw socket to a WebSocketBridge and upgrades the client with the subprotocol the upstream
 * chose. A non-101 answer from the upstream reaches the client with its status and body.
 *
 * permessage-deflate is not negotiated on either side (the client's offer is not forwarded), so
 * frames cross without recompression.
 */
import type { Socket } from 'node:net';
import type { HttpResponse, us_socket_context_t, WebSocketBehavior } from 'uWebSockets.js';
import { uws } from '../proxy/uws';
import type { DownstreamHead } from '../proxy/request-head';
import type { ProxyError } from '../proxy/errors';
import { WebSocketBridge, type WebSocketSettings } from './bridge';
import type { UpgradeOutcome } from './upstream';

/** Drop the client's extension offer before anything is forwarded (see above). */
export function prepareUpgradeHead(head: DownstreamHead): void {
  const names = head.headerNames;
  for (let i = names.length - 1; i >= 0; i--) {
    if (names[i] === 'sec-websocket-extensions') {
      names.splice(i, 1);
      head.headerValues.splice(i, 1);
    }
  }
}

/** The upstream answered 101: bridge its socket and upgrade the client. */
export function completeUpgrade(
  res: HttpResponse,
  head: DownstreamHead,
  context: us_socket_context_t,
  rawHeaders: readonly string[],
  socket: Socket,
  early: Buffer,
  settings: WebSocketSettings,
  registry: Set<WebSocketBridge>,
): WebSocketBridge {
  let protocol = '';
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'sec-websocket-protocol') protocol = rawHeaders[i + 1];
  }
  const bridge = new WebSocketBridge(socket, early, settings, registry);
  const key = head.header('sec-websocket-key') ?? '';
  // uWS copies the user data's own properties into its own object: pass the bridge by reference.
  const userData: BridgeRef = { bridge };
  res.cork(() => res.upgrade(userData, key, protocol, '', context));
  return bridge;
}

/** The request an upgrade belongs to (the proxy's request context), as far as the handshake needs it. */
export interface UpgradingRequest {
  completeWebSocket(rawHeaders: readonly string[], socket: Socket, early: Buffer): void;
  respond(status: number, body: string | Buffer, contentType: string, headers: readonly string[] | null): unknown;
  fail(error: ProxyError): void;
}

/** What the upstream handshake reports, turned into the context's own moves. */
export class UpgradeAttempt implements UpgradeOutcome {
  readonly #ctx: UpgradingRequest;
  constructor(ctx: UpgradingRequest) {
    this.#ctx = ctx;
  }
  upgraded(rawHeaders: readonly string[], socket: Socket, early: Buffer): void {
    this.#ctx.completeWebSocket(rawHeaders, socket, early);
  }
  answered(status: number, rawHeaders: readonly string[], body: Buffer): void {
    let type = 'application/octet-stream';
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === 'content-type') type = rawHeaders[i + 1];
    this.#ctx.respond(status, body, type, null);
  }
  failed(error: ProxyError): void {
    this.#ctx.fail(error);
  }
}

/** `Host` value without its port (the SNI name towards an https upstream). */
export function hostOnly(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  const colon = hostHeader.lastIndexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

export interface BridgeRef {
  readonly bridge: WebSocketBridge;
}

/** uWS's `ws` behavior for one listener; `upgrade` is the listener's request entry point. */
export function webSocketBehavior(
  settings: WebSocketSettings,
  upgrade: (res: HttpResponse, req: import('uWebSockets.js').HttpRequest, context: us_socket_context_t) => void,
): WebSocketBehavior<BridgeRef> {
  return {
    compression: uws.DISABLED,
    maxPayloadLength: settings.maxMessageBytes,
    // uWS drops a send past maxBackpressure; the bridge pauses the upstream long before that.
    maxBackpressure: settings.maxMessageBytes * 2 + settings.pauseAtBytes,
    // The bridge's own timer (on the upstream socket, which every message either way crosses)
    // closes an idle pair with 1001 on both sides; uWS's, which would drop the client without a
    // close frame, only backs it up.
    idleTimeout: settings.idleTimeoutSeconds === 0 ? 0 : Math.min(settings.idleTimeoutSeconds + 16, 960),
    sendPingsAutomatically: false,
    upgrade,
    open: (ws) => ws.getUserData().bridge.open(ws),
    message: (ws, message, isBinary) => ws.getUserData().bridge.message(message, isBinary),
    ping: (ws, message) => ws.getUserData().bridge.ping(message),
    pong: (ws, message) => ws.getUserData().bridge.pong(message),
    drain: (ws) => ws.getUserData().bridge.drain(ws),
    close: (ws, code, message) => ws.getUserData().bridge.close(code, message),
  };
}
