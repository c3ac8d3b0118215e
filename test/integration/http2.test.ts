/**
 * HTTP/2 on the TLS port (src/h2/): the real gateway, certificates made by the test, node's
 * http2 client and `curl --http2`. ALPN picks the protocol per connection on one port; h2 streams
 * run the same routes and plugins; many streams on one connection; large bodies both ways with
 * flow control; a client's reset cancels the upstream request; a rapid-reset flood and other
 * floods end the attacker's session while other clients are served; GOAWAY on drain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { makeCertificate } from '../helpers/certificates';
import { startGateway, type Gateway } from '../helpers/gateway';
import { freePort } from '../helpers/ports';

const cert = makeCertificate('h2.test', 'ec');
let upstream: EchoUpstream;
let gw: Gateway;
let tlsPort: number;

function config(): string {
  return `_format_version: "3.0"
services:
  - name: echo
    url: http://127.0.0.1:${upstream.port}
    routes:
      - name: any
        paths: [/]
      - name: keyed
        paths: [/keyed]
        plugins:
          - name: key-auth
consumers:
  - username: alice
    keyauth_credentials:
      - key: secret-alice
`;
}

function connect(): http2.ClientHttp2Session {
  return http2.connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false, servername: 'h2.test' });
}

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    let head: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => {
      status = Number(h[':status']);
      head = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, headers: head, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sk', '--max-time', '10', ...args], (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

describe('HTTP/2 downstream', () => {
  before(async () => {
    upstream = await startEchoUpstream();
    tlsPort = await freePort();
    gw = await startGateway({
      config: config(),
      // two workers: each runs its own front on the shared port (native SO_REUSEPORT socket)
      workers: 2,
      args: ['--listen-tls', `127.0.0.1:${tlsPort}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
  });
  after(async () => {
    await gw?.stop();
    upstream?.server.close();
  });

  test('ALPN: h2 and http/1.1 on the same port, both proxied with the client address kept', async () => {
    const session = connect();
    try {
      const a = await request(session, { ':path': '/hello?x=1', ':method': 'GET' });
      assert.equal(a.status, 200);
      const echo = JSON.parse(a.body.toString());
      assert.equal(echo.url, '/hello?x=1');
      assert.equal(echo.headers['x-forwarded-proto'], 'https');
      assert.equal(echo.headers['x-real-ip'], '127.0.0.1');
      assert.equal(echo.headers['x-forwarded-port'], String(tlsPort));
      assert.equal((session.socket as tls.TLSSocket).alpnProtocol, 'h2');
      // split cookie fields (node's client sends an array as separate fields) arrive as one
      const c = await request(session, { ':path': '/cookies', cookie: ['a=1', 'b=2'] });
      assert.equal(JSON.parse(c.body.toString()).headers.cookie, 'a=1; b=2');
    } finally {
      session.close();
    }
    // An HTTP/1.1 client on the same port goes through the front's pipe to uWS.
    const h1 = await new Promise<{ status: number; body: string; alpn: string | false | null }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: tlsPort, path: '/one', rejectUnauthorized: false, agent: false, ALPNProtocols: ['http/1.1'] } as https.RequestOptions, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, alpn: (res.socket as tls.TLSSocket).alpnProtocol }));
      });
      req.on('error', reject);
    });
    assert.equal(h1.status, 200);
    assert.equal(h1.alpn, false, 'uWS negotiates no ALPN: HTTP/1.1');
    const echo = JSON.parse(h1.body);
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    // the loopback address of the pipe is mapped back to the client's
    assert.equal(echo.headers['x-real-ip'], '127.0.0.1');
  });

  test('curl --http2 and curl --http1.1 on the same port', async () => {
    const v2 = await curl(['--http2', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://127.0.0.1:${tlsPort}/c`]);
    assert.equal(v2, '2 200');
    const v1 = await curl(['--http1.1', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://127.0.0.1:${tlsPort}/c`]);
    assert.equal(v1, '1.1 200');
    // many concurrent streams over one curl connection
    const urls = Array.from({ length: 20 }, (_, i) => `https://127.0.0.1:${tlsPort}/p${i}`);
    const out = await curl(['--http2', '--parallel', '--parallel-max', '20', '-w', '%{http_version} %{http_code} %{num_connects}\n', '-o', '/dev/null', ...urls.flatMap((u) => [u, '-o', '/dev/null'])]);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 20);
    for (const l of lines) assert.match(l, /^2 200 /);
    const connects = lines.reduce((n, l) => n + Number(l.split(' ')[2]), 0);
    assert.ok(connects <= 2, `curl multiplexed the streams (connections made: ${connects})`);
  });

  test('plugins run for h2 streams: key-auth', async () => {
    const session = connect();
    try {
      const denied = await request(session, { ':path': '/keyed' });
      assert.equal(denied.status, 401);
      const ok = await request(session, { ':path': '/keyed', apikey: 'secret-alice' });
      assert.equal(ok.status, 200);
      assert.equal(JSON.parse(ok.body.toString()).headers['x-consumer-username'], 'alice');
    } finally {
      session.close();
    }
  });

  test('200 concurrent streams on one connection', async () => {
    const session = connect();
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => request(session, { ':path': `/s/${i}` })));
      for (let i = 0; i < answers.length; i++) {
        assert.equal(answers[i].status, 200);
        assert.equal(JSON.parse(answers[i].body.toString()).url, `/s/${i}`);
      }
    } finally {
      session.close();
    }
  });

  test('a large body both ways with flow control', async () => {
    const session = connect();
    try {
      const up = Buffer.alloc(8 * 1024 * 1024, 7);
      const sent = await request(session, { ':path': '/upload', ':method': 'POST' }, up);
      assert.equal(sent.status, 200);
      assert.equal(JSON.parse(sent.body.toString()).bodyBytes, up.length);
      const down = await request(session, { ':path': '/download', 'x-echo-body-bytes': String(16 * 1024 * 1024) });
      assert.equal(down.status, 200);
      assert.equal(down.body.length, 16 * 1024 * 1024);
      assert.equal(down.headers['content-length'], String(16 * 1024 * 1024));
    } finally {
      session.close();
    }
  });

  test('a stream reset by the client cancels its upstream request', async () => {
    const before = upstream.aborted;
    const session = connect();
    try {
      const req = session.request({ ':path': '/slow', 'x-echo-delay-ms': '2000' });
      req.on('error', () => {});
      await new Promise((r) => setTimeout(r, 300));
      req.close(http2.constants.NGHTTP2_CANCEL);
      const until = Date.now() + 3000;
      while (upstream.aborted === before && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.ok(upstream.aborted > before, 'the upstream saw the request cancelled');
    } finally {
      session.close();
    }
  });

  test('a rapid-reset flood ends the attacker session; other clients are served', async () => {
    const attacker = connect();
    attacker.on('error', () => {});
    await new Promise((r) => attacker.once('connect', r));
    let goaway = false;
    attacker.on('goaway', () => (goaway = true));
    const closed = new Promise((r) => attacker.once('close', r));
    // open and immediately cancel streams as fast as the client can
    for (let i = 0; i < 20_000 && !attacker.destroyed && !goaway; i++) {
      try {
        const s = attacker.request({ ':path': '/flood' });
        s.on('error', () => {});
        s.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        break;
      }
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
    assert.ok(goaway || attacker.destroyed, 'the flooding session was ended');
    const other = connect();
    try {
      const a = await request(other, { ':path': '/after-flood' });
      assert.equal(a.status, 200);
    } finally {
      other.close();
      attacker.destroy();
    }
  });

  test('headers over the limit are refused; the connection serves other streams', async () => {
    const session = connect();
    session.on('error', () => {});
    try {
      const big = 'x'.repeat(40 * 1024);
      const err = await new Promise<unknown>((resolve) => {
        const req = session.request({ ':path': '/big', 'x-big': big });
        req.on('response', (h) => resolve(h[':status']));
        req.on('error', resolve);
        req.on('close', () => resolve(req.rstCode));
        req.end();
      });
      assert.ok(err !== 200, `a 40 KiB header is not proxied (got ${String(err)})`);
    } finally {
      session.destroy();
    }
    const other = connect();
    try {
      assert.equal((await request(other, { ':path': '/fine' })).status, 200);
    } finally {
      other.close();
    }
  });
});

describe('HTTP/2 drain', () => {
  test('SIGTERM sends GOAWAY; a stream in flight finishes; the gateway exits 0', async () => {
    const echo = await startEchoUpstream();
    const port = await freePort();
    const gateway = await startGateway({
      config: `_format_version: "3.0"\nservices:\n  - name: echo\n    url: http://127.0.0.1:${echo.port}\n    routes:\n      - name: any\n        paths: [/]\n`,
      workers: 1,
      args: ['--listen-tls', `127.0.0.1:${port}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'h2.test' });
    session.on('error', () => {});
    try {
      const goaway = new Promise<boolean>((resolve) => {
        session.once('goaway', () => resolve(true));
        setTimeout(() => resolve(false), 5000);
      });
      const inFlight = request(session, { ':path': '/slow', 'x-echo-delay-ms': '800' });
      await new Promise((r) => setTimeout(r, 200));
      const exited = gateway.stop('SIGTERM');
      assert.equal(await goaway, true, 'the session got GOAWAY');
      const answer = await inFlight;
      assert.equal(answer.status, 200, 'the stream in flight finished');
      assert.equal(await exited, 0);
    } finally {
      session.destroy();
      echo.server.close();
    }
  });
});
