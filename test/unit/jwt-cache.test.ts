/** The jwt plugin's verified-token cache on its own: bounds and expiry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsumerConfig, JwtSecretConfig } from '../../src/config/types';
import { VerifiedToken, VerifiedTokenCache } from '../../src/plugins/jwt/cache';

const consumer: ConsumerConfig = { id: 'c', username: 'u', customId: null, tags: [] };
const secret: JwtSecretConfig = { id: 's', consumer: 'c', key: 'k', algorithm: 'HS256', secret: 'x', rsaPublicKey: null, tags: [] };
const entry = (expiresAt: number, who: ConsumerConfig | null = consumer) => new VerifiedToken(secret, who, 'k', expiresAt, undefined, expiresAt);

test('an entry is served until its exp, then dropped', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set('t', entry(100), 50);
  assert.ok(cache.get('t', 99));
  assert.equal(cache.get('t', 100), undefined);
  assert.equal(cache.size, 0, 'the expired entry is removed, not just hidden');
});

test('an expired token, or one without a consumer, is never stored', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set('old', entry(100), 100);
  cache.set('orphan', entry(Infinity, null), 0);
  assert.equal(cache.size, 0);
  cache.set('forever', entry(Infinity), 1e12);
  assert.ok(cache.get('forever', 1e12));
});

test('bounded: the least recently used entry goes first', () => {
  const cache = new VerifiedTokenCache(2);
  cache.set('a', entry(Infinity), 0);
  cache.set('b', entry(Infinity), 0);
  assert.ok(cache.get('a', 0));
  cache.set('c', entry(Infinity), 0);
  assert.equal(cache.size, 2);
  assert.ok(cache.get('a', 0));
  assert.equal(cache.get('b', 0), undefined);
  assert.ok(cache.get('c', 0));
});

test('a huge token is not kept', () => {
  const cache = new VerifiedTokenCache(10);
  cache.set('x'.repeat(17 * 1024 * 1024), entry(Infinity), 0);
  assert.equal(cache.size, 0);
});
