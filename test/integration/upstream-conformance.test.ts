/**
 * Upstream conformance of the gateway's own HTTP/1.1 engine (src/upstream/), on both parser
 * kernels (`--upstream-engine js` and `native`): a raw `net`
 * upstream scripts each response byte by byte, and a keep-alive client checks what comes out.
 *
 * After every case, a second request on the same client connection must get its own, correct
 * answer: nothing from a broken response leaks into the next one. When a case must cut the
 * client connection (the head went out, then the upstream failed), the test checks that it was
 * cut and that the next connection works.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Client } from 'undici';
import { startGateway, testEngines, type Gateway } from '../helpers/gateway';
import type { UpstreamEngineKind } from '../../src/settings';

// ------------------------------------------------------------------ the scripted upstream

interface UpstreamRequest {
  readonly conn: number;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  body: string;
}

interface Script {
  /** Answer as soon as the head is in, before reading the body. */
  readonly early?: boolean;
  run(socket: net.Socket, req: UpstreamRequest, conn: ConnState): void | Promise<void>;
}

interface ConnState {
  readonly id: number;
  /** Requests this connection has carried. */
  served: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

/** Write `raw` in pieces, waiting between them so the proxy reads them separately. */
async function writePieces(socket: net.Socket, pieces: readonly string[], gapMs = 3): Promise<void> {
  for (let i = 0; i < pieces.length; i++) {
    if (socket.destroyed) return;
    socket.write(Buffer.from(pieces[i], 'latin1'));
    if (i + 1 < pieces.length) await sleep(gapMs);
  }
}

const scripts = new Map<string, Script>();
const requests: UpstreamRequest[] = [];
let connections = 0;
let upstreamServer: net.Server;
let upstreamPort = 0;

function serveConnection(socket: net.Socket): void {
  const state: ConnState = { id: ++connections, served: 0 };
  let buf = Buffer.alloc(0);
  let current: { req: UpstreamRequest; need: number; script: Script | undefined; answered: boolean } | null = null;
  socket.on('error', () => undefined);
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (current === null) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        buf = buf.subarray(end + 4);
        const [method, path] = lines[0].split(' ');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const at = l.indexOf(':');
          headers[l.slice(0, at).toLowerCase()] = l.slice(at + 1).trim();
        }
        const req: UpstreamRequest = { conn: state.id, method, path, headers, body: '' };
        requests.push(req);
        state.served++;
        const name = path.split('/')[2] ?? '';
        current = { req, need: Number(headers['content-length'] ?? 0), script: scripts.get(name), answered: false };
        if (current.script?.early === true) {
          current.answered = true;
          void current.script.run(socket, req, state);
        }
        if (headers['expect'] === '100-continue' && current.script?.early !== true) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      }
      const take = Math.min(current.need, buf.length);
      current.req.body += buf.subarray(0, take).toString('latin1');
      current.need -= take;
      buf = buf.subarray(take);
      if (current.need > 0) return;
      const done = current;
      current = null;
      if (!done.answered) {
        if (done.script === undefined) socket.write(ok(`answer to ${done.req.path}`));
        else void done.script.run(socket, done.req, state);
      }
    }
  });
}

// ------------------------------------------------------------------ gateway and client

let gw: Gateway;
const READ_TIMEOUT_MS = 600;

before(async () => {
  upstreamServer = net.createServer(serveConnection);
  await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', r));
  upstreamPort = (upstreamServer.address() as net.AddressInfo).port;
});

after(() => {
  upstreamServer?.close();
});

/** One gateway per engine; the cases below run against each in turn. */
function gatewayFor(engine: UpstreamEngineKind): void {
  before(async () => {
    // Cases count what the upstream saw by path: each engine starts from nothing.
    requests.length = 0;
    scripts.clear();
    gw = await startGateway({
      config: `_format_version: "3.0"
services:
  - name: raw
    url: http://127.0.0.1:${upstreamPort}
    retries: 0
    read_timeout: ${READ_TIMEOUT_MS}
    routes:
      - name: raw
        paths: [/]
`,
      workers: 1,
      engine,
    });
  });
  after(async () => {
    await gw?.stop();
  });
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body could not be read to its end (the proxy cut the connection). */
  truncated: boolean;
}

/** One keep-alive client connection to the gateway, counting its (re)connects. */
class ClientConnection {
  readonly client: Client;
  connects = 0;
  constructor() {
    this.client = new Client(gw.url(''), { pipelining: 1, keepAliveTimeout: 30_000 });
    this.client.on('connect', () => this.connects++);
  }
  async send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await this.client.request({ method: method as 'GET', path, body, headers });
    let text = '';
    let truncated = false;
    try {
      text = await res.body.text();
    } catch {
      truncated = true;
    }
    return { status: res.statusCode, body: text, headers: res.headers, truncated };
  }
  close(): Promise<void> {
    return this.client.close();
  }
}

/** A raw client socket, for what undici will not send (Expect) or keeps no connection for (HEAD). */
class RawClient {
  received = '';
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => (this.received += d.toString('latin1')));
  }
  static async open(): Promise<RawClient> {
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    return new RawClient(sock);
  }
  /** Send `text` (when given) and wait until what came back since matches `until`. */
  async exchange(text: string | null, until: RegExp | ((received: string) => boolean), keep = false): Promise<string> {
    if (!keep) this.received = '';
    if (text !== null) this.sock.write(text);
    const deadline = Date.now() + 10_000;
    const done = typeof until === 'function' ? until : (r: string) => until.test(r);
    while (!done(this.received)) {
      assert.ok(Date.now() < deadline, `no ${until} in ${JSON.stringify(this.received)}`);
      assert.ok(!this.sock.destroyed, 'the gateway closed the connection');
      await sleep(5);
    }
    return this.received;
  }
  close(): void {
    this.sock.destroy();
  }
}

/** The case's request, then a second request on the same client connection. */
async function withFollowUp(run: (c: ClientConnection) => Promise<void>, opts: { clientCut?: boolean } = {}): Promise<void> {
  const c = new ClientConnection();
  try {
    await run(c);
    const tag = Math.random().toString(36).slice(2);
    const next = await c.send('GET', `/plain/${tag}`);
    assert.equal(next.status, 200);
    assert.equal(next.body, `answer to /plain/${tag}`);
    assert.equal(c.connects, opts.clientCut === true ? 2 : 1, opts.clientCut === true ? 'the client connection should have been cut' : 'the client connection should have been kept');
  } finally {
    await c.close();
  }
}

function connectionOf(path: string): number {
  const r = requests.filter((x) => x.path === path);
  assert.ok(r.length > 0, `upstream never saw ${path}`);
  return r[r.length - 1].conn;
}

// Both engines unless FLOODGATE_TEST_UPSTREAM_ENGINE names one (make test-integration runs the
// whole suite once per engine, so each run covers its own).
for (const engine of testEngines()) {
  describe(`[${engine} engine]`, () => {
    gatewayFor(engine);
    // ------------------------------------------------------------------ cases

    describe('framing, split anywhere', () => {
      const sized = ok('hello, split world', 'X-Case: sized\r\n');
      const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Case: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n';

      test('a Content-Length response split in two at every position', async () => {
        scripts.set('split-sized', { run: (s, req) => writePieces(s, [sized.slice(0, Number(req.path.split('/')[3])), sized.slice(Number(req.path.split('/')[3]))]) });
        await withFollowUp(async (c) => {
          for (let at = 1; at < sized.length; at++) {
            const a = await c.send('GET', `/case/split-sized/${at}`);
            assert.equal(a.status, 200, `split at ${at}`);
            assert.equal(a.body, 'hello, split world', `split at ${at}`);
            assert.equal(a.headers['x-case'], 'sized');
          }
        });
      });

      test('a chunked response split in two at every position', async () => {
        scripts.set('split-chunked', { run: (s, req) => writePieces(s, [chunked.slice(0, Number(req.path.split('/')[3])), chunked.slice(Number(req.path.split('/')[3]))]) });
        await withFollowUp(async (c) => {
          for (let at = 1; at < chunked.length; at++) {
            const a = await c.send('GET', `/case/split-chunked/${at}`);
            assert.equal(a.status, 200, `split at ${at}`);
            assert.equal(a.body, 'hello, world', `split at ${at}`);
            assert.equal(a.headers['x-case'], 'chunked');
          }
        });
      });

      test('one byte at a time, both framings', async () => {
        scripts.set('bytewise-sized', { run: (s) => writePieces(s, [...sized], 1) });
        scripts.set('bytewise-chunked', { run: (s) => writePieces(s, [...chunked], 1) });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/bytewise-sized');
          assert.equal(a.body, 'hello, split world');
          const b = await c.send('GET', '/case/bytewise-chunked');
          assert.equal(b.body, 'hello, world');
        });
      });

      test('a body delimited by the close of the upstream connection', async () => {
        scripts.set('close-delimited', {
          run: async (s) => {
            await writePieces(s, ['HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil ', 'the close']);
            s.end();
          },
        });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/close-delimited');
          assert.equal(a.status, 200);
          assert.equal(a.body, 'until the close');
        });
      });

      test('1xx interim responses are dropped and the final one forwarded', async () => {
        scripts.set('interim', { run: (s) => writePieces(s, ['HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n', ok('final')]) });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/interim');
          assert.equal(a.status, 200);
          assert.equal(a.body, 'final');
        });
      });

      test('headers named by Connection are dropped wherever they stand; the kept ones arrive as sent', async () => {
        // X-Before comes before the Connection header that names it: the one-block write of the
        // head (downstream.ts) starts over when it meets such a Connection value.
        scripts.set('connection-named', {
          run: (s) =>
            void s.write('HTTP/1.1 200 OK\r\nX-Before: hop\r\nX-Kept-One: Mixed Case  \r\nConnection: x-before, X-After\r\nX-After: hop\r\nx-kept-two:two\r\nContent-Length: 2\r\n\r\nok'),
        });
        scripts.set('connection-plain', { run: (s) => void s.write('HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: Keep-Alive\r\nX-B: 2\r\nContent-Length: 2\r\n\r\nok') });
        const raw = await RawClient.open();
        try {
          const named = await raw.exchange('GET /case/connection-named HTTP/1.1\r\nHost: gw\r\n\r\n', /\r\n\r\nok$/);
          assert.doesNotMatch(named, /x-before|x-after|: hop/i);
          // Names keep their case, values lose only the surrounding whitespace, order is kept.
          assert.match(named, /\r\nX-Kept-One: Mixed Case\r\nx-kept-two: two\r\n/);
          const plain = await raw.exchange('GET /case/connection-plain HTTP/1.1\r\nHost: gw\r\n\r\n', /\r\n\r\nok$/);
          assert.match(plain, /\r\nX-A: 1\r\nX-B: 2\r\n/);
          assert.doesNotMatch(plain, /keep-alive/i);
        } finally {
          raw.close();
        }
      });

      test('HEAD, 204 and 304 carry no body; a 204 with a stray body closes the upstream connection', async () => {
        scripts.set('head', { run: (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n') });
        scripts.set('no-content', { run: (s) => void s.write('HTTP/1.1 204 No Content\r\n\r\n') });
        scripts.set('stray-204', { run: (s) => void s.write('HTTP/1.1 204 No Content\r\n\r\nSMUGGLED') });
        // undici closes its own connection after a HEAD, so HEAD goes over a raw socket. uWS v20
        // closes the client connection after a HEAD answer with a Content-Length (as before this
        // engine), so the follow-up GET uses a new one; the upstream connection is what is checked.
        const raw = await RawClient.open();
        const h = await raw.exchange('HEAD /case/head HTTP/1.1\r\nHost: gw\r\n\r\n', /\r\n\r\n$/);
        assert.match(h, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(h, /\r\ncontent-length: 11\r\n/i);
        raw.close();
        const raw2 = await RawClient.open();
        const afterHead = await raw2.exchange('GET /plain/after-head HTTP/1.1\r\nHost: gw\r\n\r\n', /answer to \/plain\/after-head$/);
        assert.match(afterHead, /^HTTP\/1\.1 200 OK\r\n/);
        assert.equal(connectionOf('/plain/after-head'), connectionOf('/case/head'), 'a clean HEAD response leaves the upstream connection reusable');
        raw2.close();
        await withFollowUp(async (c) => {
          const n = await c.send('GET', '/case/no-content');
          assert.equal(n.status, 204);
          const s = await c.send('GET', '/case/stray-204');
          assert.equal(s.status, 204);
          assert.equal(s.body, '');
          const after204 = await c.send('GET', '/plain/after-204');
          assert.equal(after204.body, 'answer to /plain/after-204');
          assert.notEqual(connectionOf('/plain/after-204'), connectionOf('/case/stray-204'), 'the connection with stray bytes was reused');
        });
      });
    });

    describe('malformed responses: 502 with the reason, and the upstream connection is dropped', () => {
      const cases: Array<[string, string, RegExp]> = [
        ['cl-te', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', /both Content-Length and Transfer-Encoding/],
        ['two-cl', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', /conflicting Content-Length/],
        ['bad-chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nhello\r\n0\r\n\r\n', /invalid chunk size/],
        ['huge-chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n', /chunk size overflow/],
        ['bare-cr', 'HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n', /bare CR/],
        ['nul', 'HTTP/1.1 200 OK\r\nX-A: b\0c\r\nContent-Length: 0\r\n\r\n', /NUL/],
        ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: b\r\n  folded\r\nContent-Length: 0\r\n\r\n', /folding/],
        ['no-colon', 'HTTP/1.1 200 OK\r\nX-A b\r\nContent-Length: 0\r\n\r\n', /without a colon/],
        ['huge-head', 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(40 * 1024) + '\r\nContent-Length: 0\r\n\r\n', /head too large/],
        ['not-http', 'SSH-2.0-OpenSSH_9.2p1\r\n\r\n', /malformed status line/],
      ];
      for (const [name, raw, reason] of cases) {
        test(name, async () => {
          scripts.set(name, { run: (s) => void s.write(Buffer.from(raw, 'latin1')) });
          await withFollowUp(async (c) => {
            const a = await c.send('GET', `/case/${name}`);
            assert.equal(a.status, 502);
            const message = JSON.parse(a.body).message as string;
            assert.match(message, /^An invalid response was received from the upstream server: malformed response/);
            assert.match(message, reason);
            const next = await c.send('GET', `/plain/after-${name}`);
            assert.equal(next.status, 200);
            assert.notEqual(connectionOf(`/plain/after-${name}`), connectionOf(`/case/${name}`), 'a connection that sent garbage was reused');
          });
        });
      }

      test('a malformed chunk after the head was sent cuts the client connection', async () => {
        scripts.set('late-bad-chunk', { run: (s) => writePieces(s, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'zz\r\n']) });
        await withFollowUp(
          async (c) => {
            const a = await c.send('GET', '/case/late-bad-chunk');
            assert.equal(a.status, 200);
            assert.equal(a.truncated, true);
          },
          { clientCut: true },
        );
      });
    });

    describe('bodies against their Content-Length', () => {
      test('a body longer than its Content-Length: the extra bytes reach nobody', async () => {
        scripts.set('longer', { run: (s) => void s.write(ok('exact') + 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED') });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/longer');
          assert.equal(a.status, 200);
          assert.equal(a.body, 'exact');
          const next = await c.send('GET', '/plain/after-longer');
          assert.equal(next.body, 'answer to /plain/after-longer');
          assert.notEqual(connectionOf('/plain/after-longer'), connectionOf('/case/longer'));
        });
      });

      test('extra bytes arriving after the response, on an idle connection, close it', async () => {
        scripts.set('late-extra', {
          run: async (s) => {
            s.write(ok('first'));
            await sleep(50);
            s.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED');
          },
        });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/late-extra');
          assert.equal(a.body, 'first');
          await sleep(150);
          const next = await c.send('GET', '/plain/after-late-extra');
          assert.equal(next.body, 'answer to /plain/after-late-extra');
          assert.notEqual(connectionOf('/plain/after-late-extra'), connectionOf('/case/late-extra'));
        });
      });

      test('a body shorter than its Content-Length, then close: the client sees a truncated response', async () => {
        scripts.set('shorter', {
          run: async (s) => {
            s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this');
            await sleep(20);
            s.end();
          },
        });
        await withFollowUp(
          async (c) => {
            const a = await c.send('GET', '/case/shorter');
            assert.equal(a.status, 200);
            assert.equal(a.truncated, true);
          },
          { clientCut: true },
        );
      });
    });

    describe('connection failures', () => {
      test('an early close before any response byte: 502 connection reset', async () => {
        scripts.set('early-close', { run: (s) => void s.destroy() });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/early-close');
          assert.equal(a.status, 502);
          assert.match(JSON.parse(a.body).message, /connection reset before the response/);
        });
      });

      test('a stale keep-alive connection closed as the request arrives: replayed once on a new connection', async () => {
        // The first request leaves a warm connection; the upstream then drops the next request on it
        // without answering, as a server closing an idle connection at that moment would.
        scripts.set('stale', {
          run: (s, req, conn) => {
            if (conn.served > 1) return void s.destroy();
            s.write(ok(`fresh ${req.path}`));
          },
        });
        await withFollowUp(async (c) => {
          const first = await c.send('GET', '/case/stale/1');
          assert.equal(first.body, 'fresh /case/stale/1');
          const second = await c.send('GET', '/case/stale/2');
          assert.equal(second.status, 200, 'the GET was not replayed after the keep-alive race');
          assert.equal(second.body, 'fresh /case/stale/2');
          const seen = requests.filter((r) => r.path === '/case/stale/2');
          assert.equal(seen.length, 2, 'sent once on the stale connection, once on a new one');
          assert.notEqual(seen[0].conn, seen[1].conn);
        });
      });

      test('a POST whose body went out on a stale connection is not replayed', async () => {
        scripts.set('stale-post', {
          run: (s, req, conn) => {
            if (conn.served > 1) return void s.destroy();
            s.write(ok(`fresh ${req.path}`));
          },
        });
        await withFollowUp(async (c) => {
          await c.send('GET', '/case/stale-post/warm');
          const a = await c.send('POST', '/case/stale-post/write', 'payload');
          assert.equal(a.status, 502);
          assert.equal(requests.filter((r) => r.path === '/case/stale-post/write').length, 1);
        });
      });
    });

    describe('slow upstreams', () => {
      test('slow but steady bytes within read_timeout pass', async () => {
        const raw = ok('slow but fine');
        scripts.set('slow-steady', { run: (s) => writePieces(s, raw.match(/[\s\S]{1,8}/g)!, 60) });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/slow-steady');
          assert.equal(a.status, 200);
          assert.equal(a.body, 'slow but fine');
        });
      });

      test('no response within read_timeout: 504', async () => {
        scripts.set('silent', { run: () => undefined });
        await withFollowUp(async (c) => {
          const a = await c.send('GET', '/case/silent');
          assert.equal(a.status, 504);
          assert.match(JSON.parse(a.body).message, /read_timeout/);
        });
      });

      test('a body that stalls past read_timeout after the head: the client connection is cut', async () => {
        scripts.set('stall-body', { run: (s) => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nstart') });
        await withFollowUp(
          async (c) => {
            const a = await c.send('GET', '/case/stall-body');
            assert.equal(a.status, 200);
            assert.equal(a.truncated, true);
          },
          { clientCut: true },
        );
      });
    });

    describe('slow clients', () => {
      test('a client slower than the upstream gets every byte of a sized body, and the end', async () => {
        const size = 8 * 1024 * 1024;
        scripts.set('big', { run: (s) => void s.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`), Buffer.alloc(size, 'b')])) });
        const raw = await RawClient.open();
        // Do not read for a while: uWS backs up, the engine must hold the rest (and the end).
        raw.sock.pause();
        raw.sock.write('GET /case/big HTTP/1.1\r\nHost: gw\r\n\r\n');
        await sleep(400);
        raw.sock.resume();
        const complete = (r: string) => r.indexOf('\r\n\r\n') > 0 && r.length - (r.indexOf('\r\n\r\n') + 4) >= size;
        const got = await raw.exchange(null, complete, true);
        assert.match(got.slice(0, 100), /^HTTP\/1\.1 200 OK\r\n/);
        const body = got.slice(got.indexOf('\r\n\r\n') + 4);
        assert.equal(body.length, size);
        assert.ok(/^b+$/.test(body.slice(0, 1000)) && /^b+$/.test(body.slice(-1000)));
        const next = await raw.exchange('GET /plain/after-big HTTP/1.1\r\nHost: gw\r\n\r\n', /answer to \/plain\/after-big$/);
        assert.match(next, /^HTTP\/1\.1 200 OK\r\n/);
        // The engine read the response to its end after the client caught up: its connection went
        // back to the pool instead of hanging paused.
        assert.equal(connectionOf('/plain/after-big'), connectionOf('/case/big'));
        raw.close();
      });
    });

    describe('request bodies', () => {
      test('a response sent before the request body is read', async () => {
        scripts.set('early-answer', {
          early: true,
          run: async (s) => {
            s.write('HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!');
            await sleep(20);
            s.destroy();
          },
        });
        await withFollowUp(async (c) => {
          const a = await c.send('POST', '/case/early-answer', 'x'.repeat(256 * 1024));
          assert.equal(a.status, 413);
          assert.equal(a.body, 'too big!');
        });
      });

      test('a body reaches the upstream with the head (one write for a small request)', async () => {
        scripts.set('echo-body', { run: (s, req) => void s.write(ok(`got ${req.body}`)) });
        await withFollowUp(async (c) => {
          const a = await c.send('POST', '/case/echo-body', 'small body');
          assert.equal(a.body, 'got small body');
        });
      });

      test('Expect: 100-continue is passed on and the body follows the upstream\'s 100', async () => {
        scripts.set('expect', { run: (s, req) => void s.write(ok(`expect=${req.headers['expect']} body=${req.body}`)) });
        // undici refuses to send Expect, so this client is a raw socket (and its second request goes
        // on the same socket).
        const raw = await RawClient.open();
        const interim = await raw.exchange('PUT /case/expect HTTP/1.1\r\nHost: gw\r\nContent-Length: 14\r\nExpect: 100-continue\r\n\r\n', /100 Continue\r\n\r\n/);
        assert.match(interim, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
        const final = await raw.exchange('after continue', /body=after continue$/, true);
        assert.match(final, /HTTP\/1\.1 200 OK[\s\S]*expect=100-continue body=after continue$/);
        const next = await raw.exchange('GET /plain/after-expect HTTP/1.1\r\nHost: gw\r\n\r\n', /answer to \/plain\/after-expect$/);
        assert.match(next, /^HTTP\/1\.1 200 OK\r\n/);
        raw.close();
      });

      test('Expect: 100-continue answered with a final status instead: the body is never sent upstream', async () => {
        scripts.set('expect-refused', {
          early: true,
          run: (s) => void s.write('HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\n\r\nnope'),
        });
        const raw = await RawClient.open();
        await raw.exchange('PUT /case/expect-refused HTTP/1.1\r\nHost: gw\r\nContent-Length: 14\r\nExpect: 100-continue\r\n\r\n', /100 Continue\r\n\r\n/);
        const final = await raw.exchange('never uploaded', /\r\n\r\nnope$/, true);
        assert.match(final, /HTTP\/1\.1 417 Expectation Failed\r\n/);
        const next = await raw.exchange('GET /plain/after-417 HTTP/1.1\r\nHost: gw\r\n\r\n', /answer to \/plain\/after-417$/);
        assert.match(next, /^HTTP\/1\.1 200 OK\r\n/);
        raw.close();
        const seen = requests.find((r) => r.path === '/case/expect-refused')!;
        assert.equal(seen.body, '', 'the body went upstream after a final answer');
        assert.notEqual(connectionOf('/plain/after-417'), seen.conn, 'a connection whose request body was never sent was reused');
      });
    });
  });
}
