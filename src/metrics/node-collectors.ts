/**
 * The series other subsystems contribute to /metrics, registered in one place so the metrics code
 * does not import them and they do not import each other:
 *
 * - rate limiting (primary: the counters live in the node-wide SharedArrayBuffer, so the primary
 *   reads them directly, no worker round trip);
 * - upstream target health (primary: the health center lives there);
 * - log queues of http-log, file-log and opentelemetry (workers: each thread has its own queues;
 *   summed across workers by the scrape);
 * - each worker's V8 heap (a worker thread is its own isolate, and the process RSS cannot say
 *   which worker grows: the soak run in loadtest/ needs this split).
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { Supervisor } from '../cluster/primary';
import { logQueueStats } from '../logging/batch-queue';
import { primaryCollectors, workerCollectors, type MetricFamily } from './registry';

const TARGET_STATES = ['healthy', 'unhealthy', 'dns_error', 'draining'] as const;

export function registerPrimaryCollectors(supervisor: Supervisor): void {
  primaryCollectors.register('rate-limiting', (): MetricFamily[] => {
    const s = supervisor.rateLimitStats();
    return [
      counter('floodgate_rate_limit_rejections_total', 'Requests refused by the rate-limiting plugin (error_code, 429 by default).', s.rejected),
      counter('floodgate_rate_limit_fail_open_total', 'Requests let through because the redis store failed and fault_tolerant is true.', s.failOpen),
      counter('floodgate_rate_limit_store_errors_total', 'Redis store errors seen by the rate-limiting plugin (fail-open or 500).', s.storeErrors),
      counter('floodgate_rate_limit_evictions_total', 'Live counters evicted from the full shared table (see --ratelimit-slots).', s.evicted),
      { name: 'floodgate_rate_limit_table_slots', help: 'Capacity of the node-wide rate-limit table.', type: 'gauge', samples: [{ labels: {}, value: s.slots }] },
    ];
  });
  // The primary's own isolate (admin API, scrapes, health checks): the rest of the process RSS.
  primaryCollectors.register('primary-heap', (): MetricFamily[] => {
    const heap = getHeapStatistics();
    return [
      { name: 'floodgate_primary_heap_used_bytes', help: "V8 heap in use by the primary thread's isolate.", type: 'gauge', samples: [{ labels: {}, value: heap.used_heap_size }] },
      { name: 'floodgate_primary_heap_total_bytes', help: "V8 heap reserved by the primary thread's isolate.", type: 'gauge', samples: [{ labels: {}, value: heap.total_heap_size }] },
    ];
  });
  // Kong's kong_upstream_target_health shape: one sample per state, 1 for the current one.
  primaryCollectors.register('upstream-health', (): MetricFamily[] => {
    const samples = [];
    for (const t of supervisor.upstreamHealth.targetHealth()) {
      for (const state of TARGET_STATES) {
        samples.push({ labels: { upstream: t.upstream, target: t.target, address: t.address, state }, value: t.state === state ? 1 : 0 });
      }
    }
    return [{ name: 'floodgate_upstream_target_health', help: 'Health of each upstream target address: 1 for its current state.', type: 'gauge', samples }];
  });
}

export function registerWorkerCollectors(): void {
  workerCollectors.register('worker', (): MetricFamily[] => {
    const entries = [];
    const pending = [];
    for (const q of logQueueStats()) {
      const base = { plugin: q.plugin, id: q.id };
      entries.push(
        { labels: { ...base, outcome: 'queued' }, value: q.queued },
        { labels: { ...base, outcome: 'sent' }, value: q.sent },
        { labels: { ...base, outcome: 'dropped' }, value: q.dropped },
        { labels: { ...base, outcome: 'retried' }, value: q.retried },
        { labels: { ...base, outcome: 'failed' }, value: q.failed },
      );
      pending.push({ labels: base, value: q.pending });
    }
    const heap = getHeapStatistics();
    // The new space is the part of the heap V8 resizes under load (src/cluster/worker-heap.ts).
    let newSpace = 0;
    for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') newSpace = space.space_size;
    return [
      { name: 'floodgate_worker_heap_used_bytes', help: "V8 heap in use by the worker's isolate.", type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: heap.used_heap_size }] },
      { name: 'floodgate_worker_heap_total_bytes', help: "V8 heap reserved by the worker's isolate.", type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: heap.total_heap_size }] },
      { name: 'floodgate_worker_young_generation_bytes', help: "V8 new space (both semi-spaces) committed by the worker's isolate.", type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: newSpace }] },
      { name: 'floodgate_worker_external_memory_bytes', help: 'Memory held outside the V8 heap by the worker (Buffers, ArrayBuffers).', type: 'gauge', merge: 'per-worker', samples: [{ labels: {}, value: heap.external_memory }] },
      { name: 'floodgate_log_queue_entries_total', help: 'Log-plugin queue entries by outcome (dropped = queue full).', type: 'counter', merge: 'sum', samples: entries },
      { name: 'floodgate_log_queue_pending', help: 'Entries waiting in log-plugin queues.', type: 'gauge', merge: 'sum', samples: pending },
    ];
  });
}

function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'counter', samples: [{ labels: {}, value }] };
}
