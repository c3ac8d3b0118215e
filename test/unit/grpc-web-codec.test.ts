/**
 * The grpc-web codec (src/grpc/web-codec.ts): content types, frames, the trailer frame, splitting
 * a stream into frames, base64 that pads only where a frame ends, and -text request bodies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Base64Encoder, decodeBase64Body, frame, FrameBoundary, FrameReader, grpcWebMode, isNativeGrpc, parseTrailerBlock, splitFrames, trailerFrame,
} from '../../src/grpc/web-codec';

test('content types: Kong\'s seven grpc-web types, parameters and case ignored', () => {
  assert.deepEqual(grpcWebMode('application/grpc-web'), { contentType: 'application/grpc-web', text: false, framed: true, json: false });
  assert.deepEqual(grpcWebMode('Application/GRPC-Web-Text; charset=utf-8'), { contentType: 'application/grpc-web-text', text: true, framed: true, json: false });
  assert.equal(grpcWebMode('application/grpc-web+proto')?.text, false);
  assert.equal(grpcWebMode('application/grpc-web-text+proto')?.text, true);
  assert.deepEqual(grpcWebMode('application/grpc-web-text+json'), { contentType: 'application/grpc-web-text+json', text: true, framed: true, json: true });
  assert.deepEqual(grpcWebMode('application/json'), { contentType: 'application/json', text: false, framed: false, json: true });
  assert.equal(grpcWebMode('application/grpc'), null);
  assert.equal(grpcWebMode('text/plain'), null);
  assert.equal(grpcWebMode(undefined), null);
});

test('native gRPC is told apart from grpc-web', () => {
  assert.ok(isNativeGrpc('application/grpc'));
  assert.ok(isNativeGrpc('application/grpc+proto'));
  assert.ok(!isNativeGrpc('application/grpc-web'));
  assert.ok(!isNativeGrpc('application/grpcx'));
  assert.ok(!isNativeGrpc(undefined));
});

test('a frame is the flag, a big-endian length and the payload', () => {
  assert.deepEqual([...frame(0, Buffer.from('abc'))], [0, 0, 0, 0, 3, 0x61, 0x62, 0x63]);
  const big = frame(0x80, Buffer.alloc(70_000, 1));
  assert.equal(big[0], 0x80);
  assert.equal(big.readUInt32BE(1), 70_000);
  assert.equal(big.length, 70_005);
});

test('the trailer frame: flag 0x80 and name:value CRLF lines, names lower-cased, repeats kept', () => {
  const f = trailerFrame({ 'grpc-status': '5', 'Grpc-Message': 'not%20found', 'x-many': ['a', 'b'], skipped: undefined });
  assert.equal(f[0], 0x80);
  const block = f.subarray(5).toString('latin1');
  assert.equal(f.readUInt32BE(1), block.length);
  assert.equal(block, 'grpc-status:5\r\ngrpc-message:not%20found\r\nx-many:a\r\nx-many:b\r\n');
  assert.deepEqual(parseTrailerBlock(f.subarray(5)), { 'grpc-status': '5', 'grpc-message': 'not%20found', 'x-many': 'b' });
});

test('FrameReader: frames split across chunks are held until whole', () => {
  const stream = Buffer.concat([frame(0, Buffer.from('one')), frame(0, Buffer.alloc(0)), frame(0x80, Buffer.from('grpc-status:0\r\n'))]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const reader = new FrameReader();
    const got = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
    assert.deepEqual(got.map((f) => [f.flag, f.payload.toString()]), [[0, 'one'], [0, ''], [0x80, 'grpc-status:0\r\n']], `cut at ${cut}`);
    assert.equal(reader.pending, 0);
  }
  const reader = new FrameReader();
  assert.deepEqual(reader.push(stream.subarray(0, 6)), []);
  assert.equal(reader.pending, 6);
});

test('splitFrames: null when the body ends inside a frame', () => {
  const body = frame(0, Buffer.from('hello'));
  assert.equal(splitFrames(body)?.length, 1);
  assert.equal(splitFrames(body.subarray(0, 7)), null);
  assert.equal(splitFrames(body.subarray(0, 3)), null);
  assert.deepEqual(splitFrames(Buffer.alloc(0)), []);
});

test('FrameBoundary: true exactly when the bytes so far end on a frame boundary', () => {
  const a = frame(0, Buffer.from('abcd'));
  const b = frame(0, Buffer.alloc(0));
  const fb = new FrameBoundary();
  assert.equal(fb.advance(a.subarray(0, 2)), false);
  assert.equal(fb.advance(a.subarray(2, 7)), false);
  assert.equal(fb.advance(a.subarray(7)), true);
  assert.equal(fb.advance(b), true, 'an empty message');
  assert.equal(fb.advance(Buffer.concat([a, a.subarray(0, 5)])), false, 'ends after the next prefix');
  assert.equal(fb.advance(a.subarray(5)), true);
  const long = frame(0, Buffer.alloc(300, 7));
  assert.equal(fb.advance(long.subarray(0, 100)), false);
  assert.equal(fb.advance(long.subarray(100)), true, 'a length over one byte');
});

test('Base64Encoder: whole 3-byte groups while streaming, padding only on flush; the pieces read back as one stream', () => {
  const enc = new Base64Encoder();
  const pieces = [enc.encode(Buffer.from('abcd'), false), enc.encode(Buffer.from('e'), false), enc.encode(Buffer.from('fg'), true), enc.encode(Buffer.from('h'), true)];
  assert.deepEqual(pieces, ['YWJj', '', 'ZGVmZw==', 'aA==']);
  const groups = pieces.join('').match(/.{4}/g)!;
  assert.equal(Buffer.concat(groups.map((g) => Buffer.from(g, 'base64'))).toString(), 'abcdefgh');
});

test('decodeBase64Body: one or several padded segments, whitespace ignored, junk refused', () => {
  assert.equal(decodeBase64Body(Buffer.from('aGVsbG8='))?.toString(), 'hello');
  assert.equal(decodeBase64Body(Buffer.from('aGk=aGVsbG8='))?.toString(), 'hihello', 'padding mid-body');
  assert.equal(decodeBase64Body(Buffer.from('aGVs\r\nbG8='))?.toString(), 'hello');
  assert.equal(decodeBase64Body(Buffer.from('aGVsbG8'))?.toString(), 'hello', 'unpadded tail');
  assert.equal(decodeBase64Body(Buffer.from(''))?.length, 0);
  assert.equal(decodeBase64Body(Buffer.from('!!!!')), null);
  assert.equal(decodeBase64Body(Buffer.from('aGVsbG8=x')), null, 'a lone character after padding');
  assert.equal(decodeBase64Body(Buffer.from('a===')), null, 'too much padding');
  assert.equal(decodeBase64Body(Buffer.from('aGVsb')), null, 'a length no base64 has');
});
