import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { ConcurrencyGate, type GateWaiter } from '../../proxy/concurrency-gate';
import { workerCollectors, type MetricFamily } from '../../metrics/registry';
import { ConcurrencyLimitSchema, type ConcurrencyLimitConfig } from './schema';

/**
 * Per-route (or per-service, or global) concurrency limit with a bounded wait: the route-level
 * counterpart of --max-in-flight. Why a plugin rather than a route field: a Kong `routes:` entry
 * with an unknown field is a config error in Kong and here, so a file using it would no longer be
 * a Kong file; a plugin entry is the place Kong gives to per-route behaviour, it scopes to a
 * route, a service or everything with the usual "most specific wins", and Kong users already put
 * rate-limiting there.
 *
 * The slot is taken in onRequest and given back in onLog, which runs exactly once per request
 * however it ends (response, local reply, client abort), so a slot cannot leak.
 *
 * State lives per worker and per plugin entry id, outside the snapshot: a reload with the same
 * entry keeps its counts (requests that started on the old snapshot still hold their slots and
 * give them back through the old instance) and takes new limits at once.
 */
const JSON_TYPE = 'application/json; charset=utf-8';
const FULL_BODY = JSON.stringify({ message: 'Service temporarily overloaded: route concurrency limit reached', reason: 'route_concurrency' });
const TIMEOUT_BODY = JSON.stringify({ message: 'Service temporarily overloaded: no route concurrency slot freed within queue_timeout', reason: 'route_queue_timeout' });

interface EntryState {
  readonly gate: ConcurrencyGate;
  refusedFull: number;
  refusedTimeout: number;
}

/** Per worker (module state is per thread), keyed by plugin entry id. */
const entries = new Map<string, EntryState>();

function stateFor(id: string | undefined, conf: ConcurrencyLimitConfig): EntryState {
  const existing = id === undefined ? undefined : entries.get(id);
  if (existing !== undefined) {
    existing.gate.configure(conf.max_concurrent, conf.max_queue, conf.queue_timeout);
    return existing;
  }
  const state: EntryState = { gate: new ConcurrencyGate(conf.max_concurrent, conf.max_queue, conf.queue_timeout), refusedFull: 0, refusedTimeout: 0 };
  if (id !== undefined) entries.set(id, state);
  return state;
}

/** A request waiting for a slot; only requests that must wait allocate one. */
class RouteWaiter implements GateWaiter {
  readonly ctx: PluginContext;
  readonly #limit: ConcurrencyLimit;
  #resolve: ((v: Verdict) => void) | null = null;
  readonly promise: Promise<Verdict>;

  constructor(ctx: PluginContext, limit: ConcurrencyLimit) {
    this.ctx = ctx;
    this.#limit = limit;
    this.promise = new Promise<Verdict>((resolve) => (this.#resolve = resolve));
  }

  admitted(): void {
    this.#limit.waitOver(this.ctx, true);
    this.#resolve!(Verdict.Continue);
  }

  expired(): void {
    this.#limit.waitOver(this.ctx, false);
    this.#limit.refuseTimedOut(this.ctx);
    this.#resolve!(Verdict.Stop);
  }
}

class ConcurrencyLimit implements PluginInstance {
  readonly #state: EntryState;
  readonly #headers: readonly string[];
  /** Requests of this instance holding a slot, and those waiting for one. */
  readonly #holders = new Set<PluginContext>();
  readonly #waiting = new Map<PluginContext, RouteWaiter>();

  constructor(state: EntryState, conf: ConcurrencyLimitConfig) {
    this.#state = state;
    this.#headers = ['retry-after', String(conf.retry_after)];
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    const gate = this.#state.gate;
    if (gate.tryEnter()) {
      this.#holders.add(ctx);
      return Verdict.Continue;
    }
    const waiter = new RouteWaiter(ctx, this);
    if (gate.wait(waiter)) {
      this.#waiting.set(ctx, waiter);
      return waiter.promise;
    }
    this.#state.refusedFull++;
    ctx.respond(503, FULL_BODY, JSON_TYPE, this.#headers);
    return Verdict.Stop;
  }

  onLog(ctx: PluginContext): void {
    if (this.#holders.delete(ctx)) {
      this.#state.gate.leave();
      return;
    }
    const waiter = this.#waiting.get(ctx);
    if (waiter !== undefined) {
      // The client went away while waiting.
      this.#waiting.delete(ctx);
      this.#state.gate.cancel(waiter);
    }
  }

  /** @internal from RouteWaiter: the wait ended, with a slot or without. */
  waitOver(ctx: PluginContext, admitted: boolean): void {
    this.#waiting.delete(ctx);
    if (admitted) this.#holders.add(ctx);
  }

  /** @internal from RouteWaiter. */
  refuseTimedOut(ctx: PluginContext): void {
    this.#state.refusedTimeout++;
    ctx.respond(503, TIMEOUT_BODY, JSON_TYPE, this.#headers);
  }
}

workerCollectors.register('concurrency-limit', (): MetricFamily[] => {
  if (entries.size === 0) return []; // no series on nodes that do not use the plugin
  const refused = [];
  const active = [];
  const queued = [];
  for (const [id, s] of entries) {
    refused.push({ labels: { plugin_id: id, reason: 'full' }, value: s.refusedFull }, { labels: { plugin_id: id, reason: 'queue_timeout' }, value: s.refusedTimeout });
    active.push({ labels: { plugin_id: id }, value: s.gate.active });
    queued.push({ labels: { plugin_id: id }, value: s.gate.queued });
  }
  return [
    { name: 'floodgate_concurrency_limit_rejections_total', help: 'Requests refused with 503 by the concurrency-limit plugin, by plugin entry and reason.', type: 'counter', merge: 'sum', samples: refused },
    { name: 'floodgate_concurrency_limit_active', help: 'Requests holding a concurrency-limit slot, summed over workers.', type: 'gauge', merge: 'sum', samples: active },
    { name: 'floodgate_concurrency_limit_queued', help: 'Requests waiting for a concurrency-limit slot, summed over workers.', type: 'gauge', merge: 'sum', samples: queued },
  ];
});

export const concurrencyLimit: PluginDefinition<ConcurrencyLimitConfig> = {
  name: 'concurrency-limit',
  // After cors (2000: preflights answered without a slot), before the auth plugins (jwt 1450):
  // an overloaded route sheds before it spends CPU on signatures.
  priority: 1900,
  version: '1.0.0',
  configSchema: ConcurrencyLimitSchema,
  // A check registers no state (a registered gate would be reconfigured by the check's config).
  create: (conf, env, entry) => new ConcurrencyLimit(stateFor(env.checkOnly === true ? undefined : (entry?.id ?? env.pluginId), conf), conf),
};
