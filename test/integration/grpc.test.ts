/**
 * gRPC through the gateway (src/grpc/proxy.ts): @grpc/grpc-js as client (TLS, HTTP/2 to the
 * gateway's TLS port) and as upstream server (plain HTTP/2, `protocol: grpc`). The four call
 * kinds, an error's status and message passing through, a deadline enforced at the gateway, and
 * 10,000 streamed messages both ways.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  rpc Collect (stream Msg) returns (Msg);
  rpc Spread (Msg) returns (stream Msg);
  rpc Chat (stream Msg) returns (stream Msg);
}
`;

interface Msg {
  text: string;
  n: number;
}
type EchoClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const cert = makeCertificate('grpc.test', 'ec');
let server: grpc.Server;
let gw: Gateway;
let tlsPort: number;
let EchoService: grpc.ServiceClientConstructor;
let client: EchoClient;

function loadProto(): grpc.GrpcObject {
  const dir = mkdtempSync(join(tmpdir(), 'fg-grpc-'));
  const file = join(dir, 'echo.proto');
  writeFileSync(file, PROTO);
  return grpc.loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true, defaults: true }));
}

function unary(c: EchoClient, msg: Msg, options: grpc.CallOptions = {}): Promise<Msg> {
  return new Promise((resolve, reject) => {
    c.Unary(msg, new grpc.Metadata(), options, (err: grpc.ServiceError | null, reply: Msg) => (err ? reject(err) : resolve(reply)));
  });
}

describe('gRPC proxying', () => {
  before(async () => {
    const pkg = loadProto().demo as grpc.GrpcObject;
    EchoService = pkg.Echo as grpc.ServiceClientConstructor;
    server = new grpc.Server();
    server.addService(EchoService.service, {
      Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        const m = call.request;
        if (m.text === 'fail') return cb({ code: grpc.status.PERMISSION_DENIED, details: 'not you, ' + call.metadata.get('x-who')[0] });
        if (m.text === 'slow') return void setTimeout(() => cb(null, { text: 'late', n: 0 }), 2000);
        cb(null, { text: `echo:${m.text}:${call.metadata.get('x-forwarded-proto')[0]}`, n: m.n + 1 });
      },
      Collect: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        let sum = 0;
        let count = 0;
        call.on('data', (m: Msg) => {
          sum += m.n;
          count++;
        });
        call.on('end', () => cb(null, { text: `count=${count}`, n: sum }));
      },
      Spread: (call: grpc.ServerWritableStream<Msg, Msg>) => {
        for (let i = 0; i < call.request.n; i++) call.write({ text: 'item', n: i });
        call.end();
      },
      Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
        call.on('data', (m: Msg) => call.write({ text: m.text.toUpperCase(), n: m.n }));
        call.on('end', () => call.end());
      },
    });
    const upstreamPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    tlsPort = await freePort();
    gw = await startGateway({
      config: `_format_version: "3.0"
services:
  - name: echo-grpc
    url: grpc://127.0.0.1:${upstreamPort}
    routes:
      - name: echo-rpc
        protocols: [grpc, grpcs]
        paths: [/demo.Echo/]
        strip_path: false
`,
      workers: 1,
      args: ['--listen-tls', `127.0.0.1:${tlsPort}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
    client = new EchoService(`127.0.0.1:${tlsPort}`, grpc.credentials.createSsl(Buffer.from(cert.cert)), {
      'grpc.ssl_target_name_override': 'grpc.test',
      'grpc.default_authority': 'grpc.test',
    }) as unknown as EchoClient;
  });
  after(async () => {
    client?.close();
    await gw?.stop();
    server?.forceShutdown();
  });

  test('unary: request, reply and metadata through the gateway', async () => {
    const reply = await unary(client, { text: 'hi', n: 41 });
    assert.equal(reply.text, 'echo:hi:https');
    assert.equal(reply.n, 42);
  });

  test('an error status and message pass through', async () => {
    const md = new grpc.Metadata();
    md.set('x-who', 'mallory');
    const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
      client.Unary({ text: 'fail', n: 0 }, md, (e: grpc.ServiceError | null) => (e ? resolve(e) : reject(new Error('no error'))));
    });
    assert.equal(err.code, grpc.status.PERMISSION_DENIED);
    assert.equal(err.details, 'not you, mallory');
  });

  test('client streaming', async () => {
    const reply = await new Promise<Msg>((resolve, reject) => {
      const call = client.Collect((err: grpc.ServiceError | null, r: Msg) => (err ? reject(err) : resolve(r))) as grpc.ClientWritableStream<Msg>;
      for (let i = 1; i <= 100; i++) call.write({ text: 'x', n: i });
      call.end();
    });
    assert.equal(reply.text, 'count=100');
    assert.equal(reply.n, 5050);
  });

  test('server streaming: 10,000 messages', async () => {
    const call = client.Spread({ text: '', n: 10_000 }) as grpc.ClientReadableStream<Msg>;
    let count = 0;
    let last = -1;
    let ordered = true;
    await new Promise<void>((resolve, reject) => {
      call.on('data', (m: Msg) => {
        if (m.n !== last + 1) ordered = false;
        last = m.n;
        count++;
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    assert.equal(count, 10_000);
    assert.ok(ordered, 'in order');
  });

  test('bidirectional streaming: 10,000 messages each way', async () => {
    const call = client.Chat() as grpc.ClientDuplexStream<Msg, Msg>;
    let count = 0;
    let sum = 0;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: Msg) => {
        assert.equal(m.text, 'PING');
        count++;
        sum += m.n;
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (let i = 0; i < 10_000; i++) {
      if (!call.write({ text: 'ping', n: i })) await new Promise((r) => call.once('drain', r));
    }
    call.end();
    await done;
    assert.equal(count, 10_000);
    assert.equal(sum, (10_000 * 9_999) / 2);
  });

  test('a deadline: DEADLINE_EXCEEDED well before the slow upstream answers', async () => {
    const started = Date.now();
    const err = await unary(client, { text: 'slow', n: 0 }, { deadline: Date.now() + 300 }).then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
    assert.ok(err !== null, 'the call failed');
    assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 1500, 'ended at the deadline, not when the upstream answered');
    // the gateway keeps serving the channel after the cancelled call
    assert.equal((await unary(client, { text: 'again', n: 1 })).n, 2);
  });

  test('a grpc-only route does not match a request that is not gRPC (Kong)', async () => {
    const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false, servername: 'grpc.test' });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/demo.Echo/Unary' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
      });
      assert.equal(status, 404);
    } finally {
      session.close();
    }
  });

  test('grpc-timeout is enforced by the gateway itself (a client that does not cancel)', async () => {
    // The upstream is a bare HTTP/2 server that takes the call and never answers: a grpc-js server
    // would enforce the forwarded grpc-timeout too, and its answer could win the race with ours.
    const silent = http2.createServer();
    const held: http2.ServerHttp2Stream[] = [];
    silent.on('stream', (stream) => held.push(stream));
    const upstreamPort = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)));
    const other = await startGateway({
      config: `_format_version: "3.0"\nservices:\n  - name: silent\n    url: grpc://127.0.0.1:${upstreamPort}\n    routes:\n      - name: silent-rpc\n        protocols: [grpc, grpcs]\n        paths: [/demo.Echo/]\n        strip_path: false\n`,
      workers: 1,
      args: ['--listen-tls', `127.0.0.1:${await freePort()}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
    const tls = other.logs.join('\n').match(/"tls":"127\.0\.0\.1:(\d+)"/);
    assert.ok(tls !== null, 'the gateway logged its TLS address');
    // A raw HTTP/2 client: grpc-timeout 200 ms, no deadline of its own. Msg{text:"slow"}.
    const session = http2.connect(`https://127.0.0.1:${tls[1]}`, { rejectUnauthorized: false, servername: 'grpc.test' });
    try {
      const started = Date.now();
      const req = session.request({ ':method': 'POST', ':path': '/demo.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' });
      const message = Buffer.from([0x0a, 0x04, ...Buffer.from('slow')]);
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
      req.end(frame);
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        let got: http2.IncomingHttpHeaders = {};
        req.on('response', (h) => (got = h));
        req.on('trailers', (t) => (got = { ...got, ...t }));
        req.on('end', () => resolve(got));
        req.on('error', reject);
        req.resume();
      });
      assert.equal(headers['grpc-status'], String(grpc.status.DEADLINE_EXCEEDED));
      assert.match(String(headers['grpc-message']), /grpc-timeout/);
      const took = Date.now() - started;
      assert.ok(took >= 150 && took < 1500, `answered at the 200 ms deadline (took ${took} ms)`);
      assert.equal(held.length, 1, 'the call reached the upstream');
      // The gateway cancelled the upstream stream at its deadline.
      for (let i = 0; i < 100 && !held[0].closed; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(held[0].closed, 'the upstream stream was reset by the gateway');
    } finally {
      session.close();
      await other.stop();
      for (const stream of held) stream.close();
      await new Promise((r) => silent.close(r));
    }
  });

  test('an unreachable gRPC upstream is UNAVAILABLE with the reason', async () => {
    const port = await freePort();
    const other = await startGateway({
      config: `_format_version: "3.0"\nservices:\n  - name: gone\n    url: grpc://127.0.0.1:${port}\n    routes:\n      - name: gone-rpc\n        protocols: [grpc, grpcs]\n        paths: [/demo.Echo/]\n        strip_path: false\n`,
      workers: 1,
      args: ['--listen-tls', `127.0.0.1:${await freePort()}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
    try {
      const tls = other.logs.join('\n').match(/"tls":"127\.0\.0\.1:(\d+)"/);
      assert.ok(tls !== null, 'the gateway logged its TLS address');
      const c = new EchoService(`127.0.0.1:${tls[1]}`, grpc.credentials.createSsl(Buffer.from(cert.cert)), { 'grpc.ssl_target_name_override': 'grpc.test' }) as unknown as EchoClient;
      const err = await unary(c, { text: 'x', n: 0 }).then(() => null, (e: grpc.ServiceError) => e);
      c.close();
      assert.ok(err !== null);
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, new RegExp(`127\\.0\\.0\\.1:${port}`));
    } finally {
      await other.stop();
    }
  });
});

describe('gRPC balancing', () => {
  test('calls are spread across an upstream\'s targets (round-robin, one HTTP/2 session each)', async () => {
    const pkg = loadProto().demo as grpc.GrpcObject;
    const Service = pkg.Echo as grpc.ServiceClientConstructor;
    const servers: grpc.Server[] = [];
    const ports: number[] = [];
    for (const name of ['a', 'b']) {
      const s = new grpc.Server();
      s.addService(Service.service, {
        Unary: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb(null, { text: name, n: 0 }),
      });
      ports.push(await new Promise<number>((resolve, reject) => s.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))));
      servers.push(s);
    }
    const port = await freePort();
    const gateway = await startGateway({
      config: `_format_version: "3.0"
upstreams:
  - name: echo-pool
    targets:
      - target: 127.0.0.1:${ports[0]}
      - target: 127.0.0.1:${ports[1]}
services:
  - name: pooled
    url: grpc://echo-pool
    routes:
      - name: pooled-rpc
        protocols: [grpc, grpcs]
        paths: [/demo.Echo/]
        strip_path: false
`,
      workers: 1,
      args: ['--listen-tls', `127.0.0.1:${port}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
    const c = new Service(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(cert.cert)), { 'grpc.ssl_target_name_override': 'grpc.test' }) as unknown as EchoClient;
    try {
      const seen = new Map<string, number>();
      for (let i = 0; i < 20; i++) {
        const r = await unary(c, { text: 'x', n: 0 });
        seen.set(r.text, (seen.get(r.text) ?? 0) + 1);
      }
      assert.equal(seen.get('a'), 10);
      assert.equal(seen.get('b'), 10);
    } finally {
      c.close();
      await gateway.stop();
      for (const s of servers) s.forceShutdown();
    }
  });
});
