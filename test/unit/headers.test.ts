import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyResponseHeader,
  connectionTokens,
  isDroppedRequestHeader,
  lowerName,
  lowerTokenName,
  parseContentLength,
  ResponseHeaderKind,
  statusLine,
} from '../../src/proxy/headers';

const b = (s: string) => Buffer.from(s, 'latin1');

test('response hop-by-hop headers are dropped whatever their case', () => {
  for (const name of ['Keep-Alive', 'TRANSFER-ENCODING', 'te', 'Trailer', 'Upgrade', 'Proxy-Connection', 'Date']) {
    assert.equal(classifyResponseHeader(b(name)), ResponseHeaderKind.Drop, name);
  }
  assert.equal(classifyResponseHeader(b('Content-Length')), ResponseHeaderKind.ContentLength);
  assert.equal(classifyResponseHeader(b('CONNECTION')), ResponseHeaderKind.Connection);
});

test('ordinary response headers are forwarded, including near-misses of hop-by-hop names', () => {
  for (const name of ['content-type', 'x-upgrade', 'tex', 'dates', 'set-cookie', 'trailers', 'keep-alivex', 'connectiom']) {
    assert.equal(classifyResponseHeader(b(name)), ResponseHeaderKind.Forward, name);
  }
});

test('request headers rebuilt or hop-by-hop are dropped', () => {
  for (const name of ['connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'host', 'x-forwarded-for', 'via']) {
    assert.ok(isDroppedRequestHeader(name), name);
  }
  assert.ok(!isDroppedRequestHeader('authorization'));
  assert.ok(!isDroppedRequestHeader('cookie'));
});

test('the `_` spellings of framing and rebuilt headers are dropped; other `_` names pass', () => {
  for (const name of ['transfer_encoding', 'content_length', 'x_forwarded_for', 'x_real_ip', 'x_consumer_id', 'proxy_connection']) {
    assert.ok(isDroppedRequestHeader(name), name);
  }
  assert.ok(!isDroppedRequestHeader('x_custom_header'));
  assert.ok(!isDroppedRequestHeader('content-length'), 'the real Content-Length is forwarded');
});

test('Connection tokens name extra hop-by-hop headers; close/keep-alive alone name none', () => {
  assert.equal(connectionTokens(''), null);
  assert.equal(connectionTokens('close'), null);
  assert.equal(connectionTokens('keep-alive'), null);
  assert.deepEqual(connectionTokens('close, x-foo ,x-bar'), ['x-foo', 'x-bar']);
});

test('Content-Length parsing is strict', () => {
  assert.equal(parseContentLength(b('0')), 0);
  assert.equal(parseContentLength(b('1234')), 1234);
  assert.equal(parseContentLength(b('')), -1);
  assert.equal(parseContentLength(b('12a')), -1);
  assert.equal(parseContentLength(b('-1')), -1);
  assert.equal(parseContentLength(b(' 1')), -1);
});

test('status lines carry the standard reason phrase', () => {
  assert.equal(statusLine(200), '200 OK');
  assert.equal(statusLine(504), '504 Gateway Timeout');
  assert.equal(statusLine(599), '599 Unknown');
});

test('plugin header names: lower-cased, the same answer from the cache, non-tokens refused', () => {
  for (let round = 0; round < 2; round++) {
    // The second round is answered from the name cache.
    assert.equal(lowerTokenName('X-Consumer-ID'), 'x-consumer-id');
    assert.equal(lowerTokenName('x-consumer-id'), 'x-consumer-id');
    assert.equal(lowerTokenName('RateLimit-Remaining'), 'ratelimit-remaining');
    assert.equal(lowerTokenName('bad name'), null);
    assert.equal(lowerTokenName('x-bad:'), null);
    assert.equal(lowerTokenName(''), null);
    assert.equal(lowerTokenName('caf\u00e9'), null);
    assert.equal(lowerName('X-RateLimit-Limit-Minute'), 'x-ratelimit-limit-minute');
    assert.equal(lowerName('x-already'), 'x-already');
  }
  // A name made at run time (not the same string object) finds the same entry.
  assert.equal(lowerTokenName(['X', 'Consumer', 'ID'].join('-')), 'x-consumer-id');
});

