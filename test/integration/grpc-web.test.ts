/**
 * The grpc-web plugin (src/plugins/grpc-web, src/grpc/web-*.ts) through the real gateway: an
 * @grpc/grpc-js server as the upstream (plain HTTP/2, `protocol: grpc`), and grpc-web clients made
 * of node http (HTTP/1.1, plain) and node http2 (TLS with a certificate made here) requests whose
 * bodies are framed by hand (flag byte, 4-byte length, message) and whose protobuf messages are
 * encoded by hand. Unary binary and text, server streaming arriving message by message, errors in
 * trailers and trailers-only, CORS preflight, JSON transcoding with `proto`, deadlines (against
 * an upstream that never answers, so only the gateway can end the call), an unreachable upstream,
 * a client that leaves, a slow reader, keep-alive, native gRPC on the same route, and
 * pass_stripped_path.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { makeCertificate } from '../helpers/certificates';
import { startGateway, type Gateway } from '../helpers/gateway';
import { freePort } from '../helpers/ports';

const PROTO = `syntax = "proto3";
package demo;
message Msg { string text = 1; int32 n = 2; }
service Echo {
  rpc Unary (Msg) returns (Msg);
  rpc Spread (Msg) returns (stream Msg);
}
`;

interface Msg {
  text: string;
  n: number;
}

// ---------------------------------------------------------------- a hand-made grpc-web client

/** Msg as protobuf: field 1 (string, wire type 2), field 2 (int32 varint, wire type 0). */
function encodeMsg(m: Msg): Buffer {
  const text = Buffer.from(m.text);
  const parts: number[] = [];
  if (text.length > 0) parts.push(0x0a, ...varint(text.length), ...text);
  if (m.n !== 0) parts.push(0x10, ...varint(m.n));
  return Buffer.from(parts);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function decodeMsg(b: Buffer): Msg {
  const m: Msg = { text: '', n: 0 };
  let i = 0;
  const readVarint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const byte = b[i++];
      v += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return v;
      shift += 7;
    }
  };
  while (i < b.length) {
    const tag = b[i++];
    if (tag === 0x0a) {
      const len = readVarint();
      m.text = b.subarray(i, i + len).toString();
      i += len;
    } else if (tag === 0x10) {
      m.n = readVarint();
    } else {
      throw new Error(`unexpected tag ${tag}`);
    }
  }
  return m;
}

function frameOf(flag: number, payload: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

interface Frames {
  messages: Buffer[];
  trailers: Record<string, string> | null;
}

function readFrames(body: Buffer): Frames {
  const out: Frames = { messages: [], trailers: null };
  let i = 0;
  while (i + 5 <= body.length) {
    const flag = body[i];
    const len = body.readUInt32BE(i + 1);
    const payload = body.subarray(i + 5, i + 5 + len);
    assert.equal(payload.length, len, 'a whole frame');
    i += 5 + len;
    if (flag === 0x80) {
      out.trailers = {};
      for (const line of payload.toString('latin1').split('\r\n')) {
        if (line === '') continue;
        const colon = line.indexOf(':');
        out.trailers[line.slice(0, colon)] = line.slice(colon + 1);
      }
    } else {
      assert.equal(flag, 0, 'a data frame');
      out.messages.push(payload);
    }
  }
  assert.equal(i, body.length, 'nothing after the last frame');
  return out;
}

/** base64 as a grpc-web client reads it: 4 characters at a time, padding allowed mid-stream. */
function fromBase64Stream(text: string): Buffer {
  assert.equal(text.length % 4, 0, 'whole base64 groups');
  const groups = text.match(/.{4}/g) ?? [];
  return Buffer.concat(groups.map((g) => Buffer.from(g, 'base64')));
}

interface WebResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Each body chunk with the time (ms since the request) it arrived. */
  chunks: { at: number; data: Buffer }[];
}

type Transport = 'http1' | 'h2';

let gw: Gateway;
let tlsPort: number;
const cert = makeCertificate('grpc-web.test', 'ec');
let h2session: http2.ClientHttp2Session | null = null;

function h2(): http2.ClientHttp2Session {
  if (h2session === null || h2session.closed || h2session.destroyed) {
    h2session = http2.connect(`https://127.0.0.1:${tlsPort}`, { ca: cert.cert, servername: 'grpc-web.test' });
    h2session.on('error', () => {});
  }
  return h2session;
}

function call(transport: Transport, method: string, path: string, headers: Record<string, string>, body: Buffer | string | null, onChunk?: (req: { destroy(): void }) => void): Promise<WebResponse> {
  const started = Date.now();
  const chunks: { at: number; data: Buffer }[] = [];
  return new Promise((resolve, reject) => {
    if (transport === 'http1') {
      const req = http.request({ host: '127.0.0.1', port: gw.port, method, path, headers, agent: false }, (res) => {
        res.on('data', (d: Buffer) => {
          chunks.push({ at: Date.now() - started, data: d });
          onChunk?.(req);
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks.map((c) => c.data)), chunks }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body ?? undefined);
      return;
    }
    const req = h2().request({ ':method': method, ':path': path, ...headers });
    let head: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (head = h));
    req.on('data', (d: Buffer) => {
      chunks.push({ at: Date.now() - started, data: d });
      onChunk?.({ destroy: () => req.close(http2.constants.NGHTTP2_CANCEL) });
    });
    req.on('end', () => resolve({ status: Number(head[':status']), headers: head as WebResponse['headers'], body: Buffer.concat(chunks.map((c) => c.data)), chunks }));
    req.on('error', reject);
    req.on('close', () => {
      if (req.rstCode !== 0) resolve({ status: Number(head[':status']), headers: head as WebResponse['headers'], body: Buffer.concat(chunks.map((c) => c.data)), chunks });
    });
    req.end(body ?? undefined);
  });
}

const BINARY = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
const TEXT = { 'content-type': 'application/grpc-web-text', accept: 'application/grpc-web-text', 'x-grpc-web': '1' };

function unaryBody(m: Msg): Buffer {
  return frameOf(0, encodeMsg(m));
}

// ---------------------------------------------------------------- the upstream

let server: grpc.Server;
let silent: http2.Http2Server;
/** RST_STREAM codes of the streams the silent upstream saw closed. */
const silentResets: number[] = [];
let EchoClient: grpc.ServiceClientConstructor;
/** Set by Spread when its client cancelled (the gateway reset the upstream stream). */
let cancelledStreams = 0;
/** Messages Spread("flood") handed to grpc-js whose write completed (flow control let them out). */
let floodWritten = 0;
const FLOOD_MESSAGE = 'x'.repeat(16 * 1024);

describe('grpc-web plugin', () => {
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-grpc-web-'));
    const protoFile = join(dir, 'echo.proto');
    writeFileSync(protoFile, PROTO);
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile, { keepCase: true, defaults: true })).demo as grpc.GrpcObject;
    const Echo = pkg.Echo as grpc.ServiceClientConstructor;
    EchoClient = Echo;
    server = new grpc.Server();
    server.addService(Echo.service, {
      Unary: (c: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        const m = c.request;
        if (m.text === 'fail') return cb({ code: grpc.status.PERMISSION_DENIED, details: 'not you, ' + c.metadata.get('x-who')[0] });
        cb(null, { text: `echo:${m.text}:${c.metadata.get('x-forwarded-proto')[0]}`, n: m.n + 1 });
      },
      Spread: (c: grpc.ServerWritableStream<Msg, Msg>) => {
        const { text, n } = c.request;
        let i = 0;
        let timer: NodeJS.Timeout | null = null;
        c.on('cancelled', () => {
          cancelledStreams++;
          if (timer !== null) clearTimeout(timer);
        });
        if (text === 'head-then-wait') {
          // The response head now, then nothing until the client gives up (its grpc-timeout).
          c.sendMetadata(new grpc.Metadata());
          return;
        }
        if (text === 'flood') {
          // As fast as flow control allows: the next write waits for the previous one's callback.
          floodWritten = 0;
          const write = () => {
            if (c.cancelled) return;
            if (floodWritten === n) return void c.end();
            c.write({ text: FLOOD_MESSAGE, n: floodWritten }, () => {
              floodWritten++;
              write();
            });
          };
          return write();
        }
        const next = () => {
          timer = null;
          if (c.cancelled) return;
          if (i === n) {
            if (text === 'fail-after') return void c.emit('error', { code: grpc.status.NOT_FOUND, details: `gone after ${n}` });
            const trailers = new grpc.Metadata();
            trailers.set('x-trail', 'yes');
            return void c.end(trailers);
          }
          c.write({ text: `item${i}`, n: i });
          i++;
          // 'forever' streams until the client leaves; the others space their messages out.
          timer = setTimeout(next, text === 'forever' ? 50 : 150);
        };
        next();
      },
    });
    const upstreamPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    // An HTTP/2 upstream that never answers (and, unlike grpc-js, ignores grpc-timeout): only
    // the gateway can end a call to it.
    silent = http2.createServer();
    silent.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.on('close', () => silentResets.push(stream.rstCode));
      stream.resume();
    });
    const silentPort = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)));
    const deadPort = await freePort();
    tlsPort = await freePort();
    gw = await startGateway({
      config: `_format_version: "3.0"
services:
  - name: echo-grpc
    url: grpc://127.0.0.1:${upstreamPort}
    routes:
      - name: web
        protocols: [http, https]
        paths: [/demo.Echo/]
        strip_path: false
        plugins:
          - name: grpc-web
            config:
              proto: ${protoFile}
              allow_origin_header: https://app.example
      - name: web-stripped
        protocols: [http, https]
        paths: [/api]
        strip_path: true
        plugins:
          - name: grpc-web
            config:
              pass_stripped_path: true
      - name: web-client-path
        protocols: [http, https]
        paths: [/raw]
        strip_path: true
        plugins:
          - name: grpc-web
  - name: silent
    url: grpc://127.0.0.1:${silentPort}
    routes:
      - name: silent-web
        protocols: [http, https]
        paths: [/silent.Echo/]
        strip_path: false
        plugins:
          - name: grpc-web
  - name: not-grpc
    url: http://127.0.0.1:${deadPort}
    routes:
      - name: http-web
        protocols: [http, https]
        paths: [/plain.Echo/]
        strip_path: false
        plugins:
          - name: grpc-web
  - name: gone
    url: grpc://127.0.0.1:${deadPort}
    routes:
      - name: gone-web
        protocols: [http, https]
        paths: [/gone.Echo/]
        strip_path: false
        plugins:
          - name: grpc-web
`,
      workers: 1,
      args: ['--listen-tls', `127.0.0.1:${tlsPort}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
  });

  after(async () => {
    h2session?.close();
    await gw?.stop();
    server?.forceShutdown();
    silent?.close();
  });

  test('native gRPC on the same route passes through the plugin untouched (a grpc-js client over TLS)', async () => {
    const client = new EchoClient(`127.0.0.1:${tlsPort}`, grpc.credentials.createSsl(Buffer.from(cert.cert)), {
      'grpc.ssl_target_name_override': 'grpc-web.test',
      'grpc.default_authority': 'grpc-web.test',
    }) as unknown as grpc.Client & { Unary(m: Msg, cb: (e: grpc.ServiceError | null, r: Msg) => void): void };
    try {
      const reply = await new Promise<Msg>((resolve, reject) => client.Unary({ text: 'native', n: 1 }, (e, r) => (e ? reject(e) : resolve(r))));
      assert.deepEqual(reply, { text: 'echo:native:https', n: 2 });
    } finally {
      client.close();
    }
  });

  test('HTTP/1.1 keep-alive: calls one after another on one connection (each chunked answer ends cleanly)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const reused: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const body = await new Promise<Buffer>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/demo.Echo/Spread', headers: BINARY, agent }, (res) => {
            reused.push(req.reusedSocket);
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () => resolve(Buffer.concat(parts)));
          });
          req.on('error', reject);
          req.end(unaryBody({ text: 'go', n: 2 }));
        });
        const frames = readFrames(body);
        assert.equal(frames.messages.length, 2);
        assert.equal(frames.trailers?.['grpc-status'], '0');
      }
      assert.deepEqual(reused, [false, true, true]);
    } finally {
      agent.destroy();
    }
  });

  for (const transport of ['http1', 'h2'] as const) {
    describe(`over ${transport === 'http1' ? 'HTTP/1.1' : 'HTTP/2 (TLS)'}`, () => {
      const scheme = transport === 'http1' ? 'http' : 'https';
      test('unary, binary: the reply framed as is, then the trailer frame', async () => {
        const res = await call(transport, 'POST', '/demo.Echo/Unary', BINARY, unaryBody({ text: 'hi', n: 41 }));
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'application/grpc-web+proto');
        assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
        const frames = readFrames(res.body);
        assert.equal(frames.messages.length, 1);
        assert.deepEqual(decodeMsg(frames.messages[0]), { text: `echo:hi:${scheme}`, n: 42 });
        assert.equal(frames.trailers?.['grpc-status'], '0');
      });

      test('unary, text: a base64 request and a base64 reply', async () => {
        const body = unaryBody({ text: 'txt', n: 1 }).toString('base64');
        const res = await call(transport, 'POST', '/demo.Echo/Unary', TEXT, body);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'application/grpc-web-text');
        const text = res.body.toString('latin1');
        assert.match(text, /^[A-Za-z0-9+/=]+$/, 'the body is base64');
        const frames = readFrames(fromBase64Stream(text));
        assert.deepEqual(decodeMsg(frames.messages[0]), { text: `echo:txt:${scheme}`, n: 2 });
        assert.equal(frames.trailers?.['grpc-status'], '0');
      });

      test('server streaming: each message reaches the client as it is sent, trailers last', async () => {
        const res = await call(transport, 'POST', '/demo.Echo/Spread', TEXT, unaryBody({ text: 'go', n: 3 }).toString('base64'));
        assert.equal(res.status, 200);
        // Every chunk decodes alone (padding only where a message ends): a client can read each message on arrival.
        const perChunk = res.chunks.map((c) => readFrames(fromBase64Stream(c.data.toString('latin1'))));
        const arrivals = res.chunks.filter((_, i) => perChunk[i].messages.length > 0).map((c) => c.at);
        const all = readFrames(fromBase64Stream(res.body.toString('latin1')));
        assert.deepEqual(all.messages.map((m) => decodeMsg(m)), [{ text: 'item0', n: 0 }, { text: 'item1', n: 1 }, { text: 'item2', n: 2 }]);
        assert.equal(all.trailers?.['grpc-status'], '0');
        assert.equal(all.trailers?.['x-trail'], 'yes', 'custom trailing metadata is in the trailer frame');
        assert.ok(arrivals.length >= 3, `messages arrived in separate chunks (${arrivals.length})`);
        assert.ok(arrivals[arrivals.length - 1] - arrivals[0] >= 200, `the first message was not held back for the last (${arrivals.join(', ')} ms)`);
      });

      test('an error after messages: its status and message in the trailer frame', async () => {
        const res = await call(transport, 'POST', '/demo.Echo/Spread', BINARY, unaryBody({ text: 'fail-after', n: 2 }));
        assert.equal(res.status, 200);
        const frames = readFrames(res.body);
        assert.equal(frames.messages.length, 2);
        assert.equal(frames.trailers?.['grpc-status'], String(grpc.status.NOT_FOUND));
        // grpc-message is percent-encoded on the wire (gRPC over HTTP/2), as grpc-web clients expect.
        assert.equal(decodeURIComponent(frames.trailers?.['grpc-message'] ?? ''), 'gone after 2');
      });

      test('a trailers-only error: grpc-status and grpc-message in the headers, empty body', async () => {
        const res = await call(transport, 'POST', '/demo.Echo/Unary', { ...BINARY, 'x-who': 'mallory' }, unaryBody({ text: 'fail', n: 0 }));
        assert.equal(res.status, 200);
        assert.equal(res.headers['grpc-status'], String(grpc.status.PERMISSION_DENIED));
        assert.equal(decodeURIComponent(String(res.headers['grpc-message'])), 'not you, mallory');
        assert.equal(res.headers['content-type'], 'application/grpc-web+proto');
        assert.equal(res.headers['access-control-expose-headers'], 'grpc-status,grpc-message');
        assert.equal(res.body.length, 0);
      });

      test('CORS preflight: answered by the gateway with the allowed origin, method and headers', async () => {
        const res = await call(transport, 'OPTIONS', '/demo.Echo/Unary', { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-grpc-web' }, null);
        assert.equal(res.status, 200);
        assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
        assert.equal(res.headers['access-control-allow-methods'], 'POST');
        const allowed = String(res.headers['access-control-allow-headers']).split(',');
        for (const h of ['content-type', 'x-grpc-web', 'x-user-agent', 'grpc-timeout']) assert.ok(allowed.includes(h), h);
        assert.equal(res.body.toString(), 'OK');
      });

      test('JSON transcoding with proto: application/json in, JSON out', async () => {
        const res = await call(transport, 'POST', '/demo.Echo/Unary', { 'content-type': 'application/json' }, JSON.stringify({ text: 'json', n: 9 }));
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'application/json');
        assert.deepEqual(JSON.parse(res.body.toString()), { text: `echo:json:${scheme}`, n: 10 });
      });

      test('JSON transcoding, grpc-web-text+json: framed JSON messages, streamed, and the trailer frame', async () => {
        const body = frameOf(0, Buffer.from(JSON.stringify({ text: 'go', n: 2 }))).toString('base64');
        const res = await call(transport, 'POST', '/demo.Echo/Spread', { 'content-type': 'application/grpc-web-text+json' }, body);
        assert.equal(res.headers['content-type'], 'application/grpc-web-text+json');
        const frames = readFrames(fromBase64Stream(res.body.toString('latin1')));
        assert.deepEqual(frames.messages.map((m) => JSON.parse(m.toString())), [{ text: 'item0', n: 0 }, { text: 'item1', n: 1 }]);
        assert.equal(frames.trailers?.['grpc-status'], '0');
      });

      test('grpc-timeout: DEADLINE_EXCEEDED from the gateway, and the upstream call reset, for an upstream that never answers', async () => {
        const before = silentResets.length;
        const started = Date.now();
        const res = await call(transport, 'POST', '/silent.Echo/Unary', { ...BINARY, 'grpc-timeout': '200m' }, unaryBody({ text: 'x', n: 0 }));
        const took = Date.now() - started;
        assert.equal(res.status, 200);
        assert.equal(res.headers['grpc-status'], String(grpc.status.DEADLINE_EXCEEDED));
        assert.match(String(res.headers['grpc-message']), /grpc-timeout/);
        assert.ok(took >= 150 && took < 1500, `answered at the deadline (${took} ms)`);
        const deadline = Date.now() + 2000;
        while (silentResets.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.equal(silentResets[before], http2.constants.NGHTTP2_CANCEL, 'the upstream stream was cancelled');
      });

      test('grpc-timeout after the upstream head: the status ends the body (framed), or goes in the head (bare JSON, no message yet)', async () => {
        const framed = await call(transport, 'POST', '/demo.Echo/Spread', { ...BINARY, 'grpc-timeout': '200m' }, unaryBody({ text: 'head-then-wait', n: 0 }));
        assert.equal(framed.headers['grpc-status'], undefined);
        const frames = readFrames(framed.body);
        assert.equal(frames.messages.length, 0);
        assert.equal(frames.trailers?.['grpc-status'], String(grpc.status.DEADLINE_EXCEEDED));
        const json = await call(transport, 'POST', '/demo.Echo/Spread', { 'content-type': 'application/json', 'grpc-timeout': '200m' }, JSON.stringify({ text: 'head-then-wait' }));
        assert.equal(json.headers['grpc-status'], String(grpc.status.DEADLINE_EXCEEDED));
        assert.equal(json.body.length, 0);
      });

      test('an unreachable upstream: UNAVAILABLE in the headers, naming the target', async () => {
        const res = await call(transport, 'POST', '/gone.Echo/Unary', BINARY, unaryBody({ text: 'x', n: 0 }));
        assert.equal(res.status, 200);
        assert.equal(res.headers['grpc-status'], String(grpc.status.UNAVAILABLE));
        assert.match(String(res.headers['grpc-message']), /upstream unavailable: 127\.0\.0\.1:\d+/);
        assert.equal(res.headers['access-control-allow-origin'], '*', 'the default allow_origin_header');
      });

      test('a client that leaves mid-stream cancels the upstream call', async () => {
        const before = cancelledStreams;
        await call(transport, 'POST', '/demo.Echo/Spread', BINARY, unaryBody({ text: 'forever', n: 1_000_000 }), (req) => req.destroy()).catch(() => null);
        const deadline = Date.now() + 3000;
        while (cancelledStreams === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(cancelledStreams, before + 1, 'the upstream saw its call cancelled');
      });

      test('a slow reader: the upstream is held back by flow control, and every message arrives', async () => {
        const total = 2000; // 32 MiB of messages
        const started = Date.now();
        let seenWhilePaused = -1;
        const res = await new Promise<{ bytes: number }>((resolve, reject) => {
          const onResponse = (stream: NodeJS.ReadableStream) => {
            stream.pause();
            setTimeout(() => {
              seenWhilePaused = floodWritten;
              let bytes = 0;
              stream.on('data', (d: Buffer) => (bytes += d.length));
              stream.on('end', () => resolve({ bytes }));
              stream.resume();
            }, 1000);
          };
          const body = unaryBody({ text: 'flood', n: total });
          if (transport === 'http1') {
            const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/demo.Echo/Spread', headers: BINARY, agent: false }, onResponse);
            req.on('error', reject);
            req.end(body);
          } else {
            const req = h2().request({ ':method': 'POST', ':path': '/demo.Echo/Spread', ...BINARY });
            req.on('response', () => onResponse(req));
            req.on('error', reject);
            req.end(body);
          }
        });
        const frameBytes = 5 + encodeMsg({ text: FLOOD_MESSAGE, n: 1 }).length;
        assert.ok(seenWhilePaused >= 0 && seenWhilePaused < total / 2, `while the client read nothing for 1 s, the upstream got out ${seenWhilePaused} of ${total} messages`);
        assert.ok(res.bytes > total * frameBytes * 0.99, `all ${total} messages arrived (${res.bytes} bytes)`);
        assert.equal(floodWritten, total);
        assert.ok(Date.now() - started < 20_000);
      });

      test('pass_stripped_path: the stripped path goes upstream; without it, the client path does (Kong)', async () => {
        const stripped = await call(transport, 'POST', '/api/demo.Echo/Unary', BINARY, unaryBody({ text: 's', n: 1 }));
        assert.deepEqual(decodeMsg(readFrames(stripped.body).messages[0]), { text: `echo:s:${scheme}`, n: 2 });
        const raw = await call(transport, 'POST', '/raw/demo.Echo/Unary', BINARY, unaryBody({ text: 's', n: 1 }));
        assert.equal(raw.headers['grpc-status'], String(grpc.status.UNIMPLEMENTED), 'the upstream got /raw/demo.Echo/Unary');
      });

      test('bad requests get 400/405 with a message, and the gateway serves on', async () => {
        const badType = await call(transport, 'POST', '/demo.Echo/Unary', { 'content-type': 'text/plain' }, 'x');
        assert.equal(badType.status, 400);
        assert.match(JSON.parse(badType.body.toString()).message, /unsupported Content-Type "text\/plain"/);
        const badBase64 = await call(transport, 'POST', '/demo.Echo/Unary', TEXT, '!!!not base64');
        assert.equal(badBase64.status, 400);
        assert.match(JSON.parse(badBase64.body.toString()).message, /not valid base64/);
        const partial = await call(transport, 'POST', '/demo.Echo/Unary', BINARY, unaryBody({ text: 'hi', n: 1 }).subarray(0, 6));
        assert.equal(partial.status, 400);
        assert.match(JSON.parse(partial.body.toString()).message, /ends inside a message frame/);
        const get = await call(transport, 'GET', '/demo.Echo/Unary', BINARY, null);
        assert.equal(get.status, 405);
        const unknown = await call(transport, 'POST', '/demo.Echo/Nope', { 'content-type': 'application/json' }, '{}');
        assert.equal(unknown.status, 400);
        assert.match(JSON.parse(unknown.body.toString()).message, /unknown method path "\/demo.Echo\/Nope"/);
        const notGrpc = await call(transport, 'POST', '/plain.Echo/Unary', BINARY, unaryBody({ text: 'x', n: 0 }));
        assert.equal(notGrpc.status, 500);
        assert.match(JSON.parse(notGrpc.body.toString()).message, /needs a service with protocol grpc or grpcs/);
        const ok = await call(transport, 'POST', '/demo.Echo/Unary', BINARY, unaryBody({ text: 'after', n: 0 }));
        assert.equal(readFrames(ok.body).trailers?.['grpc-status'], '0');
      });
    });
  }
});
