/**
 * Downstream client certificates (mTLS, --tls-client-verify) with real TLS: CAs and client
 * certificates made by the test (openssl), the real gateway, node's https and http2 clients and
 * curl. A verified identity reaches the upstream (x-forwarded-client-cert) and plugins (mtls-auth
 * maps it to a consumer); no certificate in optional vs required mode; a certificate of another
 * CA; a client's own x-forwarded-client-cert dropped; a reload that swaps the trusted CA while a
 * connection stays open.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { makeCa, makeCertificate, makeClientCertificate, yamlBlock, type TestCertificate } from '../helpers/certificates';
import { startGateway, type Gateway } from '../helpers/gateway';
import { freePort } from '../helpers/ports';

// `ws` has no bundled types and @types/ws is not installed: the few members used here.
interface WsSocket {
  send(data: unknown): void;
  close(): void;
  on(event: string, fn: (...args: any[]) => void): void;
  once(event: string, fn: (...args: any[]) => void): void;
}
interface WsServer {
  address(): { port: number };
  on(event: 'connection', fn: (socket: WsSocket, req: { headers: Record<string, string | undefined> }) => void): void;
  once(event: 'listening', fn: () => void): void;
  close(): void;
}
const WebSocket = require('ws') as { new (url: string, protocols?: string[], opts?: Record<string, unknown>): WsSocket; Server: new (opts: Record<string, unknown>) => WsServer };

const server = makeCertificate('gateway.test', 'ec', ['gateway.test']);
const caA = makeCa('Test CA A');
const caB = makeCa('Test CA B');
const alice = makeClientCertificate('/O=Example/CN=alice', caA, ['URI:spiffe://test/alice', 'DNS:alice.test']);
const bob = makeClientCertificate('/O=Example/CN=bob', caB);
const mallory = makeClientCertificate('/O=Example/CN=alice', makeCa('Rogue CA'));

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** The upstream's view (echo-upstream): the request headers it received. */
function upstreamHeaders(a: Answer): Record<string, string> {
  return (JSON.parse(a.body) as { headers: Record<string, string> }).headers;
}

function h1(port: number, reqPath: string, client: TestCertificate | null, headers: Record<string, string> = {}, opts: https.RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1', port, path: reqPath, servername: 'gateway.test', rejectUnauthorized: false, agent: false,
        headers: { host: 'gateway.test', ...headers },
        ...(client === null ? {} : { key: client.key, cert: client.cert }),
        ...opts,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * One keep-alive HTTP/1.1 request on a raw TLS connection: the whole text the server sent, and
 * whether the server closed the connection after it (within 3 s).
 */
function rawExchange(port: number, client: TestCertificate | null): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'gateway.test', rejectUnauthorized: false, ...(client === null ? {} : { key: client.key, cert: client.cert }) });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    }, 3000);
    socket.on('secureConnect', () => socket.write('GET /raw HTTP/1.1\r\nHost: gateway.test\r\n\r\n'));
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closedByServer: true });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function h2session(port: number, client: TestCertificate | null): http2.ClientHttp2Session {
  return http2.connect(`https://127.0.0.1:${port}`, {
    servername: 'gateway.test', rejectUnauthorized: false,
    ...(client === null ? {} : { key: client.key, cert: client.cert }),
  });
}

function h2get(session: http2.ClientHttp2Session, reqPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': reqPath, ':authority': 'gateway.test', ...headers });
    let status = 0;
    let got: Record<string, string | string[] | undefined> = {};
    let body = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      got = h;
    });
    stream.on('data', (c: Buffer) => (body += c));
    stream.on('end', () => resolve({ status, body, headers: got }));
    stream.on('error', reject);
    stream.end();
  });
}

async function h2once(port: number, reqPath: string, client: TestCertificate | null, headers: Record<string, string> = {}): Promise<Answer> {
  const session = h2session(port, client);
  try {
    return await h2get(session, reqPath, headers);
  } finally {
    session.close();
  }
}

/**
 * One HTTPS/1.1 request with alice's certificate on a fresh connection, resuming `resume` when
 * given; every session (ticket) the server sends goes to `onSession` (TLS 1.3 tickets arrive
 * after the handshake, so it listens from the start).
 */
function resumableGet(port: number, reqPath: string, resume: Buffer | undefined, onSession: (s: Buffer) => void, maxVersion?: tls.SecureVersion): Promise<Answer & { reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: reqPath, servername: 'gateway.test', rejectUnauthorized: false, agent: false, key: alice.key, cert: alice.cert, maxVersion, session: resume } as https.RequestOptions,
      (res) => {
        const reused = (res.socket as tls.TLSSocket).isSessionReused();
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => setImmediate(() => resolve({ status: res.statusCode!, body, headers: res.headers, reused })));
      },
    );
    req.on('socket', (socket) => socket.on('session', onSession));
    req.on('error', reject);
    req.end();
  });
}

function sha256Hex(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

function caEntries(...cas: TestCertificate[]): string {
  return `ca_certificates:\n${cas.map((c) => `  - cert: |\n${yamlBlock(c.cert, 6)}\n`).join('')}`;
}

function config(upstreamPort: number, cas: string, wsPort = 0): string {
  const ws = wsPort === 0 ? '' : `  - name: ws-echo
    url: http://127.0.0.1:${wsPort}
    routes:
      - name: ws
        paths: [/ws]
`;
  return `_format_version: "3.0"
services:
${ws}  - name: echo
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: any
        paths: [/]
      - name: by-certificate
        paths: [/mtls]
        plugins:
          - name: mtls-auth
consumers:
  - username: alice
  - username: bob
${cas}`;
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('curl', args, (err, stdout, stderr) => resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr })),
  );
}

describe('mTLS optional (config ca_certificates), HTTP/2 on', () => {
  let upstream: EchoUpstream;
  let gw: Gateway;
  let port: number;
  let wsUpstream: WsServer;
  /** x-forwarded-client-cert of each upgrade the WebSocket upstream accepted. */
  const wsSeen: (string | undefined)[] = [];

  before(async () => {
    upstream = await startEchoUpstream();
    wsUpstream = new WebSocket.Server({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wsUpstream.once('listening', resolve));
    wsUpstream.on('connection', (s, req) => {
      wsSeen.push(req.headers['x-forwarded-client-cert']);
      s.on('message', (m: Buffer) => s.send(m));
    });
    port = await freePort();
    gw = await startGateway({
      config: config(upstream.port, caEntries(caA), wsUpstream.address().port),
      workers: 2,
      args: ['--listen-tls', `127.0.0.1:${port}`, '--tls-cert', server.certFile, '--tls-key', server.keyFile, '--tls-client-verify', 'optional'],
    });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
    wsUpstream?.close();
  });

  test('HTTP/1.1 with a verified certificate: the upstream gets its identity as x-forwarded-client-cert', async () => {
    const a = await h1(port, '/who', alice);
    assert.equal(a.status, 200, a.body);
    const xfcc = upstreamHeaders(a)['x-forwarded-client-cert'];
    assert.equal(xfcc, `Hash=${sha256Hex(alice.cert)};Subject="CN=alice,O=Example";URI=spiffe://test/alice;DNS=alice.test`);
    assert.equal(upstreamHeaders(a)['x-forwarded-proto'], 'https');
    assert.equal(upstreamHeaders(a)['x-real-ip'], '127.0.0.1');
  });

  test('HTTP/2 with a verified certificate: the same identity on every stream of the session', async () => {
    const session = h2session(port, alice);
    try {
      const answers = await Promise.all([h2get(session, '/a'), h2get(session, '/b')]);
      for (const a of answers) {
        assert.equal(a.status, 200, a.body);
        assert.equal(upstreamHeaders(a)['x-forwarded-client-cert'], `Hash=${sha256Hex(alice.cert)};Subject="CN=alice,O=Example";URI=spiffe://test/alice;DNS=alice.test`);
      }
      assert.equal((session.socket as tls.TLSSocket).alpnProtocol, 'h2');
    } finally {
      session.close();
    }
  });

  test('a plugin sees the verified subject: mtls-auth maps the CN to the consumer, over HTTP/1.1 and HTTP/2', async () => {
    const viaH1 = await h1(port, '/mtls', alice);
    assert.equal(viaH1.status, 200, viaH1.body);
    assert.equal(upstreamHeaders(viaH1)['x-consumer-username'], 'alice');
    const viaH2 = await h2once(port, '/mtls', alice);
    assert.equal(viaH2.status, 200, viaH2.body);
    assert.equal(upstreamHeaders(viaH2)['x-consumer-username'], 'alice');
    // Without a certificate the route refuses, as Kong's mtls-auth does.
    const none = await h1(port, '/mtls', null);
    assert.equal(none.status, 401);
    assert.deepEqual(JSON.parse(none.body), { message: 'No required TLS certificate was sent' });
  });

  test('optional: a client without a certificate is served, with no identity upstream', async () => {
    const a = await h1(port, '/anon', null);
    assert.equal(a.status, 200, a.body);
    assert.equal(upstreamHeaders(a)['x-forwarded-client-cert'], undefined);
    const b = await h2once(port, '/anon', null);
    assert.equal(b.status, 200, b.body);
    assert.equal(upstreamHeaders(b)['x-forwarded-client-cert'], undefined);
  });

  test('a certificate from another CA gets 400 and the reason, over HTTP/1.1 and HTTP/2', async () => {
    const a = await h1(port, '/x', mallory);
    assert.equal(a.status, 400);
    assert.deepEqual(JSON.parse(a.body), { message: 'The SSL certificate error: UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const raw = await rawExchange(port, mallory);
    assert.match(raw.text, /^HTTP\/1\.1 400 /);
    assert.equal(raw.closedByServer, true);
    const b = await h2once(port, '/x', mallory);
    assert.equal(b.status, 400);
    assert.match(JSON.parse(b.body).message, /^The SSL certificate error/);
    // Same name as alice (CN=alice), another issuer: mtls-auth never sees it.
    assert.equal((await h1(port, '/mtls', mallory)).status, 400);
  });

  test('a client-sent x-forwarded-client-cert never reaches the upstream (HTTPS with and without a certificate, plain HTTP)', async () => {
    const spoof = { 'x-forwarded-client-cert': 'Hash=00;Subject="CN=admin"', 'x_forwarded_client_cert': 'Hash=00' };
    const withCert = upstreamHeaders(await h1(port, '/s', alice, spoof));
    assert.equal(withCert['x-forwarded-client-cert'], `Hash=${sha256Hex(alice.cert)};Subject="CN=alice,O=Example";URI=spiffe://test/alice;DNS=alice.test`);
    assert.equal(withCert['x_forwarded_client_cert'], undefined);
    const without = upstreamHeaders(await h1(port, '/s', null, spoof));
    assert.equal(without['x-forwarded-client-cert'], undefined);
    const overH2 = upstreamHeaders(await h2once(port, '/s', null, { 'x-forwarded-client-cert': 'Hash=00' }));
    assert.equal(overH2['x-forwarded-client-cert'], undefined);
    const plain = await fetch(gw.url('/s'), { headers: spoof });
    const plainHeaders = ((await plain.json()) as { headers: Record<string, string> }).headers;
    assert.equal(plainHeaders['x-forwarded-client-cert'], undefined);
  });

  test('a reload swaps the trusted CA: new handshakes use it, an open connection keeps serving', async () => {
    const kept = h2session(port, alice);
    try {
      assert.equal((await h2get(kept, '/before')).status, 200);
      assert.equal((await h1(port, '/bob', bob)).status, 400);
      await gw.reload(config(upstream.port, caEntries(caB), wsUpstream.address().port));
      // New connections: bob's CA is trusted now, alice's no longer.
      assert.equal((await h1(port, '/bob', bob)).status, 200);
      const refused = await h1(port, '/alice', alice);
      assert.equal(refused.status, 400, refused.body);
      assert.equal((await h2once(port, '/alice', alice)).status, 400);
      // The session opened before the reload keeps its handshake and gets the new config.
      const after = await h2get(kept, '/after');
      assert.equal(after.status, 200);
      assert.equal(upstreamHeaders(after)['x-forwarded-client-cert'].startsWith(`Hash=${sha256Hex(alice.cert)};`), true);
    } finally {
      kept.close();
    }
    await gw.reload(config(upstream.port, caEntries(caA), wsUpstream.address().port));
    assert.equal((await h1(port, '/alice', alice)).status, 200);
  });

  test('wss with a client certificate: the upgrade carries the identity upstream, frames flow', async () => {
    const c = new WebSocket(`wss://127.0.0.1:${port}/ws`, [], { rejectUnauthorized: false, servername: 'gateway.test', key: alice.key, cert: alice.cert });
    await new Promise<void>((resolve, reject) => {
      c.once('open', () => resolve());
      c.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => c.once('message', (m: Buffer) => resolve(m.toString())));
    c.send('hello over mTLS');
    assert.equal(await echoed, 'hello over mTLS');
    c.close();
    assert.equal(wsSeen.at(-1), `Hash=${sha256Hex(alice.cert)};Subject="CN=alice,O=Example";URI=spiffe://test/alice;DNS=alice.test`);
  });

});

describe('mTLS required (--tls-client-ca FILE), HTTP/2 off', () => {
  let upstream: EchoUpstream;
  let gw: Gateway;
  let port: number;
  let caFile: string;

  before(async () => {
    upstream = await startEchoUpstream();
    port = await freePort();
    caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-mtls-')), 'clients.pem');
    fs.writeFileSync(caFile, caA.cert);
    gw = await startGateway({
      config: config(upstream.port, ''),
      workers: 1,
      args: [
        '--listen-tls', `127.0.0.1:${port}`, '--tls-cert', server.certFile, '--tls-key', server.keyFile,
        '--tls-client-verify', 'required', '--tls-client-ca', caFile, '--http2', 'off',
      ],
    });
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  test('required: no certificate gets NGINX\'s 400 "No required SSL certificate was sent" and a closed connection', async () => {
    const a = await h1(port, '/x', null);
    assert.equal(a.status, 400);
    assert.deepEqual(JSON.parse(a.body), { message: 'No required SSL certificate was sent' });
    const raw = await rawExchange(port, null);
    assert.match(raw.text, /^HTTP\/1\.1 400 /);
    assert.equal(raw.closedByServer, true);
    // A keep-alive request with a certificate is not closed after its answer.
    const kept = await rawExchange(port, alice);
    assert.match(kept.text, /^HTTP\/1\.1 200 /);
    assert.equal(kept.closedByServer, false);
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`TLS session resumption (${version} ticket) keeps the verified identity`, async () => {
      let session: Buffer | undefined;
      const get = (reqPath: string, resume: Buffer | undefined) => resumableGet(port, reqPath, resume, (s) => (session = s), version);
      const first = await get('/r1', undefined);
      assert.equal(first.status, 200);
      assert.ok(session !== undefined);
      const second = await get('/r2', session);
      assert.equal(second.status, 200, second.body);
      // One worker, so the ticket's keys are the ones that issued it.
      assert.equal(second.reused, true);
      assert.equal(upstreamHeaders(second)['x-forwarded-client-cert'].startsWith(`Hash=${sha256Hex(alice.cert)};`), true);
    });
  }

  test('curl with a client certificate is served; HTTP/2 is not offered with --http2 off', async () => {
    const out = await curl(['-sk', '--http2', '--cert', alice.certFile, '--key', alice.keyFile, '--resolve', `gateway.test:${port}:127.0.0.1`, '-w', '\\n%{http_version}', `https://gateway.test:${port}/curl`]);
    assert.equal(out.code, 0, out.stderr);
    const [body, version] = out.stdout.split('\n');
    assert.equal(version, '1.1');
    assert.equal(JSON.parse(body).headers['x-forwarded-client-cert'].startsWith(`Hash=${sha256Hex(alice.cert)};Subject="CN=alice,O=Example"`), true);
    const refused = await curl(['-sk', '--resolve', `gateway.test:${port}:127.0.0.1`, `https://gateway.test:${port}/curl`]);
    assert.match(refused.stdout, /No required SSL certificate was sent/);
  });

  test('SIGHUP re-reads --tls-client-ca: a renewed CA file goes live', async () => {
    assert.equal((await h1(port, '/bob', bob)).status, 400);
    fs.writeFileSync(caFile, caA.cert + caB.cert);
    await gw.reload(config(upstream.port, ''));
    assert.equal((await h1(port, '/bob', bob)).status, 200);
    assert.equal((await h1(port, '/alice', alice)).status, 200);
  });

  test('a reload whose CA file is broken is refused, naming the file and line; the old CAs keep serving', async () => {
    fs.writeFileSync(caFile, caA.cert + '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n');
    const from = gw.logs.length;
    await gw.reload(config(upstream.port, ''));
    const line = await gw.waitForLog(/config reload rejected/, 5000, from);
    assert.match(line, new RegExp(`${path.basename(caFile)}:\\d+: not valid base64`));
    assert.equal((await h1(port, '/bob', bob)).status, 200);
  });

  test('a session ticket issued before a CA swap does not resume past the new CAs', async () => {
    fs.writeFileSync(caFile, caA.cert + caB.cert);
    await gw.reload(config(upstream.port, ''));
    let session: Buffer | undefined;
    const get = (resume: Buffer | undefined) => resumableGet(port, '/t', resume, (s) => (session = s));
    assert.equal((await get(undefined)).status, 200);
    const ticket = session;
    assert.ok(ticket !== undefined);
    assert.equal((await get(ticket)).reused, true);
    fs.writeFileSync(caFile, caB.cert);
    await gw.reload(config(upstream.port, ''));
    const after = await get(ticket);
    assert.equal(after.reused, false);
    assert.equal(after.status, 400, after.body);
  });
});

test('--tls-client-verify without any CA certificate refuses to start, saying what to add', async () => {
  const cli = path.resolve(__dirname, '../../src/cli.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-mtls-'));
  const file = path.join(dir, 'kong.yml');
  fs.writeFileSync(file, '_format_version: "3.0"\n');
  const port = await freePort();
  const tlsPort = await freePort();
  const out = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [cli, 'start', '-c', file, '--listen', `127.0.0.1:${port}`, '--listen-tls', `127.0.0.1:${tlsPort}`, '--tls-cert', server.certFile, '--tls-key', server.keyFile, '--tls-client-verify', 'required', '--admin-listen', 'off'], { timeout: 10_000 }, (err, _o, stderr) =>
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? -1), stderr }),
    ),
  );
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(out.code, 1);
  assert.match(out.stderr, /--tls-client-verify required needs CA certificates/);
});
