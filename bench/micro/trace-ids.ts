/**
 * Old vs new for per-request trace and span ids (tracing/random-ids.ts).
 *
 *   crypto-per-id  crypto.randomBytes(n).toString('hex') for each id (a CSPRNG call per id)
 *   uuid           crypto.randomUUID() (Node keeps its own entropy cache), dashes removed
 *   pooled-table   the first pooled version: one randomFillSync per 4 KiB, hex through a lookup
 *                  table one byte at a time (a rope string)
 *   pooled-per-id  the second version: the same pool, one toString('hex', from, to) per id
 *   pooled         randomHex(n) now: the pool turned into hex once per refill, an id a substring
 *
 * Each round makes one request's worth of ids as the gateway now does (a 16-byte trace id and
 * the 8-byte upstream span id; the server span id is made lazily), builds the traceparent
 * header from them and reads its last character, as undici's header validation does (which
 * flattens a rope), ITERATIONS times per contender, interleaved over ROUNDS rounds; medians in
 * ns per request.
 *
 *   node dist/bench/micro/trace-ids.js      (env: ROUNDS=7 ITERATIONS=200000)
 */
import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import { randomHex } from '../../src/tracing/random-ids';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);

let sink = 0;

const POOL_BYTES = 4096;
const tablePool = Buffer.allocUnsafe(POOL_BYTES);
let tableOffset = POOL_BYTES;
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));
/** The first version of randomHex, kept here as the baseline. */
function tableHex(bytes: number): string {
  if (tableOffset + bytes > POOL_BYTES) {
    randomFillSync(tablePool);
    tableOffset = 0;
  }
  let out = '';
  for (let i = 0; i < bytes; i++) out += HEX[tablePool[tableOffset + i]];
  tableOffset += bytes;
  return out;
}

const idPool = Buffer.allocUnsafe(POOL_BYTES);
let idOffset = POOL_BYTES;
/** The second version of randomHex: one native hex conversion per id. */
function perIdHex(bytes: number): string {
  if (idOffset + bytes > POOL_BYTES) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const out = idPool.toString('hex', idOffset, idOffset + bytes);
  idOffset += bytes;
  return out;
}

function header(trace: string, span: string): number {
  return ('00-' + trace + '-' + span + '-01').charCodeAt(54);
}

const contenders: Record<string, () => void> = {
  'crypto-per-id': () => {
    sink += header(randomBytes(16).toString('hex'), randomBytes(8).toString('hex'));
  },
  uuid: () => {
    sink += header(randomUUID().replace(/-/g, ''), randomUUID().slice(0, 16).replace(/-/g, '0'));
  },
  'pooled-table': () => {
    sink += header(tableHex(16), tableHex(8));
  },
  'pooled-per-id': () => {
    sink += header(perIdHex(16), perIdHex(8));
  },
  pooled: () => {
    sink += header(randomHex(16), randomHex(8));
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
process.stdout.write(`${ROUNDS} rounds x ${ITERATIONS} requests (1 trace id + 1 span id + traceparent each), interleaved; medians\n\n`);
process.stdout.write('| contender | ns per request | vs crypto-per-id |\n|---|---|---|\n');
for (const name of Object.keys(contenders)) {
  const m = median(results[name]);
  process.stdout.write(`| ${name} | ${m.toFixed(0)} | ${(m / base).toFixed(2)} |\n`);
}
if (sink === 42) process.stdout.write('\n');
