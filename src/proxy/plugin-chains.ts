/**
 * Which plugin entries run for a request, resolved when the snapshot is compiled.
 *
 * Kong's rule (kong/runloop/plugins_iterator.lua, 3.x): in the access phase the iterator walks
 * every plugin in priority order and, for each one, picks the most specific entry for the route,
 * the service and the consumer known *at that moment*:
 *   consumer+route+service > consumer+route > consumer+service > route+service > consumer > route
 *   > service > global.
 * The consumer is only known once an auth plugin's access handler has run, so plugins that run
 * before it are resolved without a consumer and plugins after it with one. The entry chosen in
 * the access phase is also the one whose later phases (header_filter, log) run.
 *
 * Here: each route gets its chain without a consumer (`CompiledRoute.chain`) and, when some
 * consumer-scoped entry can apply to it, one `ConsumerChains` per such consumer. A consumer's
 * chain for an auth plugin at rank r holds the consumer-less resolution for plugins ranked at or
 * before r and the consumer's resolution after it, so switching chains at `ctx.authenticate`
 * gives exactly Kong's result. The request does one Map lookup after authentication, nothing more.
 */
import type { PluginConfig, RouteConfig } from '../config/types';
import type { PluginInstance } from '../plugins/api';
import { getPluginDefinition, pluginNames } from '../plugins/registry';

/** One plugin entry in a chain, with its place in Kong's global plugin order. */
export interface ChainEntry {
  readonly rank: number;
  readonly instance: PluginInstance;
  /** The plugin's name, for the one log line a failing plugin gets (chain.ts). */
  readonly name: string;
}

/** One resolved plugin list, split by phase: `null` when a phase has no plugin. */
export class PluginChain {
  readonly onRequest: readonly PluginInstance[] | null;
  readonly onUpstreamRequest: readonly PluginInstance[] | null;
  readonly onResponse: readonly PluginInstance[] | null;
  readonly onLog: readonly PluginInstance[] | null;
  /** The plugin names of each phase array, index for index (only read when a plugin fails). */
  readonly onRequestNames: readonly string[];
  readonly onUpstreamRequestNames: readonly string[];
  readonly onResponseNames: readonly string[];
  readonly onLogNames: readonly string[];
  /** Kong order rank of each `onRequest` entry: tells which plugin called `ctx.authenticate`. */
  readonly requestRanks: readonly number[];
  /** Where a request that switches to this chain resumes its onRequest phase (consumer chains). */
  readonly resumeAt: number;

  constructor(entries: readonly ChainEntry[], resumeAfterRank = -1) {
    const sorted = [...entries].sort((a, b) => a.rank - b.rank);
    const plugins = sorted.map((e) => e.instance);
    this.onRequest = phase(plugins, 'onRequest');
    this.onUpstreamRequest = phase(plugins, 'onUpstreamRequest');
    this.onResponse = phase(plugins, 'onResponse');
    this.onLog = phase(plugins, 'onLog');
    this.onRequestNames = phaseNames(sorted, 'onRequest');
    this.onUpstreamRequestNames = phaseNames(sorted, 'onUpstreamRequest');
    this.onResponseNames = phaseNames(sorted, 'onResponse');
    this.onLogNames = phaseNames(sorted, 'onLog');
    this.requestRanks = sorted.filter((e) => typeof e.instance.onRequest === 'function').map((e) => e.rank);
    this.resumeAt = this.resumeIndexAfter(resumeAfterRank);
  }

  /** Index of the first onRequest plugin ranked after `rank`. */
  resumeIndexAfter(rank: number): number {
    const ranks = this.requestRanks;
    let i = 0;
    while (i < ranks.length && ranks[i] <= rank) i++;
    return i;
  }
}

export const EMPTY_CHAIN = new PluginChain([]);

/**
 * A consumer's chains on one route: `chains[k]` is the one to switch to when the auth plugin
 * ranked `authRanks[k]` authenticates that consumer (a route rarely has more than one or two).
 */
export class ConsumerChains {
  readonly authRanks: readonly number[];
  readonly chains: readonly PluginChain[];
  constructor(authRanks: readonly number[], chains: readonly PluginChain[]) {
    this.authRanks = authRanks;
    this.chains = chains;
  }
}

function phase(plugins: readonly PluginInstance[], name: keyof PluginInstance): readonly PluginInstance[] | null {
  const list = plugins.filter((p) => typeof p[name] === 'function');
  return list.length === 0 ? null : list;
}

function phaseNames(entries: readonly ChainEntry[], name: keyof PluginInstance): string[] {
  return entries.filter((e) => typeof e.instance[name] === 'function').map((e) => e.name);
}

let ranks: ReadonlyMap<string, number> | null = null;

/** Kong's plugin order: priority, highest first; equal priorities by name, so the order is stable. */
export function pluginRank(name: string): number {
  if (ranks === null) {
    const defs = pluginNames().map((n) => getPluginDefinition(n)!);
    defs.sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    ranks = new Map(defs.map((d, i) => [d.name, i]));
  }
  const rank = ranks.get(name);
  if (rank === undefined) throw new Error(`unknown plugin "${name}" reached a worker`);
  return rank;
}

/**
 * How specific an entry is for this route and consumer, on Kong's eight levels (7 = consumer +
 * route + service ... 0 = global); -1 when it does not apply. `consumer` null = not authenticated.
 */
export function specificity(p: PluginConfig, route: RouteConfig, consumer: string | null): number {
  if (p.consumer !== null && p.consumer !== consumer) return -1;
  if (p.route !== null && p.route !== route.id) return -1;
  if (p.service !== null && p.service !== route.service) return -1;
  const r = p.route !== null;
  const s = p.service !== null;
  if (p.consumer !== null) return r && s ? 7 : r ? 6 : s ? 5 : 3;
  return r && s ? 4 : r ? 2 : s ? 1 : 0;
}

/** The listener a chain serves: each route compiles one chain family per scheme. */
export type Scheme = 'http' | 'https';

/** Kong's plugin `protocols`: an entry runs only on requests of a scheme it names. */
function runsHere(p: PluginConfig, scheme: Scheme): boolean {
  return p.enabled && p.protocols.includes(scheme);
}

/** For each plugin name, the most specific entry without a consumer (levels 4, 2, 1, 0). */
export function resolveWithoutConsumer(route: RouteConfig, plugins: readonly PluginConfig[], scheme: Scheme = 'http'): Map<string, { level: number; plugin: PluginConfig }> {
  const chosen = new Map<string, { level: number; plugin: PluginConfig }>();
  for (const p of plugins) {
    if (!runsHere(p, scheme) || p.consumer !== null) continue;
    const level = specificity(p, route, null);
    if (level < 0) continue;
    const current = chosen.get(p.name);
    if (current === undefined || current.level < level) chosen.set(p.name, { level, plugin: p });
  }
  return chosen;
}

/** Consumer-scoped entries grouped by consumer id (enabled, this scheme), built once per snapshot. */
export function consumerScopedEntries(plugins: readonly PluginConfig[], scheme: Scheme = 'http'): Map<string, PluginConfig[]> {
  const byConsumer = new Map<string, PluginConfig[]>();
  for (const p of plugins) {
    if (!runsHere(p, scheme) || p.consumer === null) continue;
    let list = byConsumer.get(p.consumer);
    if (list === undefined) byConsumer.set(p.consumer, (list = []));
    list.push(p);
  }
  return byConsumer;
}

/** Builds the chains of a snapshot, sharing identical ones between routes and consumers. */
export class ChainBuilder {
  readonly #instanceFor: (p: PluginConfig) => PluginInstance;
  readonly #interned = new Map<string, PluginChain>();

  constructor(instanceFor: (p: PluginConfig) => PluginInstance) {
    this.#instanceFor = instanceFor;
  }

  chain(entries: readonly PluginConfig[], resumeAfterRank = -1): PluginChain {
    const key = `${resumeAfterRank}|${entries.map((p) => p.id).sort().join('\0')}`;
    let chain = this.#interned.get(key);
    if (chain === undefined) {
      chain = new PluginChain(entries.map((p) => ({ rank: pluginRank(p.name), instance: this.#instanceFor(p), name: p.name })), resumeAfterRank);
      this.#interned.set(key, chain);
    }
    return chain;
  }

  /**
   * The per-consumer chains of a route, or `null` when no consumer-scoped entry applies to it or
   * the route has no auth plugin (then no request on it ever has a consumer).
   */
  consumerChains(
    route: RouteConfig,
    base: ReadonlyMap<string, { level: number; plugin: PluginConfig }>,
    byConsumer: ReadonlyMap<string, readonly PluginConfig[]>,
  ): Map<string, ConsumerChains> | null {
    if (byConsumer.size === 0) return null;
    const authRanks: number[] = [];
    for (const { plugin } of base.values()) {
      if (getPluginDefinition(plugin.name)?.authenticates === true) authRanks.push(pluginRank(plugin.name));
    }
    if (authRanks.length === 0) return null;
    authRanks.sort((a, b) => a - b);
    const out = new Map<string, ConsumerChains>();
    for (const [consumer, entries] of byConsumer) {
      const full = new Map(base);
      let applies = false;
      for (const p of entries) {
        const level = specificity(p, route, consumer);
        if (level < 0) continue;
        applies = true;
        const current = full.get(p.name);
        if (current === undefined || current.level < level) full.set(p.name, { level, plugin: p });
      }
      if (!applies) continue;
      const chains = authRanks.map((authRank) => {
        const picked: PluginConfig[] = [];
        for (const [name, { plugin }] of full) {
          // Plugins ranked up to the auth plugin were resolved before the consumer was known.
          if (pluginRank(name) <= authRank) {
            const before = base.get(name);
            if (before !== undefined) picked.push(before.plugin);
          } else {
            picked.push(plugin);
          }
        }
        return this.chain(picked, authRank);
      });
      out.set(consumer, new ConsumerChains(authRanks, chains));
    }
    return out.size === 0 ? null : out;
  }
}
