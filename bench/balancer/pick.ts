/**
 * Micro-benchmark: one pick per algorithm over three healthy targets, interleaved rounds,
 * median ns per pick. It shows that the choice itself is tens of nanoseconds against a proxied
 * request's tens of microseconds; the end-to-end cost is bench/balancer/main.ts.
 *
 *   node dist/bench/balancer/pick.js        (ROUNDS=5 PICKS=2000000)
 */
import type { HashSource } from '../../src/balancer/balancer';
import { ConsistentHashingBalancer } from '../../src/balancer/consistent-hashing';
import { LatencyBalancer } from '../../src/balancer/latency';
import { LeastConnectionsBalancer } from '../../src/balancer/least-connections';
import { RoundRobinBalancer } from '../../src/balancer/round-robin';
import { SharedBalancerState } from '../../src/balancer/shared-state';
import { median } from '../peers/stats';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PICKS = Number(process.env.PICKS ?? 2_000_000);

const shared = new SharedBalancerState();
const targets = [0, 1, 2].map((i) => ({ index: i, slot: i, weight: 100 }));
const users = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
let user = 0;
const source: HashSource = {
  request: { path: '/', query: '', remoteAddress: '127.0.0.1', header: () => users[user++ % 1000] },
  consumer: null,
  credentialId: null,
  setResponseHeader() {},
};
const hash = {
  hashOn: 'header',
  hashFallback: 'none',
  hashOnHeader: 'x-user',
  hashFallbackHeader: null,
  hashOnCookie: null,
  hashOnCookiePath: '/',
  hashOnQueryArg: null,
  hashFallbackQueryArg: null,
};
const contenders = {
  'round-robin': new RoundRobinBalancer(targets, shared),
  'least-connections': new LeastConnectionsBalancer(targets, shared),
  latency: new LatencyBalancer(targets, shared),
  'consistent-hashing': new ConsistentHashingBalancer(targets, ['a:80', 'b:80', 'c:80'], shared, hash),
};
const results = new Map<string, number[]>(Object.keys(contenders).map((k) => [k, []]));
let sink = 0;
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, balancer] of Object.entries(contenders)) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < PICKS; i++) sink += balancer.pick(source, 0)!.index;
    results.get(name)!.push(Number(process.hrtime.bigint() - start) / PICKS);
  }
}
const base = median(results.get('round-robin')!);
for (const [name, ns] of results) {
  process.stdout.write(`${name.padEnd(20)} ${median(ns).toFixed(1)} ns/pick  ratio ${(median(ns) / base).toFixed(2)}\n`);
}
if (sink < 0) process.stdout.write('unreachable\n');
