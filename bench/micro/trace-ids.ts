/**
 * Old vs new for per-request trace and span ids (tracing/random-ids.ts).
 *
 *   crypto-per-id  crypto.randomBytes(n).toString('hex') for each id (a CSPRNG call per id)
 *   uuid           crypto.randomUUID() (Node keeps its own entropy cache), dashes removed
 *   pooled         randomHex(n): one randomFillSync per 4 KiB, hex through a lookup table
 *
 * Each round makes one request's worth of ids (a 16-byte trace id and two 8-byte span ids)
 * ITERATIONS times per contender, interleaved over ROUNDS rounds; medians in ns per request.
 *
 *   node dist/bench/micro/trace-ids.js      (env: ROUNDS=7 ITERATIONS=200000)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { randomHex } from '../../src/tracing/random-ids';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);

let sink = 0;

const contenders: Record<string, () => void> = {
  'crypto-per-id': () => {
    sink += randomBytes(16).toString('hex').length + randomBytes(8).toString('hex').length + randomBytes(8).toString('hex').length;
  },
  uuid: () => {
    sink += randomUUID().replace(/-/g, '').length + randomUUID().slice(0, 8).length + randomUUID().slice(0, 8).length;
  },
  pooled: () => {
    sink += randomHex(16).length + randomHex(8).length + randomHex(8).length;
  },
};

const results: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(contenders)) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) fn();
    results[name].push(Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results['crypto-per-id']);
process.stdout.write(`${ROUNDS} rounds x ${ITERATIONS} requests (1 trace id + 2 span ids each), interleaved; medians\n\n`);
process.stdout.write('| contender | ns per request | vs crypto-per-id |\n|---|---|---|\n');
for (const name of Object.keys(contenders)) {
  const m = median(results[name]);
  process.stdout.write(`| ${name} | ${m.toFixed(0)} | ${(m / base).toFixed(2)} |\n`);
}
if (sink === 42) process.stdout.write('\n');
