/**
 * The upstream-side WebSocket framing: masked frames out, unmasked frames in, fragments
 * reassembled, limits and protocol errors answered with close codes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeClose, encodeFrame, FrameDecoder, Opcode, type FrameSink } from '../../src/websocket/frames';

/** A server frame (unmasked) as an upstream would send it. */
function serverFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, len]) : len < 65536 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 126, len >> 8, len & 0xff]) : (() => {
    const h = Buffer.alloc(10);
    h[0] = (fin ? 0x80 : 0) | opcode;
    h[1] = 127;
    h.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    h.writeUInt32BE(len >>> 0, 6);
    return h;
  })();
  return Buffer.concat([head, payload]);
}

function recorder(): FrameSink & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    onMessage: (p, bin) => events.push(`${bin ? 'binary' : 'text'}:${bin ? p.length : p.toString()}`),
    onPing: (p) => events.push(`ping:${p}`),
    onPong: (p) => events.push(`pong:${p}`),
    onClose: (code, reason) => events.push(`close:${code}:${reason}`),
  };
}

/** Unmask a client frame the way a server would, to check what we send. */
function unmask(frame: Buffer): { fin: boolean; opcode: number; payload: Buffer } {
  assert.ok(frame[1] & 0x80, 'client frames are masked');
  let len = frame[1] & 0x7f;
  let off = 2;
  if (len === 126) { len = frame.readUInt16BE(2); off = 4; } else if (len === 127) { len = frame.readUInt32BE(6); off = 10; }
  const mask = frame.subarray(off, off + 4);
  const payload = Buffer.from(frame.subarray(off + 4, off + 4 + len));
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  return { fin: (frame[0] & 0x80) !== 0, opcode: frame[0] & 0x0f, payload };
}

describe('encodeFrame', () => {
  for (const size of [0, 125, 126, 65535, 65536, 300_000]) {
    test(`${size} bytes round-trip through the mask`, () => {
      const payload = Buffer.alloc(size, 0xab);
      const out = unmask(encodeFrame(Opcode.Binary, payload));
      assert.equal(out.opcode, Opcode.Binary);
      assert.ok(out.payload.equals(payload));
    });
  }
  test('close frames carry the code and the reason; 1005 has no payload', () => {
    const c = unmask(encodeClose(4001, Buffer.from('bye')));
    assert.equal(c.payload.readUInt16BE(0), 4001);
    assert.equal(c.payload.subarray(2).toString(), 'bye');
    assert.equal(unmask(encodeClose(1005, Buffer.alloc(0))).payload.length, 0);
  });
});

describe('FrameDecoder', () => {
  test('messages, control frames and a close, split at every byte', () => {
    const stream = Buffer.concat([
      serverFrame(Opcode.Text, Buffer.from('hello')),
      serverFrame(Opcode.Binary, Buffer.alloc(70_000, 1)),
      serverFrame(Opcode.Ping, Buffer.from('p')),
      serverFrame(Opcode.Text, Buffer.from('frag'), false),
      serverFrame(Opcode.Pong, Buffer.from('q')), // control frames may come between fragments
      serverFrame(Opcode.Continuation, Buffer.from('ment')),
      serverFrame(Opcode.Close, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('done')])),
    ]);
    const sink = recorder();
    const d = new FrameDecoder(1 << 20);
    for (let i = 0; i < stream.length; i += 7) assert.equal(d.push(stream.subarray(i, i + 7), sink), 0);
    assert.deepEqual(sink.events, ['text:hello', 'binary:70000', 'ping:p', 'pong:q', 'text:fragment', 'close:1000:done']);
  });

  test('a 300 KB frame (64-bit length) arriving in 1000-byte reads, then a small one', () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
    const stream = Buffer.concat([serverFrame(Opcode.Binary, big), serverFrame(Opcode.Text, Buffer.from('next'))]);
    const got: Buffer[] = [];
    const sink = { ...recorder(), onMessage: (p: Buffer) => void got.push(p) };
    const d = new FrameDecoder(1 << 20);
    for (let i = 0; i < stream.length; i += 1000) assert.equal(d.push(stream.subarray(i, i + 1000), sink), 0);
    assert.equal(got.length, 2);
    assert.ok(got[0].equals(big));
    assert.equal(got[1].toString(), 'next');
  });

  const protocolErrors: [string, Buffer][] = [
    ['a masked frame from the server', Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61])],
    ['reserved bits', Buffer.from([0xc1, 0x00])],
    ['a fragmented control frame', serverFrame(Opcode.Ping, Buffer.from('x'), false)],
    ['a continuation with no message started', serverFrame(Opcode.Continuation, Buffer.from('x'))],
    ['a new message inside a fragmented one', Buffer.concat([serverFrame(Opcode.Text, Buffer.from('a'), false), serverFrame(Opcode.Text, Buffer.from('b'))])],
    ['an unknown opcode', serverFrame(0x3, Buffer.alloc(0))],
  ];
  for (const [name, bytes] of protocolErrors) {
    test(`${name} is a protocol error (1002)`, () => assert.equal(new FrameDecoder(1024).push(bytes, recorder()), 1002));
  }

  test('the size limit counts all fragments of a message (1009)', () => {
    const d = new FrameDecoder(10);
    const sink = recorder();
    assert.equal(d.push(serverFrame(Opcode.Text, Buffer.from('123456'), false), sink), 0);
    assert.equal(d.push(serverFrame(Opcode.Continuation, Buffer.from('78901')), sink), 1009);
    assert.deepEqual(sink.events, []);
    assert.equal(new FrameDecoder(10).push(serverFrame(Opcode.Binary, Buffer.alloc(11)), recorder()), 1009);
  });
});
