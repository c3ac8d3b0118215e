import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upstreamPath } from '../../src/router/upstream-path';

test('strip_path removes the matched prefix before joining the service path', () => {
  assert.equal(upstreamPath('/service', '/route/req', '/route'.length, true), '/service/req');
  assert.equal(upstreamPath('/service', '/route', '/route'.length, true), '/service');
  assert.equal(upstreamPath(null, '/api/v1/users/42', '/api/v1/users'.length, true), '/42');
  assert.equal(upstreamPath('/catalog', '/api/v1/products/7', '/api/v1/products'.length, true), '/catalog/7');
});

test('strip_path adds the slash a raw-prefix match leaves out', () => {
  assert.equal(upstreamPath(null, '/routereq', '/route'.length, true), '/req');
  assert.equal(upstreamPath('/service', '/routereq', '/route'.length, true), '/service/req');
});

test('without strip_path the whole request path is appended', () => {
  assert.equal(upstreamPath('/service', '/routereq', '/route'.length, false), '/service/routereq');
  assert.equal(upstreamPath(null, '/route/x', '/route'.length, false), '/route/x');
  assert.equal(upstreamPath('/service', '/', 1, false), '/service');
});

test('a service path ending in / is not doubled', () => {
  assert.equal(upstreamPath('/service/', '/route/req', '/route'.length, true), '/service/req');
  // Kong v0: an empty postfix keeps the base's trailing slash only if the request had one.
  assert.equal(upstreamPath('/service/', '/route', '/route'.length, true), '/service');
  assert.equal(upstreamPath('/service/', '/route/', '/route'.length, true), '/service/');
  assert.equal(upstreamPath('/', '/route/req', '/route'.length, true), '/req');
  assert.equal(upstreamPath('/service/', '/x', 0, false), '/service/x');
});

test('a route without paths (matchedLength 0) keeps the request path', () => {
  assert.equal(upstreamPath('/s', '/a/b', 0, true), '/s/a/b');
  assert.equal(upstreamPath(null, '/', 0, true), '/');
});

test('a regex match strips exactly the matched text', () => {
  assert.equal(upstreamPath('/svc', '/users/42/orders', '/users/42'.length, true), '/svc/orders');
  // The whole request matched and it ended in a slash: Kong keeps that slash.
  assert.equal(upstreamPath('/svc', '/users/42/', '/users/42/'.length, true), '/svc/');
  assert.equal(upstreamPath('/svc', '/users/42', '/users/42'.length, true), '/svc');
});

test('regression: a request ending in a slash keeps it upstream (Kong v0, issue 13)', () => {
  assert.equal(upstreamPath('/service', '/route/', '/route'.length, true), '/service/');
  assert.equal(upstreamPath('/service', '/route/a/', '/route'.length, true), '/service/a/');
  assert.equal(upstreamPath(null, '/route/', '/route'.length, true), '/');
  assert.equal(upstreamPath('/', '/route/', '/route'.length, true), '/');
  // A route path that itself ends in a slash leaves an empty postfix; the request's slash stays.
  assert.equal(upstreamPath('/service', '/route/', '/route/'.length, true), '/service/');
  assert.equal(upstreamPath('/service/', '/route/', '/route/'.length, true), '/service/');
});

test('without strip_path a trailing slash is part of the appended path', () => {
  assert.equal(upstreamPath('/service', '/route/', '/route'.length, false), '/service/route/');
  assert.equal(upstreamPath('/service/', '/route/', '/route'.length, false), '/service/route/');
  assert.equal(upstreamPath('/service/', '/', 1, false), '/service/');
});

test("Kong's path_handling v0 table (service path /s)", () => {
  // [route path, request path, strip_path, upstream path], as Kong's router documents v0.
  const table: [string, string, boolean, string][] = [
    ['/fv0', '/fv0req', false, '/s/fv0req'],
    ['/fv0', '/fv0', false, '/s/fv0'],
    ['/tv0', '/tv0req', true, '/s/req'],
    ['/tv0', '/tv0', true, '/s'],
    ['/fv0/', '/fv0/req', false, '/s/fv0/req'],
    ['/fv0/', '/fv0/', false, '/s/fv0/'],
    ['/tv0/', '/tv0/req', true, '/s/req'],
    ['/tv0/', '/tv0/', true, '/s/'],
  ];
  for (const [routePath, request, strip, expected] of table) {
    assert.equal(upstreamPath('/s', request, routePath.length, strip), expected, `${routePath} ${request} strip=${strip}`);
  }
});
