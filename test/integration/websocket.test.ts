/**
 * WebSocket proxying with the `ws` package as client and upstream, through a real gateway: echo of
 * text and 1 MiB binary, fragmented messages both ways, close codes and reasons both ways, pings
 * and pongs, disconnects, a slow reader (the gateway stops reading the upstream instead of
 * buffering), the message size limit, key-auth refusing an upgrade, wss through the TLS listener,
 * and the metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { makeCertificate, yamlBlock } from '../helpers/certificates';
import { startGateway, type Gateway } from '../helpers/gateway';
import { freePort } from '../helpers/ports';

// `ws` has no bundled types and @types/ws is not installed: the few members used here.
interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  readonly _socket: { pause(): void; resume(): void };
  send(data: unknown, opts?: { binary?: boolean; fin?: boolean }, cb?: (err?: Error) => void): void;
  ping(data?: unknown): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: string, fn: (...args: any[]) => void): void;
  once(event: string, fn: (...args: any[]) => void): void;
}
interface WsServer {
  address(): { port: number };
  on(event: 'connection', fn: (socket: WsSocket, req: IncomingMessage) => void): void;
  once(event: 'listening', fn: () => void): void;
  close(): void;
}
const WebSocket = require('ws') as { new (url: string, protocols?: string[], opts?: Record<string, unknown>): WsSocket; Server: new (opts: Record<string, unknown>) => WsServer };

const cert = makeCertificate('ws.example.com', 'ec');

let upstream: WsServer;
let upstreamPort: number;
/** What the upstream should do with each new connection; the default echoes. */
let onUpstream: (s: WsSocket, req: IncomingMessage) => void;
let gw: Gateway;
let tlsPort: number;
/** A plain HTTP upstream: it answers upgrades with an ordinary response. */
let httpOnly: EchoUpstream;

function echo(s: WsSocket): void {
  s.on('message', (m: Buffer, isBinary: boolean) => s.send(m, { binary: isBinary }));
}

function open(path: string, opts: Record<string, unknown> = {}, url = `ws://127.0.0.1:${gw.port}`, protocols: string[] = []): Promise<WsSocket> {
  return new Promise((resolve, reject) => {
    const c = new WebSocket(url + path, protocols, opts);
    c.once('open', () => resolve(c));
    c.once('error', reject);
    c.once('unexpected-response', (_req: unknown, res: IncomingMessage) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers })));
  });
}

function nextMessage(c: WsSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => c.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

function closed(c: WsSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => c.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

/** The next upstream connection, with its request. */
function nextUpstream(): Promise<{ s: WsSocket; req: IncomingMessage }> {
  return new Promise((resolve) => {
    onUpstream = (s, req) => {
      onUpstream = echo;
      resolve({ s, req });
    };
  });
}

describe('WebSocket proxying', () => {
  before(async () => {
    upstream = new WebSocket.Server({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => upstream.once('listening', resolve));
    upstreamPort = upstream.address().port;
    onUpstream = echo;
    upstream.on('connection', (s, req) => onUpstream(s, req));
    tlsPort = await freePort();
    httpOnly = await startEchoUpstream();
    gw = await startGateway({
      workers: 2,
      args: ['--listen-tls', `127.0.0.1:${tlsPort}`, '--ws-max-message-bytes', String(4 * 1024 * 1024), '--ws-idle-timeout', '8'],
      config: `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
services:
  - name: chat
    url: http://127.0.0.1:${upstreamPort}/base
    routes:
      - name: open-ws
        paths: [/ws]
      - name: guarded-ws
        paths: [/guarded]
        plugins:
          - name: key-auth
  - name: no-websockets
    url: http://127.0.0.1:${httpOnly.port}
    routes:
      - name: plain-http
        paths: [/plain]
certificates:
  - cert: |
${yamlBlock(cert.cert, 6)}
    key: |
${yamlBlock(cert.key, 6)}
    snis: [ws.example.com]
`,
    });
  });
  after(async () => {
    await gw?.stop();
    upstream?.close();
    await httpOnly?.close();
  });

  test('text and 1 MiB binary echo; the upstream sees the rewritten path and the forwarded headers', async () => {
    const up = nextUpstream();
    const c = await open('/ws/room?x=1', { perMessageDeflate: true }, undefined, ['chat.v1', 'chat.v0']);
    const { s, req } = await up;
    echo(s);
    assert.equal(c.protocol, 'chat.v1', 'the subprotocol the upstream chose');
    assert.equal(req.headers['sec-websocket-protocol'], 'chat.v1,chat.v0');
    assert.equal(req.url, '/base/room?x=1');
    assert.equal(req.headers['x-forwarded-proto'], 'http');
    assert.equal(req.headers['sec-websocket-extensions'], undefined, 'no compression is negotiated');
    c.send('hello');
    assert.deepEqual(await nextMessage(c), { data: Buffer.from('hello'), isBinary: false });
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    c.send(big);
    const back = await nextMessage(c);
    assert.equal(back.isBinary, true);
    assert.ok(back.data.equals(big), 'the 1 MiB message comes back byte for byte');
    c.close(1000);
    await closed(c);
  });

  test('fragmented messages are delivered whole, both ways', async () => {
    const up = nextUpstream();
    const c = await open('/ws');
    const { s } = await up;
    const atUpstream = nextMessage(s);
    c.send('frag', { fin: false });
    c.send('men', { fin: false });
    c.send('ted', { fin: true });
    assert.deepEqual(await atUpstream, { data: Buffer.from('fragmented'), isBinary: false });
    const atClient = nextMessage(c);
    s.send(Buffer.from([1, 2]), { binary: true, fin: false });
    s.send(Buffer.from([3]), { binary: true, fin: true });
    assert.deepEqual(await atClient, { data: Buffer.from([1, 2, 3]), isBinary: true });
    c.close();
    await closed(c);
  });

  test('close codes and reasons pass through both ways', async () => {
    let up = nextUpstream();
    let c = await open('/ws');
    let { s } = await up;
    const upstreamSaw = closed(s);
    c.close(4001, 'client bye');
    assert.deepEqual(await upstreamSaw, { code: 4001, reason: 'client bye' });

    up = nextUpstream();
    c = await open('/ws');
    ({ s } = await up);
    const clientSaw = closed(c);
    s.close(4002, 'upstream bye');
    assert.deepEqual(await clientSaw, { code: 4002, reason: 'upstream bye' });
  });

  test('either side disconnecting closes the other', async () => {
    let up = nextUpstream();
    let c = await open('/ws');
    let { s } = await up;
    const clientSaw = closed(c);
    s.terminate();
    assert.equal((await clientSaw).code, 1006);

    up = nextUpstream();
    c = await open('/ws');
    ({ s } = await up);
    const upstreamSaw = closed(s);
    c.terminate();
    assert.equal((await upstreamSaw).code, 1006);
  });

  test('pings and pongs: the client\'s ping reaches the upstream, the upstream\'s ping the client and its pong back', async () => {
    const up = nextUpstream();
    const c = await open('/ws');
    const { s } = await up;
    const upstreamPing = new Promise<Buffer>((resolve) => s.once('ping', resolve));
    c.ping('from-client');
    assert.equal((await upstreamPing).toString(), 'from-client');
    const clientPing = new Promise<Buffer>((resolve) => c.once('ping', resolve));
    const upstreamPong = new Promise<Buffer>((resolve) => s.once('pong', resolve));
    s.ping('from-upstream');
    assert.equal((await clientPing).toString(), 'from-upstream');
    assert.equal((await upstreamPong).toString(), 'from-upstream', 'the client\'s automatic pong reaches the upstream');
    c.close();
    await closed(c);
  });

  test('a slow reader: the gateway stops reading the upstream instead of buffering, and nothing is lost', async () => {
    const up = nextUpstream();
    const c = await open('/ws');
    const { s } = await up;
    c._socket.pause(); // the client stops reading
    const chunk = Buffer.alloc(256 * 1024, 1);
    const total = 256; // 64 MiB
    for (let i = 0; i < total; i++) s.send(chunk);
    // The gateway holds at most about a megabyte for this client plus socket buffers, so most of
    // the 64 MiB must still be waiting in the upstream's own send buffer.
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(s.bufferedAmount > 32 * 1024 * 1024, `upstream still holds ${s.bufferedAmount} bytes`);
    let received = 0;
    const all = new Promise<void>((resolve) => c.on('message', (m: Buffer) => { received += m.length; if (received === total * chunk.length) resolve(); }));
    c._socket.resume();
    await all;
    assert.equal(received, total * chunk.length);
    c.close();
    await closed(c);
  });

  test('a message over --ws-max-message-bytes closes both sides', async () => {
    // From the upstream: 1009 "message too big" to both.
    let up = nextUpstream();
    let c = await open('/ws');
    let { s } = await up;
    let clientSaw = closed(c);
    let upstreamSaw = closed(s);
    s.send(Buffer.alloc(4 * 1024 * 1024 + 1));
    assert.deepEqual(await clientSaw, { code: 1009, reason: 'message too big' });
    assert.equal((await upstreamSaw).code, 1009);
    // From the client: uWS drops the connection without a close frame (1006), the upstream is closed too.
    up = nextUpstream();
    c = await open('/ws');
    ({ s } = await up);
    clientSaw = closed(c);
    upstreamSaw = closed(s);
    c.send(Buffer.alloc(4 * 1024 * 1024 + 1));
    assert.equal((await clientSaw).code, 1006);
    await upstreamSaw;
  });

  test('key-auth refuses an upgrade without a key with its 401, and lets one with a key through', async () => {
    await assert.rejects(open('/guarded'), (err: Error & { status?: number }) => err.status === 401);
    const up = nextUpstream();
    const c = await open('/guarded', { headers: { apikey: 'alice-key' } });
    const { req } = await up;
    assert.equal(req.headers['x-consumer-username'], 'alice');
    c.close();
    await closed(c);
  });

  test('an upstream that does not switch protocols: its answer reaches the client', async () => {
    await assert.rejects(open('/plain', { headers: { 'x-echo-status': '403' } }), (err: Error & { status?: number }) => err.status === 403);
  });

  test('wss through the TLS listener: the SNI certificate, X-Forwarded-Proto https', async () => {
    const up = nextUpstream();
    const c = await open('/ws', { rejectUnauthorized: false, servername: 'ws.example.com' }, `wss://127.0.0.1:${tlsPort}`);
    const { s, req } = await up;
    echo(s);
    assert.equal(req.headers['x-forwarded-proto'], 'https');
    c.send('over tls');
    assert.equal((await nextMessage(c)).data.toString(), 'over tls');
    c.close();
    await closed(c);
  });

  test('--ws-idle-timeout closes a quiet connection on both sides with 1001', async () => {
    const up = nextUpstream();
    const c = await open('/ws');
    const { s } = await up;
    const started = Date.now();
    const [client, upstreamSide] = await Promise.all([closed(c), closed(s)]);
    const elapsed = Date.now() - started;
    assert.equal(client.code, 1001);
    assert.equal(upstreamSide.code, 1001);
    assert.ok(elapsed >= 7_500 && elapsed < 14_000, `closed after ${elapsed} ms`);
  });

  test('metrics count connections and messages', async () => {
    const text = await (await fetch(gw.adminUrl('/metrics'))).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    assert.ok(value(/^floodgate_websocket_connections_total (\d+)/m) >= 10, text.split('\n').filter((l) => l.includes('websocket')).join('\n'));
    assert.ok(value(/^floodgate_websocket_messages_total\{direction="downstream"\} (\d+)/m) >= 256);
    assert.ok(value(/^floodgate_websocket_bytes_total\{direction="upstream"\} (\d+)/m) >= 1024 * 1024);
  });

  test('SIGTERM closes open WebSockets with 1001 going away', async () => {
    const up = nextUpstream();
    const c = await open('/ws');
    const { s } = await up;
    const [client, upstreamSide] = [closed(c), closed(s)];
    gw.proc.kill('SIGTERM');
    assert.deepEqual(await client, { code: 1001, reason: 'gateway shutting down' });
    assert.equal((await upstreamSide).code, 1001);
  });
});
