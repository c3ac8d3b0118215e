/**
 * The request-header byte table (proxy/headers.ts) is a pre-filter for the Set of dropped names:
 * it must agree with the Set on every name, dropped or not, of every length and first byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROPPED_REQUEST_HEADERS, isDroppedRequestHeader } from '../../src/proxy/headers';

test('every dropped name is dropped, and nothing else is', () => {
  for (const name of DROPPED_REQUEST_HEADERS) assert.equal(isDroppedRequestHeader(name), true, name);
  const kept = ['accept', 'user-agent', 'cookie', 'authorization', 'content-type', 'content-length', 'x-forwarded-foo', 'hosts', 'vias', 'tee', 'x-request-id', '0day', '-x', '_x', '~', 'a'.repeat(40), 'x-consumer-ids', 'connectio'];
  for (const name of kept) assert.equal(isDroppedRequestHeader(name), DROPPED_REQUEST_HEADERS.has(name), name);
  // Same length and first letter as a dropped name, but another name: the Set decides.
  assert.equal(isDroppedRequestHeader('cookie-bar'), false);
  assert.equal(isDroppedRequestHeader('hest'), false);
});
