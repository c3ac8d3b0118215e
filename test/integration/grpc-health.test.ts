/**
 * Passive health checks for gRPC services (src/grpc/call.ts reporting through
 * proxy/attempt.ts), as for HTTP: an upstream with a real @grpc/grpc-js server and one bad
 * target, behind a `protocol: grpc` service, called by a grpc-js client over TLS h2. The bad
 * target is a dead port (a TCP failure), a server that never answers (a timeout at the gateway's
 * grpc-timeout), or a server answering HTTP 503 (an http failure). Each is taken out by passive
 * checks (seen on the admin API), after which every call goes to the live server.
 *
 * No timing assertions: waits poll the admin API with generous deadlines.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { makeCertificate } from '../helpers/certificates';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';
import { freePort } from '../helpers/ports';

const PROTO = `syntax = "proto3";
package demo;
message Msg { string text = 1; int32 n = 2; }
service Echo { rpc Unary (Msg) returns (Msg); }
`;

interface Msg {
  text: string;
  n: number;
}
type EchoClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

interface TargetReport {
  address: string;
  state: string;
  reason: string;
}

const cert = makeCertificate('grpc-health.test', 'ec');
const cleanups: Array<() => Promise<unknown> | void> = [];
let EchoService: grpc.ServiceClientConstructor;
let livePort: number;

function loadProto(): grpc.GrpcObject {
  const dir = mkdtempSync(join(tmpdir(), 'fg-grpc-health-'));
  const file = join(dir, 'echo.proto');
  writeFileSync(file, PROTO);
  return grpc.loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true, defaults: true }));
}

/** A raw HTTP/2 upstream: `answer` decides what each stream gets (nothing, for a black hole). */
async function rawUpstream(answer: (stream: http2.ServerHttp2Stream) => void): Promise<number> {
  const srv = http2.createServer();
  srv.on('stream', (stream) => {
    stream.on('error', () => undefined);
    answer(stream);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  srv.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        // black-holed streams keep sessions open: end them so `close` completes
        for (const s of sessions) s.destroy();
      }),
  );
  return (srv.address() as AddressInfo).port;
}

async function gatewayWith(badPort: number, unhealthy: string): Promise<{ gw: Gateway; client: EchoClient }> {
  const tlsPort = await freePort();
  const gw = await startGateway({
    config: `_format_version: "3.0"
services:
  - name: echo-grpc
    protocol: grpc
    host: pool
    routes:
      - name: echo-rpc
        protocols: [grpc, grpcs]
        paths: [/demo.Echo/]
        strip_path: false
upstreams:
  - name: pool
    healthchecks:
      passive:
        unhealthy: ${unhealthy}
    targets:
      - target: 127.0.0.1:${livePort}
      - target: 127.0.0.1:${badPort}
`,
    workers: 1,
    args: ['--listen-tls', `127.0.0.1:${tlsPort}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
  });
  cleanups.push(() => gw.stop());
  const client = new EchoService(`127.0.0.1:${tlsPort}`, grpc.credentials.createSsl(Buffer.from(cert.cert)), {
    'grpc.ssl_target_name_override': 'grpc-health.test',
    'grpc.default_authority': 'grpc-health.test',
  }) as unknown as EchoClient;
  cleanups.push(() => client.close());
  return { gw, client };
}

/**
 * One unary call: the reply's text, or the error's status name and details. With `grpcTimeout`
 * the client sets no deadline of its own and sends that `grpc-timeout`, so only the gateway
 * enforces it (a client deadline would cancel the call a moment before the gateway's fires).
 */
function call(client: EchoClient, n: number, grpcTimeout?: string): Promise<string> {
  const md = new grpc.Metadata();
  if (grpcTimeout !== undefined) md.set('grpc-timeout', grpcTimeout);
  const options: grpc.CallOptions = grpcTimeout === undefined ? { deadline: Date.now() + 5000 } : {};
  return new Promise((resolve) => {
    client.Unary({ text: 'hi', n }, md, options, (err: grpc.ServiceError | null, reply: Msg) =>
      resolve(err ? `error ${grpc.status[err.code]}: ${err.details}` : reply.text),
    );
  });
}

async function health(gw: Gateway): Promise<TargetReport[]> {
  const res = await get(gw.adminUrl('/upstreams/pool/health'));
  assert.equal(res.status, 200, res.text);
  return res.json().data as TargetReport[];
}

async function targetOf(gw: Gateway, port: number): Promise<TargetReport> {
  const t = (await health(gw)).find((x) => x.address.endsWith(`:${port}`));
  assert.ok(t !== undefined, `target :${port} listed`);
  return t;
}

async function waitUnhealthy(gw: Gateway, port: number): Promise<TargetReport> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const t = await targetOf(gw, port);
    if (t.state === 'unhealthy') return t;
    if (Date.now() > deadline) assert.fail(`target :${port} still ${t.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Calls until one fails (round-robin reaches the bad target within two), then the bad target
 * must be out and the next 20 calls must all reach the live server.
 */
async function ejectsBadTarget(gw: Gateway, client: EchoClient, badPort: number, failure: RegExp, grpcTimeout?: string): Promise<TargetReport> {
  assert.equal((await targetOf(gw, badPort)).state, 'healthy', 'the bad target starts healthy');
  const first: string[] = [];
  for (let i = 0; i < 4 && !first.some((r) => r.startsWith('error')); i++) first.push(await call(client, i, grpcTimeout));
  const failed = first.filter((r) => r.startsWith('error'));
  assert.equal(failed.length, 1, `one call reached the bad target: ${JSON.stringify(first)}`);
  assert.match(failed[0], failure);
  const report = await waitUnhealthy(gw, badPort);
  assert.equal((await targetOf(gw, livePort)).state, 'healthy');
  const after: string[] = [];
  for (let i = 0; i < 20; i++) after.push(await call(client, i, grpcTimeout));
  assert.deepEqual(after, Array(20).fill('echo:hi'), 'every call after the ejection reaches the live server');
  return report;
}

describe('gRPC passive health checks', () => {
  before(async () => {
    EchoService = (loadProto().demo as grpc.GrpcObject).Echo as grpc.ServiceClientConstructor;
    const server = new grpc.Server();
    server.addService(EchoService.service, {
      Unary: (c: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb(null, { text: `echo:${c.request.text}`, n: c.request.n }),
    });
    livePort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    cleanups.push(() => server.forceShutdown());
  });
  after(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    await agent.close();
  });

  test('a dead target: UNAVAILABLE once, a passive tcp failure, then skipped', async () => {
    const deadPort = await freePort(); // nothing listens there
    const { gw, client } = await gatewayWith(deadPort, '{ tcp_failures: 1 }');
    const report = await ejectsBadTarget(gw, client, deadPort, /^error UNAVAILABLE: upstream unavailable: 127\.0\.0\.1:\d+/);
    assert.equal(report.reason, 'passive: 1 consecutive tcp failure');
  });

  test('a target that never answers: the gateway deadline counts as a passive timeout', async () => {
    const holePort = await rawUpstream(() => undefined);
    const { gw, client } = await gatewayWith(holePort, '{ timeouts: 1 }');
    const report = await ejectsBadTarget(gw, client, holePort, /^error DEADLINE_EXCEEDED: Deadline Exceeded \(grpc-timeout at the gateway\)$/, '300m');
    assert.equal(report.reason, 'passive: 1 consecutive timeout');
  });

  test("a target answering HTTP 503: the head's status is classified as for HTTP", async () => {
    const busyPort = await rawUpstream((stream) => {
      stream.respond({ ':status': 503, 'content-type': 'text/plain' });
      stream.end('overloaded');
    });
    const { gw, client } = await gatewayWith(busyPort, '{ http_failures: 1, http_statuses: [503] }');
    const report = await ejectsBadTarget(gw, client, busyPort, /^error UNAVAILABLE/);
    assert.equal(report.reason, 'passive: 1 consecutive http 503');
  });
});
