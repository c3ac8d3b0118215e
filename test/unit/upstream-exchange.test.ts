/**
 * The upstream request head (src/upstream/exchange.ts): serialized once, framing chosen from the
 * body, header injection refused, replayability as the reuse-race rule needs it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { UpstreamExchange, type ExchangeHandler } from '../../src/upstream/exchange';

const handler: ExchangeHandler = {
  onResponseHead: () => undefined,
  onResponseData: () => true,
  onResponseEnd: () => undefined,
  onExchangeFailed: () => undefined,
};

function head(ex: UpstreamExchange): string {
  return ex.head!;
}

describe('upstream request head', () => {
  test('request line, headers in order, one empty line', () => {
    const ex = new UpstreamExchange(handler);
    assert.equal(ex.prepare('GET', '/a?b=c', ['host', 'up', 'x-one', '1', 'x-two', 'two'], null, -1, 1000, 2000), true);
    assert.equal(head(ex), 'GET /a?b=c HTTP/1.1\r\nhost: up\r\nx-one: 1\r\nx-two: two\r\n\r\n');
    assert.equal(ex.readTimeoutMs, 1000);
    assert.equal(ex.writeTimeoutMs, 2000);
  });

  test('a body of unknown length goes chunked; a known one keeps its Content-Length', () => {
    const ex = new UpstreamExchange(handler);
    ex.prepare('POST', '/', ['host', 'up'], Readable.from([]), -1, 1, 1);
    assert.match(head(ex), /\r\ntransfer-encoding: chunked\r\n\r\n$/);
    ex.prepare('POST', '/', ['host', 'up', 'content-length', '5'], Readable.from([]), 5, 1, 1);
    assert.doesNotMatch(head(ex), /transfer-encoding/);
    assert.equal(head(ex).match(/content-length/g)?.length, 1);
  });

  test('a POST without a body says Content-Length: 0; a GET says nothing', () => {
    const ex = new UpstreamExchange(handler);
    ex.prepare('POST', '/', ['host', 'up'], null, -1, 1, 1);
    assert.match(head(ex), /\r\ncontent-length: 0\r\n\r\n$/);
    ex.prepare('GET', '/', ['host', 'up'], null, -1, 1, 1);
    assert.doesNotMatch(head(ex), /content-length/);
  });

  test('Expect: 100-continue is kept only when a body follows', () => {
    const ex = new UpstreamExchange(handler);
    ex.prepare('PUT', '/', ['host', 'up', 'expect', '100-continue', 'content-length', '3'], Readable.from([]), 3, 1, 1);
    assert.match(head(ex), /\r\nexpect: 100-continue\r\n/);
    assert.equal(ex.expectContinue, true);
    ex.prepare('GET', '/', ['host', 'up', 'expect', '100-continue'], null, -1, 1, 1);
    assert.doesNotMatch(head(ex), /expect/);
    assert.equal(ex.expectContinue, false);
  });

  test('CR, LF or NUL in a value, a bad name or a space in the target: refused, not injected', () => {
    const ex = new UpstreamExchange(handler);
    assert.equal(ex.prepare('GET', '/', ['x-a', 'b\r\nx-injected: 1'], null, -1, 1, 1), false);
    assert.equal(ex.prepare('GET', '/', ['x-a', 'b\0'], null, -1, 1, 1), false);
    assert.equal(ex.prepare('GET', '/', ['x a', 'b'], null, -1, 1, 1), false);
    assert.equal(ex.prepare('GET', '/a b', ['x-a', 'b'], null, -1, 1, 1), false);
    assert.equal(ex.prepare('GET', '/', ['x-a', 'tab\tand obs-text \u00e9'], null, -1, 1, 1), true);
  });

  test('characters above U+00FF go out as their UTF-8 bytes; latin1 ones byte for byte', () => {
    const ex = new UpstreamExchange(handler);
    ex.prepare('GET', '/', ['x-user', 'Jürgen 名前', 'x-latin', '\u00e9'], null, -1, 1, 1);
    const bytes = Buffer.from(ex.head!, 'latin1');
    assert.ok(bytes.includes(Buffer.from('x-user: Jürgen 名前\r\n', 'utf8')));
    assert.ok(bytes.includes(Buffer.from([0x78, 0x2d, 0x6c, 0x61, 0x74, 0x69, 0x6e, 0x3a, 0x20, 0xe9, 0x0d, 0x0a])));
  });

  test('replayable: idempotent without a body, or a body not read yet', () => {
    const ex = new UpstreamExchange(handler);
    ex.prepare('GET', '/', ['host', 'up'], null, -1, 1, 1);
    ex.beginAttempt();
    ex.headWritten = true;
    assert.equal(ex.replayable, true);
    ex.prepare('POST', '/', ['host', 'up'], null, -1, 1, 1);
    ex.beginAttempt();
    assert.equal(ex.replayable, true, 'nothing written yet');
    ex.headWritten = true;
    assert.equal(ex.replayable, false);
    ex.prepare('PUT', '/', ['host', 'up'], Readable.from([]), -1, 1, 1);
    ex.beginAttempt();
    ex.headWritten = true;
    assert.equal(ex.replayable, true, 'head out (Expect) but no body byte read');
    ex.bodyRead = true;
    assert.equal(ex.replayable, false);
  });
});
