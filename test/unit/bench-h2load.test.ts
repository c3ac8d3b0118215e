/**
 * The h2load output parser of the h2 and gRPC benches (bench/lib/h2load.ts): a run's totals,
 * errors and status classes, and p50/p99 from the per-request log, in h2load 1.52's output format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { h2loadArgs, parseH2load, readDurationsMs } from '../../bench/lib/h2load';
import { percentile } from '../../bench/peers/stats';

const OK = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 0s of warm-up time and 5s of main duration for measurements.

finished in 5.00s, 20123.40 req/s, 1.01MB/s
requests: 100617 total, 100717 started, 100617 done, 100600 succeeded, 17 failed, 12 errored, 5 timeout
status codes: 100600 2xx, 1 3xx, 2 4xx, 3 5xx
traffic: 5.05MB (5295233) total, 2.11MB (2213574) headers (space savings 91.20%), 294.77KB (301851) data
                     min         max         mean         sd        +/- sd
time for request:      212us     40.03ms      4.90ms      2.10ms    75.00%
`;

test('a run: req/s and seconds from "finished in", errors = failed + errored + timeout + non-2xx', () => {
  const r = parseH2load(OK, [3, 1, 2, 4]);
  assert.equal(r.rps, 20123.4);
  assert.equal(r.seconds, 5);
  assert.equal(r.requests, 100600);
  assert.equal(r.non2xx, 6);
  assert.equal(r.socketErrors.timeout, 5);
  assert.equal(r.errors, 17 + 12 + 5 + 6);
  assert.equal(r.p50ms, 2);
  assert.equal(r.p99ms, 4);
});

test('"finished in" in ms, and a run where nothing connected', () => {
  const out = `finished in 296us, 0.00 req/s, 0B/s
requests: 5 total, 0 started, 0 done, 0 succeeded, 5 failed, 5 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
`;
  const r = parseH2load(out, []);
  assert.equal(r.seconds, 0.000296);
  assert.equal(r.requests, 0);
  assert.equal(r.errors, 10);
  assert.ok(Number.isNaN(r.p99ms));
});

test('output without the summary lines is refused, not read as zero', () => {
  assert.throws(() => parseH2load('h2load: connect failed\n', []), /no "finished in"/);
});

test('the per-request log: the third column, µs to ms', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'fg-h2load-')), 'log');
  writeFileSync(file, '1796291863136937\t200\t2843\n1796291863139892\t200\t2069\n1796291863142099\t200\t6544\n');
  assert.deepEqual(readDurationsMs(file), [2.843, 2.069, 6.544]);
});

test('nearest-rank percentiles', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(v, 50), 50);
  assert.equal(percentile(v, 99), 99);
  assert.equal(percentile(v, 100), 100);
  assert.equal(percentile([7], 99), 7);
});

test('the command line: one thread, clients, streams, duration, log, headers, then the body file and the URL', () => {
  assert.deepEqual(
    h2loadArgs({ h2load: 'h2load', url: 'https://127.0.0.1:1/x', clients: 10, streams: 5, seconds: 3, logFile: '/t/l', headers: { te: 'trailers' }, bodyFile: '/t/b' }),
    ['-t1', '-c10', '-m5', '-D3', '--log-file=/t/l', '-H', 'te: trailers', '-d', '/t/b', 'https://127.0.0.1:1/x'],
  );
});
