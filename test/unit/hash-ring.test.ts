/**
 * Consistent hashing: the ketama ring moves about 1/N of the keys when one target is added or
 * removed, and only keys that must move; hash_on inputs, fallbacks and the cookie.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsistentHashingBalancer, cookieValue, queryArg, type HashInputConfig } from '../../src/balancer/consistent-hashing';
import type { HashSource } from '../../src/balancer/balancer';
import { HashRing } from '../../src/balancer/hash-ring';
import { HealthState, SharedBalancerState, T } from '../../src/balancer/shared-state';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

function owners(ring: HashRing, names: readonly string[]): string[] {
  return KEYS.map((k) => names[ring.lookup(k, null)]);
}

test('adding a 10th target moves about 1/10 of the keys, all of them to the new target', () => {
  const nine = Array.from({ length: 9 }, (_, i) => `10.0.0.${i + 1}:80`);
  const ten = [...nine, '10.0.0.10:80'];
  const before = owners(new HashRing(nine, nine.map(() => 100)), nine);
  const after = owners(new HashRing(ten, ten.map(() => 100)), ten);
  let moved = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    assert.equal(after[i], '10.0.0.10:80', 'a key only ever moves to the new target');
  }
  const share = moved / KEYS.length;
  assert.ok(share > 0.06 && share < 0.14, `moved ${share.toFixed(3)} of the keys, expected about 0.10`);
});

test('removing one of 10 targets moves only that target\'s keys (about 1/10)', () => {
  const ten = Array.from({ length: 10 }, (_, i) => `backend-${i}.internal:8080`);
  const nine = ten.filter((t) => t !== 'backend-3.internal:8080');
  const before = owners(new HashRing(ten, ten.map(() => 100)), ten);
  const after = owners(new HashRing(nine, nine.map(() => 100)), nine);
  let moved = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    assert.equal(before[i], 'backend-3.internal:8080', 'only keys of the removed target move');
  }
  const share = moved / KEYS.length;
  assert.ok(share > 0.06 && share < 0.14, `moved ${share.toFixed(3)}`);
});

test('keys spread over targets in proportion to weight', () => {
  const names = ['a', 'b', 'c'];
  const got = owners(new HashRing(names, [100, 100, 200]), names);
  const share = (n: string) => got.filter((x) => x === n).length / KEYS.length;
  assert.ok(Math.abs(share('c') - 0.5) < 0.07, `c got ${share('c')}`);
  assert.ok(Math.abs(share('a') - 0.25) < 0.07, `a got ${share('a')}`);
});

const hashConfig = (over: Partial<HashInputConfig>): HashInputConfig => ({
  hashOn: 'none',
  hashFallback: 'none',
  hashOnHeader: null,
  hashFallbackHeader: null,
  hashOnCookie: null,
  hashOnCookiePath: '/',
  hashOnQueryArg: null,
  hashFallbackQueryArg: null,
  ...over,
});

class Source implements HashSource {
  readonly set: string[] = [];
  consumer: { id: string } | null = null;
  credentialId: string | null = null;
  readonly request: HashSource['request'];
  constructor(headers: Record<string, string>, path = '/', query = '', remoteAddress = '127.0.0.1') {
    this.request = { path, query, remoteAddress, header: (n: string) => headers[n] };
  }
  setResponseHeader(name: string, value: string): void {
    this.set.push(name, value);
  }
}

function balancer(cfg: HashInputConfig, shared = new SharedBalancerState()) {
  const ts = ['a', 'b', 'c', 'd'].map((name, index) => ({ name, index, weight: 100, slot: index }));
  return new ConsistentHashingBalancer(ts, ts.map((t) => `${t.name}:80`), shared, cfg);
}

test('hash_on header: the same value always reaches the same target; the fallback covers a missing header', () => {
  const lb = balancer(hashConfig({ hashOn: 'header', hashOnHeader: 'X-User', hashFallback: 'path' }));
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) seen.add(lb.pick(new Source({ 'x-user': 'alice' }), 0)!.name);
  assert.equal(seen.size, 1);
  const byPath = new Set<string>();
  for (let i = 0; i < 20; i++) byPath.add(lb.pick(new Source({}, '/orders/42'), 0)!.name);
  assert.equal(byPath.size, 1, 'no header: hashed on the path');
  const spread = new Set<string>();
  for (let i = 0; i < 200; i++) spread.add(lb.pick(new Source({ 'x-user': `u${i}` }), 0)!.name);
  assert.equal(spread.size, 4, 'different users spread over every target');
});

test('an unhealthy owner hands its keys to the next target on the ring, and gets them back', () => {
  const shared = new SharedBalancerState();
  const lb = balancer(hashConfig({ hashOn: 'query_arg', hashOnQueryArg: 'id' }), shared);
  const src = new Source({}, '/', 'x=1&id=12345');
  const owner = lb.pick(src, 0)!;
  shared.targets[owner.slot * T.Stride + T.State] = HealthState.Unhealthy;
  const stand = lb.pick(src, 0)!;
  assert.notEqual(stand.name, owner.name);
  shared.targets[owner.slot * T.Stride + T.State] = HealthState.Healthy;
  assert.equal(lb.pick(src, 0)!.name, owner.name);
});

test('hash_on cookie: sets the cookie when absent, and that value sticks', () => {
  const lb = balancer(hashConfig({ hashOn: 'cookie', hashOnCookie: 'fg-sticky', hashOnCookiePath: '/app' }));
  const first = new Source({});
  const chosen = lb.pick(first, 0)!;
  assert.equal(first.set[0], 'set-cookie');
  const m = /^fg-sticky=([^;]+); Path=\/app$/.exec(first.set[1]);
  assert.ok(m, first.set[1]);
  for (let i = 0; i < 10; i++) {
    const again = new Source({ cookie: `other=1; fg-sticky=${m[1]}` });
    assert.equal(lb.pick(again, 0)!.name, chosen.name);
    assert.deepEqual(again.set, [], 'no new cookie once the client has one');
  }
});

test('hash_on consumer and ip', () => {
  const byConsumer = balancer(hashConfig({ hashOn: 'consumer', hashFallback: 'ip' }));
  const s = new Source({}, '/', '', '10.1.1.1');
  s.consumer = { id: 'consumer-1' };
  const name = byConsumer.pick(s, 0)!.name;
  for (let i = 0; i < 5; i++) {
    const t = new Source({}, '/', '', `10.1.1.${i + 2}`);
    t.consumer = { id: 'consumer-1' };
    assert.equal(byConsumer.pick(t, 0)!.name, name, 'same consumer, any address');
  }
  const anon = byConsumer.pick(new Source({}, '/', '', '10.9.9.9'), 0)!.name;
  for (let i = 0; i < 5; i++) assert.equal(byConsumer.pick(new Source({}, '/x' + i, '', '10.9.9.9'), 0)!.name, anon);
});

test('cookie and query argument parsing', () => {
  assert.equal(cookieValue('a=1; b=two ; c=3', 'b'), 'two');
  assert.equal(cookieValue('ab=1', 'b'), '');
  assert.equal(cookieValue(undefined, 'b'), '');
  assert.equal(queryArg('a=1&id=7&id=8', 'id'), '7');
  assert.equal(queryArg('aid=1', 'id'), '');
  assert.equal(queryArg('id=', 'id'), '');
});
