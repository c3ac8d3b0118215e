/**
 * The `ws` package, typed for the few members the WebSocket bench uses (`ws` ships no types and
 * @types/ws is not a dependency; test/integration/websocket.test.ts does the same).
 */
export interface WsSocket {
  binaryType: string;
  send(data: Buffer | string, opts?: { binary?: boolean }): void;
  terminate(): void;
  on(event: 'open', fn: () => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
  on(event: 'close', fn: (code: number) => void): void;
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  once(event: 'open', fn: () => void): void;
  once(event: 'error', fn: (e: Error) => void): void;
  once(event: 'close', fn: (code: number) => void): void;
  once(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  once(event: 'unexpected-response', fn: (req: unknown, res: { statusCode?: number }) => void): void;
}

export interface WsServer {
  readonly clients: Set<WsSocket>;
  on(event: 'connection', fn: (socket: WsSocket) => void): void;
  on(event: 'listening', fn: () => void): void;
  close(cb?: () => void): void;
}

interface WsModule {
  WebSocket: new (url: string, opts?: Record<string, unknown>) => WsSocket;
  WebSocketServer: new (opts: Record<string, unknown>) => WsServer;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ws = require('ws') as WsModule;
export const WebSocket = ws.WebSocket;
export const WebSocketServer = ws.WebSocketServer;
