/**
 * The known HTTP/2 attacks against the TLS port (src/h2/downstream.ts), each sent as raw frames
 * over a real TLS connection (ALPN h2) by an attacking client written here: CONTINUATION flood,
 * HPACK bomb, PING flood, SETTINGS flood, too many concurrent streams. Each must end (or refuse)
 * the attacker's work with bounded effort, and a well-behaved node:http2 client must be served
 * right after by the same worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { makeCertificate } from '../helpers/certificates';
import { startGateway, type Gateway } from '../helpers/gateway';
import { freePort } from '../helpers/ports';

const cert = makeCertificate('attacks.h2.test', 'ec');
let upstream: EchoUpstream;
let gw: Gateway;
let tlsPort: number;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const HEADERS = 1, SETTINGS = 4, PING = 6, GOAWAY = 7, CONTINUATION = 9, RST_STREAM = 3;
const END_STREAM = 1, END_HEADERS = 4, ACK = 1;

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(prefixBits: number, first: number, value: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value & 127) | 128);
    value >>>= 7;
  }
  out.push(value);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([hpackInt(7, 0, b.length), b]);
}

/** :method GET, :scheme https, :path /, :authority, all without touching the dynamic table. */
function basicHeaderBlock(path = '/'): Buffer {
  const p = path === '/' ? Buffer.from([0x84]) : Buffer.concat([hpackInt(4, 0, 4), hpackString(path)]);
  return Buffer.concat([Buffer.from([0x82, 0x87]), p, hpackInt(4, 0, 1), hpackString('attacks.h2.test')]);
}

interface Attack {
  socket: tls.TLSSocket;
  /** Frame types the server sent, in order. */
  readonly received: number[];
  closed: boolean;
  bytesIn: number;
}

function attackerConnect(): Promise<Attack> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'attacks.h2.test', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      assert.equal(socket.alpnProtocol, 'h2');
      socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
      resolve(attack);
    });
    const attack: Attack = { socket, received: [], closed: false, bytesIn: 0 };
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      attack.bytesIn += d.length;
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        attack.received.push(buf[3]);
        buf = buf.subarray(9 + len);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => (attack.closed = true));
    socket.once('error', reject);
  });
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

/** Write as fast as the socket takes it, stopping once the server has hung up. */
async function flood(a: Attack, make: (i: number) => Buffer, count: number): Promise<number> {
  let sent = 0;
  for (let i = 0; i < count && !a.closed; i++) {
    sent++;
    if (!a.socket.write(make(i))) await new Promise((r) => setTimeout(r, 1));
  }
  return sent;
}

async function wellBehavedClientServed(): Promise<void> {
  const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false, servername: 'attacks.h2.test' });
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/ok' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
    });
    assert.equal(status, 200);
  } finally {
    session.close();
  }
}

describe('HTTP/2 attacks are bounded', () => {
  before(async () => {
    upstream = await startEchoUpstream();
    tlsPort = await freePort();
    gw = await startGateway({
      config: `_format_version: "3.0"\nservices:\n  - name: echo\n    url: http://127.0.0.1:${upstream.port}\n    routes:\n      - name: any\n        paths: [/]\n`,
      workers: 1,
      args: ['--listen-tls', `127.0.0.1:${tlsPort}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
    });
  });
  after(async () => {
    await gw?.stop();
    upstream?.server.close();
  });

  test('CONTINUATION flood: a header block that never ends is cut off', async () => {
    const a = await attackerConnect();
    a.socket.write(frame(HEADERS, 0, 1, basicHeaderBlock()));
    // each CONTINUATION adds a 1 KiB header; without END_HEADERS the server must buffer or stop
    const chunk = Buffer.concat([Buffer.from([0x00]), hpackString('x-fill'), hpackString('y'.repeat(1000))]);
    const sent = await flood(a, () => frame(CONTINUATION, 0, 1, chunk), 100_000);
    assert.ok(await until(() => a.closed || a.received.includes(GOAWAY), 5000), 'the server ended the connection');
    assert.ok(sent < 100_000, `the server stopped reading after ${sent} CONTINUATION frames`);
    a.socket.destroy();
    await wellBehavedClientServed();
  });

  test('HPACK bomb: one 4 KiB table entry referenced thousands of times is refused', async () => {
    const a = await attackerConnect();
    const entry = Buffer.concat([Buffer.from([0x40]), hpackString('x-bomb'), hpackString('b'.repeat(4000))]);
    const refs = Buffer.alloc(4000, 0xbe); // indexed field, dynamic index 62 (the entry above)
    const block = Buffer.concat([basicHeaderBlock('/bomb'), entry, refs]);
    // split into frames of at most 16 KiB (the default SETTINGS_MAX_FRAME_SIZE)
    const parts: Buffer[] = [];
    for (let i = 0; i < block.length; i += 16_000) parts.push(block.subarray(i, i + 16_000));
    a.socket.write(frame(HEADERS, END_STREAM | (parts.length === 1 ? END_HEADERS : 0), 1, parts[0]));
    for (let i = 1; i < parts.length; i++) a.socket.write(frame(CONTINUATION, i === parts.length - 1 ? END_HEADERS : 0, 1, parts[i]));
    const refused = await until(() => a.closed || a.received.includes(GOAWAY) || a.received.includes(RST_STREAM) || a.received.includes(HEADERS), 5000);
    assert.ok(refused, 'the server answered the bomb');
    // a sanity check that the path is seen when a request does get through
    await wellBehavedClientServed();
    assert.ok(upstream.seen.some((r) => r.includes('/ok')), 'the upstream records requests');
    // 16 MB of decoded headers would have to reach the upstream: it never sees the request
    assert.ok(!upstream.seen.some((r) => r.includes('/bomb')), 'the bomb did not reach the upstream');
    a.socket.destroy();
    await wellBehavedClientServed();
  });

  test('PING flood without reading the acknowledgements ends the session', async () => {
    const a = await attackerConnect();
    a.socket.pause(); // never read the PING ACKs
    const ping = frame(PING, 0, 0, Buffer.alloc(8, 1));
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    let batches = 0;
    for (; batches < 500 && !a.closed; batches++) {
      if (!a.socket.write(batch)) await new Promise((r) => setTimeout(r, 5));
    }
    a.socket.resume();
    assert.ok(await until(() => a.closed || a.received.includes(GOAWAY), 5000), `the server ended the session (after ${batches}k PINGs)`);
    a.socket.destroy();
    await wellBehavedClientServed();
  });

  test('SETTINGS flood without reading the acknowledgements ends the session', async () => {
    const a = await attackerConnect();
    a.socket.pause();
    const settings = frame(SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100])); // MAX_CONCURRENT_STREAMS=100
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => settings));
    let batches = 0;
    for (; batches < 500 && !a.closed; batches++) {
      if (!a.socket.write(batch)) await new Promise((r) => setTimeout(r, 5));
    }
    a.socket.resume();
    assert.ok(await until(() => a.closed || a.received.includes(GOAWAY), 5000), `the server ended the session (after ${batches}k SETTINGS)`);
    a.socket.destroy();
    await wellBehavedClientServed();
  });

  test('more concurrent streams than SETTINGS_MAX_CONCURRENT_STREAMS are refused', async () => {
    const a = await attackerConnect();
    // 300 open streams (HEADERS without END_STREAM), the limit being 128
    const frames: Buffer[] = [];
    for (let i = 0; i < 300; i++) frames.push(frame(HEADERS, END_HEADERS, 1 + 2 * i, basicHeaderBlock()));
    a.socket.write(Buffer.concat(frames));
    assert.ok(await until(() => a.received.includes(RST_STREAM) || a.received.includes(GOAWAY) || a.closed, 5000), 'streams past the limit were refused');
    a.socket.destroy();
    void ACK;
    await wellBehavedClientServed();
  });
});
