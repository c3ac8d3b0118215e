/**
 * The request-head rules of src/proxy/request-validation.ts, one function at a time. The same rules
 * run end to end, through a real gateway and raw sockets, in test/conformance/http1/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addTransferEncoding,
  climbsAboveRoot,
  hasControlByte,
  hasEncodedNul,
  isForwardableValue,
  isToken,
  isValidHostHeader,
  needsValueCheck,
  parseRequestContentLength,
  TransferCoding,
} from '../../src/proxy/request-validation';

test('Transfer-Encoding: exactly one field saying chunked (any case), anything else unsupported', () => {
  assert.equal(addTransferEncoding(TransferCoding.None, 'chunked'), TransferCoding.Chunked);
  assert.equal(addTransferEncoding(TransferCoding.None, 'Chunked'), TransferCoding.Chunked);
  for (const v of ['xchunked', 'chunked, identity', 'gzip, chunked', 'identity', 'gzip', '"chunked"', '', 'chunked;q=1', '\x0bchunked']) {
    assert.equal(addTransferEncoding(TransferCoding.None, v), TransferCoding.Unsupported, JSON.stringify(v));
  }
  // A second field, even a second `chunked`, would apply chunked twice.
  assert.equal(addTransferEncoding(TransferCoding.Chunked, 'chunked'), TransferCoding.Unsupported);
});

test('Content-Length is 1*DIGIT and at most 15 digits', () => {
  assert.equal(parseRequestContentLength('0'), 0);
  assert.equal(parseRequestContentLength('005'), 5);
  assert.equal(parseRequestContentLength('1000000000'), 1e9);
  assert.equal(parseRequestContentLength('999999999999999'), 999999999999999);
  for (const v of ['', '+5', '-1', '0x5', '5 5', '5,5', '1e3', '1234567890123456', ' 5']) {
    assert.equal(parseRequestContentLength(v), -2, JSON.stringify(v));
  }
});

test('a method is a token', () => {
  for (const m of ['GET', 'POST', 'PROPFIND', 'M-SEARCH', 'get']) assert.equal(isToken(m), true, m);
  for (const m of ['', 'GET:', 'G/ET', 'GE T', 'G\x01T', 'GÉT', 'G"T']) assert.equal(isToken(m), false, JSON.stringify(m));
});

test('control bytes and DEL in the target; tabs and spaces too, printable ASCII and UTF-8 are fine', () => {
  for (const s of ['/a\x7fb', '/a\x00', 'b=\x01', '/\t', '/a b']) assert.equal(hasControlByte(s), true, JSON.stringify(s));
  for (const s of ['/a/b', 'x=1&y=%7F', '/café', '']) assert.equal(hasControlByte(s), false, JSON.stringify(s));
});

test('dot segments that climb above the root, plain or percent-encoded, in any mix', () => {
  for (const p of ['/..', '/../x', '/a/../../x', '/%2e%2e/x', '/%2E%2e/x', '/a/.%2E/%2e./x', '/./../x', '/a//../../x']) {
    assert.equal(climbsAboveRoot(p), true, p);
  }
  for (const p of ['/', '/a/../b', '/a/b/../../c', '/...', '/..a/b', '/a/..%2f..', '/.hidden', '/a/./b', '/%2e']) {
    assert.equal(climbsAboveRoot(p), false, p);
  }
});

test('%00 in the path', () => {
  assert.equal(hasEncodedNul('/a%00.txt'), true);
  assert.equal(hasEncodedNul('/a%000'), true);
  assert.equal(hasEncodedNul('/a%20b'), false);
});

test('Host is a reg-name, IPv4 or [IPv6] with an optional port 0-65535', () => {
  for (const h of ['example.test', 'Example.TEST:8080', '127.0.0.1', '127.0.0.1:1', '[::1]', '[::1]:8443', 'a-b_c~d.test', 'xn--caf-dma.test', '%65xample.test']) {
    assert.equal(isValidHostHeader(h), true, h);
  }
  for (const h of ['', 'user@example.test', 'user:pw@example.test', '<script>.test', 'example.test/evil', 'example.test:99999', 'example.test:8o', 'example.test:', 'example test', 'café.test', '[::1', '[]', '[zz]', ':80', 'a:1:2', '%zz.test', 'a\\b']) {
    assert.equal(isValidHostHeader(h), false, JSON.stringify(h));
  }
});

test('header values: plain ASCII needs no check; UTF-8 is forwardable; DEL and U+FFFD are not', () => {
  assert.equal(needsValueCheck('plain value, with: punctuation ~'), false);
  assert.equal(needsValueCheck('café'), true);
  assert.equal(needsValueCheck('a\x7fb'), true);
  assert.equal(isForwardableValue('café crème 🍵'), true);
  assert.equal(isForwardableValue('a\x7fb'), false);
  assert.equal(isForwardableValue('caf\ufffd'), false);
});
