/**
 * What the new log plugins cost a request, per phase call, on this thread:
 *
 *   zipkin-propagate  onRequest + onLog with sample_ratio 0: read B3 headers, write B3 upstream
 *   zipkin-sampled    the same with sample_ratio 1: three spans built and queued (never sent:
 *                     the queue's batch is larger than the run)
 *   statsd-onlog      statsd's onLog (status filter + enqueue of the shared record)
 *   statsd-lines      the 12 lines Kong's default metrics make from one record (done per batch,
 *                     off the request's path)
 *
 * Interleaved over ROUNDS rounds of ITERATIONS calls; medians in ns per request.
 *
 *   node dist/bench/micro/log-shippers.js      (env: ROUNDS=5 ITERATIONS=50000)
 */
import os from 'node:os';
import { loadConfigText } from '../../src/config/load';
import type { PluginInstance } from '../../src/plugins/api';
import { StatsdFormatter } from '../../src/plugins/statsd/lines';
import type { StatsdConfig } from '../../src/plugins/statsd/schema';
import { FakeContext, pluginFromYaml } from '../../test/helpers/fake-context';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ITERATIONS = Number(process.env.ITERATIONS ?? 50_000);
const NEVER_SEND = '{ max_batch_size: 1000000, max_entries: 1000000, max_coalescing_delay: 3600 }';

function plugin(name: string, config: string): PluginInstance {
  return pluginFromYaml(`_format_version: "3.0"\nplugins:\n  - name: ${name}\n    config: ${config}\n`, name, { pluginId: name + config.length }).instance;
}

const b3 = { 'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '1', 'user-agent': 'bench' };
const propagate = plugin('zipkin', `{ http_endpoint: "http://127.0.0.1:9/spans", sample_ratio: 0, queue: ${NEVER_SEND} }`);
const sampled = plugin('zipkin', `{ http_endpoint: "http://127.0.0.1:9/spans", sample_ratio: 1, queue: ${NEVER_SEND} }`);
const statsd = plugin('statsd', `{ host: 127.0.0.1, port: 9, queue: ${NEVER_SEND} }`);
const statsdConf = (() => {
  const r = loadConfigText('_format_version: "3.0"\nplugins:\n  - name: statsd\n', 'bench.yaml');
  if (!r.ok) throw new Error('bad bench config');
  return r.config.plugins[0].config as unknown as StatsdConfig;
})();
const formatter = new StatsdFormatter(statsdConf, os.hostname());
const record = new FakeContext({ headers: b3 }).serializeLog();
record.service = { id: 'svc', name: 'orders', host: 'orders.internal', port: 80, protocol: 'http', path: null };
record.consumer = { id: 'c', username: 'alice', custom_id: 'c-42' };

let sink = 0;
const contenders: Record<string, () => void> = {
  'zipkin-propagate': () => {
    const ctx = new FakeContext({ headers: b3 });
    ctx.logRecord = record;
    propagate.onRequest!(ctx);
    propagate.onLog!(ctx);
    sink += ctx.upstreamHeaders.size;
  },
  'zipkin-sampled': () => {
    const ctx = new FakeContext({ headers: b3 });
    ctx.logRecord = record;
    sampled.onRequest!(ctx);
    sampled.onLog!(ctx);
    sink += ctx.upstreamHeaders.size;
  },
  'statsd-onlog': () => {
    const ctx = new FakeContext({ headers: b3 });
    ctx.logRecord = record;
    statsd.onLog!(ctx);
  },
  'statsd-lines': () => {
    const lines: string[] = [];
    formatter.linesOf(record, lines);
    sink += lines.length;
  },
};
// The FakeContext itself (and its structuredClone of the record) is part of every contender but
// statsd-lines; measured alone so it can be subtracted.
contenders['fake-context-only'] = () => {
  const ctx = new FakeContext({ headers: b3 });
  ctx.logRecord = record;
  sink += ctx.serializeLog().response.status;
};

const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(contenders)) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) fn();
    const ns = Number(process.hrtime.bigint() - start) / ITERATIONS;
    results.set(name, [...(results.get(name) ?? []), ns]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, xs] of results) console.log(`${name.padEnd(18)} ${median(xs).toFixed(0).padStart(7)} ns/request`);
if (sink === -1) console.log(sink);
process.exit(0);
