import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapePath, normalizePath } from '../../src/router/normalize';

test('a path with nothing to normalize comes back unchanged', () => {
  for (const p of ['/', '', '/a/b/c', '/a-b_c~d/e!f', '/caf\u00e9']) assert.equal(normalizePath(p), p);
});

test('reserved characters stay encoded, with upper-case hex', () => {
  assert.equal(normalizePath('/a%2fb'), '/a%2Fb');
  assert.equal(normalizePath('/a%2Fb'), '/a%2Fb');
  assert.equal(normalizePath('/q%3fx%23y%3B%40'), '/q%3Fx%23y%3B%40');
  // `%25` stays encoded so that escaping later cannot create a new escape (`%2541` -> `%41`).
  assert.equal(normalizePath('/a%2541'), '/a%2541');
});

test('unreserved and other characters are decoded', () => {
  assert.equal(normalizePath('/%41%62c'), '/Abc');
  assert.equal(normalizePath('/%7e%2D%5f'), '/~-_');
  assert.equal(normalizePath('/a%20b'), '/a b');
});

test('percent-encoded UTF-8 is decoded', () => {
  assert.equal(normalizePath('/caf%C3%A9'), '/caf\u00e9');
  assert.equal(normalizePath('/%e2%82%ac'), '/\u20ac');
  assert.equal(normalizePath('/%F0%9F%98%80/x'), '/\u{1F600}/x');
});

test('a malformed percent escape gives null', () => {
  for (const p of ['/a%', '/a%2', '/a%zz', '/a%2g/b', '/%%41']) assert.equal(normalizePath(p), null, p);
});

test('percent-encoded bytes that are not valid UTF-8 give null', () => {
  const bad = [
    '/%C3', // truncated
    '/%C3%28', // bad continuation
    '/%C3\u00a9', // continuation not encoded
    '/%FF',
    '/%80', // lone continuation
    '/%C0%AF', // overlong '/'
    '/%E0%80%AF', // overlong
    '/%ED%A0%80', // UTF-16 surrogate
    '/%F4%90%80%80', // above U+10FFFF
  ];
  for (const p of bad) assert.equal(normalizePath(p), null, p);
});

test('dot segments are removed (RFC 3986 5.2.4, as Kong)', () => {
  const cases: [string, string][] = [
    ['/a/b/../c/./d', '/a/c/d'],
    ['/../a', '/a'],
    ['/a/..', '/'],
    ['/a/.', '/a/'],
    ['/a/b/..', '/a/'],
    ['/a/./b/', '/a/b/'],
    ['/.hidden/x.json', '/.hidden/x.json'],
    ['/a/..b/c', '/a/..b/c'],
    ['/%2e%2e/a', '/a'],
    ['/a/%2E./b', '/b'],
    ['/a/.%2e', '/'],
    ['/a%2F..%2Fb', '/a%2F..%2Fb'],
  ];
  for (const [input, want] of cases) assert.equal(normalizePath(input), want, input);
});

test('runs of slashes are merged', () => {
  assert.equal(normalizePath('//a///b//'), '/a/b/');
  assert.equal(normalizePath('/a//../b'), '/b');
});

test('normalizePath never throws', () => {
  const inputs = ['%', '%%', '%\ud800', '\ud800', '/..%2', '/%f0%9f', '.', '..', './a', '../a', '/.', '/..'];
  for (const p of inputs) assert.doesNotThrow(() => normalizePath(p), p);
  assert.equal(normalizePath('../a'), 'a');
});

test('escapePath leaves safe paths unchanged', () => {
  for (const p of ['/', '/a/b-c_d.e~f', "/!$&'()*+,;=:@", '/a%2Fb%25']) assert.equal(escapePath(p), p);
});

test('escapePath encodes everything outside pchar, as UTF-8 with upper-case hex', () => {
  assert.equal(escapePath('/a b'), '/a%20b');
  assert.equal(escapePath('/caf\u00e9'), '/caf%C3%A9');
  assert.equal(escapePath('/\u20ac'), '/%E2%82%AC');
  assert.equal(escapePath('/\u{1F600}'), '/%F0%9F%98%80');
  assert.equal(escapePath('/a"b<c>[d]{e}|^`\\'), '/a%22b%3Cc%3E%5Bd%5D%7Be%7D%7C%5E%60%5C');
  assert.equal(escapePath('/50%'), '/50%25', 'a % that starts no triplet is encoded');
  assert.equal(escapePath('/?#'), '/%3F%23');
  assert.equal(escapePath('/x\ud800y'), '/x%EF%BF%BDy', 'a lone surrogate becomes U+FFFD');
});

test('escape then normalize round-trips a normalized path', () => {
  // A raw `?`, `#`, `[` or `]` is not in this list: escaping encodes it and normalizing keeps a
  // reserved escape, by design (and a raw `?`/`#` never reaches the path: the query is split off first).
  const raw = ['/caf%C3%A9/%E2%82%AC', '/a%20b/c%2Fd', '/%F0%9F%98%80%3F', '/a%2541/%5B%5D', '/x/../y z', '/\u00e9t\u00e9'];
  for (const r of raw) {
    const n = normalizePath(r);
    assert.notEqual(n, null, r);
    const escaped = escapePath(n!);
    assert.match(escaped, /^[A-Za-z0-9\-._~!$&'()*+,;=:/@%]*$/, r);
    assert.equal(normalizePath(escaped), n, r);
  }
});
