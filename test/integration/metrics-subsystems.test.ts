/**
 * The series other subsystems add to /metrics (src/metrics/node-collectors.ts), against known
 * traffic through a real gateway with 2 workers: rate-limit rejections counted node-wide, each
 * target's health state, log-queue outcomes summed across workers, and per-worker heaps.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway, type Gateway } from '../helpers/gateway';
import { startCollector, type Collector } from '../helpers/collector';
import { agent, get } from '../helpers/http';
import { parsePrometheus, valueOf, type Sample } from '../helpers/prometheus';
import { DEFAULT_SEMI_SPACE_MB } from '../../src/cluster/worker-heap';

let live: EchoUpstream;
let drained: EchoUpstream;
let collector: Collector;
let gw: Gateway;

before(async () => {
  live = await startEchoUpstream(0, '127.0.0.1', 'live');
  drained = await startEchoUpstream(0, '127.0.0.1', 'drained');
  collector = await startCollector();
  gw = await startGateway({
    workers: 2,
    config: `_format_version: "3.0"
upstreams:
  - name: pool
    targets:
      - target: 127.0.0.1:${live.port}
        weight: 100
      - target: 127.0.0.1:${drained.port}
        weight: 0
services:
  - name: svc
    host: pool
    routes:
      - name: limited
        paths: [/limited]
        plugins:
          - name: rate-limiting
            config: { minute: 3, policy: local, limit_by: ip }
      - name: logged
        paths: [/logged]
        plugins:
          - name: http-log
            config:
              http_endpoint: http://127.0.0.1:${collector.port}/ingest
              queue: { max_batch_size: 1, max_coalescing_delay: 0.01 }
`,
  });
});
after(async () => {
  await gw?.stop();
  await live.close();
  await drained.close();
  await collector.close();
  await agent.close();
});

async function scrape(): Promise<Sample[]> {
  const res = await fetch(gw.adminUrl('/metrics'));
  assert.equal(res.status, 200);
  return parsePrometheus(await res.text());
}

describe('subsystem series on /metrics', () => {
  test('each worker reports its own V8 heap', async () => {
    const s = await scrape();
    for (const worker of ['1', '2']) {
      assert.ok(valueOf(s, 'floodgate_worker_heap_used_bytes', { worker }) > 1_000_000, `worker ${worker} heap`);
      assert.ok(valueOf(s, 'floodgate_worker_heap_total_bytes', { worker }) >= valueOf(s, 'floodgate_worker_heap_used_bytes', { worker }));
      // The young generation is pinned (src/cluster/worker-heap.ts): present, and never above 2 semi-spaces.
      const young = valueOf(s, 'floodgate_worker_young_generation_bytes', { worker });
      assert.ok(young > 0 && young <= 2 * DEFAULT_SEMI_SPACE_MB * 1024 * 1024, `worker ${worker} young generation ${young}`);
    }
  });

  test('rate-limit rejections are counted once per refused request, node-wide', async () => {
    const before = valueOf(await scrape(), 'floodgate_rate_limit_rejections_total');
    const statuses: number[] = [];
    // Fresh connections, so the kernel spreads them over both workers.
    for (let i = 0; i < 7; i++) statuses.push((await fetch(gw.url('/limited'), { headers: { connection: 'close' } })).status);
    assert.equal(statuses.filter((s) => s === 200).length, 3);
    assert.equal(statuses.filter((s) => s === 429).length, 4);
    const s = await scrape();
    assert.equal(valueOf(s, 'floodgate_rate_limit_rejections_total') - before, 4);
    assert.ok(valueOf(s, 'floodgate_rate_limit_table_slots') > 0);
  });

  test('each target reports exactly one current state', async () => {
    const s = await scrape();
    const liveAddr = `127.0.0.1:${live.port}`;
    const drainedAddr = `127.0.0.1:${drained.port}`;
    assert.equal(valueOf(s, 'floodgate_upstream_target_health', { upstream: 'pool', address: liveAddr, state: 'healthy' }), 1);
    assert.equal(valueOf(s, 'floodgate_upstream_target_health', { upstream: 'pool', address: liveAddr, state: 'unhealthy' }), 0);
    assert.equal(valueOf(s, 'floodgate_upstream_target_health', { upstream: 'pool', address: drainedAddr, state: 'draining' }), 1);
    assert.equal(valueOf(s, 'floodgate_upstream_target_health', { upstream: 'pool', address: drainedAddr, state: 'healthy' }), 0);
  });

  test('log-queue outcomes are summed across workers', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await get(gw.url('/logged'))).status, 200);
    // max_batch_size 1: Kong's http-log sends each entry as one JSON object.
    await collector.waitFor((reqs) => reqs.length >= 6);
    // The sender counts a batch as sent once the collector's answer is back: poll briefly.
    let sent = 0;
    for (let i = 0; i < 50 && sent < 6; i++) {
      const s = await scrape();
      sent = s.filter((x) => x.name === 'floodgate_log_queue_entries_total' && x.labels.plugin === 'http-log' && x.labels.outcome === 'sent').reduce((n, x) => n + x.value, 0);
      if (sent < 6) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(sent, 6);
    const s = await scrape();
    const queued = s.filter((x) => x.name === 'floodgate_log_queue_entries_total' && x.labels.plugin === 'http-log' && x.labels.outcome === 'queued').reduce((n, x) => n + x.value, 0);
    const dropped = s.filter((x) => x.name === 'floodgate_log_queue_entries_total' && x.labels.plugin === 'http-log' && x.labels.outcome === 'dropped').reduce((n, x) => n + x.value, 0);
    assert.equal(queued, 6);
    assert.equal(dropped, 0);
  });
});
