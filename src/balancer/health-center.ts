/**
 * The primary's side of upstream resilience (cold code): it owns the node's SharedArrayBuffer,
 * assigns target and upstream slots (stable across reloads for unchanged targets), resolves
 * target hostnames (dns-resolver.ts), runs the active checks (active-checker.ts) and the
 * passive-ejection timer, and builds the topology the workers compile their balancers from.
 * The admin API reads target health from here (`upstreamHealth`, `targetHealth`).
 */
import type { Logger } from 'pino';
import type { NormalizedConfig, UpstreamConfig } from '../config/types';
import { ActiveChecker } from './active-checker';
import { TargetResolver } from './dns-resolver';
import { describeReason, expireEjection, markDns } from './health-state';
import { HealthState, MAX_TARGET_SLOTS, MAX_UPSTREAM_SLOTS, SharedBalancerState, SlotTable } from './shared-state';
import { bareHost, isAddress, targetSlotKey, type ResolvedTarget, type Topology, type UpstreamTopology } from './topology';

export type TargetStateName = 'healthy' | 'unhealthy' | 'dns_error' | 'draining';

export interface TargetHealthReport {
  readonly target: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly state: TargetStateName;
  readonly healthy: boolean;
  readonly reason: string;
  readonly in_flight: number;
}

/** One row per target address, for /metrics (see README "Upstream resilience"). */
export interface TargetHealthSample {
  readonly upstream: string;
  readonly target: string;
  readonly address: string;
  readonly state: TargetStateName;
  readonly healthy: boolean;
}

export class UpstreamHealthCenter {
  readonly shared = new SharedBalancerState();
  readonly #logger: Logger;
  readonly #targetSlots = new SlotTable(MAX_TARGET_SLOTS, (s) => this.shared.resetTarget(s));
  readonly #upstreamSlots = new SlotTable(MAX_UPSTREAM_SLOTS, (s) => this.shared.resetUpstream(s));
  readonly #resolver: TargetResolver;
  readonly #checker: ActiveChecker;
  readonly #sweeper: NodeJS.Timeout;
  readonly #now: () => number;
  #config: NormalizedConfig | null = null;
  #topology: Topology = {};
  #onChange: ((topology: Topology) => void) | null = null;

  constructor(dnsServer: string | null, logger: Logger, now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#logger = logger;
    this.#now = now;
    this.#resolver = new TargetResolver({ server: dnsServer, logger, onChange: () => this.#rebuild(true) });
    this.#checker = new ActiveChecker(this.shared, logger, now);
    this.#sweeper = setInterval(() => this.expireEjections(), 1000);
    this.#sweeper.unref();
  }

  get topology(): Topology {
    return this.#topology;
  }

  /** Called when DNS answers change the topology (not on apply); the Supervisor broadcasts it. */
  onTopologyChange(fn: (topology: Topology) => void): void {
    this.#onChange = fn;
  }

  /**
   * Take a new config: track its hostnames and rebuild the topology. The promise resolves once
   * every new name has its first DNS answer (the topology is rebuilt then, too).
   */
  apply(config: NormalizedConfig): Promise<Topology> {
    this.#config = config;
    const names = new Set<string>();
    for (const u of config.upstreams) for (const t of u.targets) if (!isAddress(t.host)) names.add(bareHost(t.host));
    const first = this.#resolver.track(names);
    this.#rebuild(false);
    return first.then(() => {
      this.#rebuild(false);
      return this.#topology;
    });
  }

  stop(): void {
    clearInterval(this.#sweeper);
    this.#checker.stop();
    this.#resolver.close();
  }

  /** End passive ejections whose time is over (every second; tests call it with a fake clock). */
  expireEjections(): void {
    const config = this.#config;
    if (config === null) return;
    const now = this.#now();
    for (const u of config.upstreams) {
      const time = u.outlierDetection.ejectionTime;
      if (time <= 0) continue;
      for (const t of this.#topology[u.name]?.targets ?? []) {
        if (expireEjection(this.shared, t.slot, time, now)) {
          this.#logger.info({ upstream: u.name, target: t.target, address: t.address }, 'passive ejection over; target back in rotation');
        }
      }
    }
  }

  /** GET /upstreams/{name}/health. */
  upstreamHealth(name: string): { upstream: string; algorithm: string; health: string; targets: TargetHealthReport[] } | null {
    const u = this.#config?.upstreams.find((x) => x.name === name || x.id === name);
    const topo = u === undefined ? undefined : this.#topology[u.name];
    if (u === undefined || topo === undefined) return null;
    const targets = topo.targets.map((t) => this.#report(t));
    const anyHealthy = targets.some((t) => t.healthy);
    return { upstream: u.name, algorithm: u.algorithm, health: anyHealthy ? 'HEALTHY' : 'UNHEALTHY', targets };
  }

  /** Every target address of every upstream with its health, for the metrics endpoint. */
  targetHealth(): TargetHealthSample[] {
    const out: TargetHealthSample[] = [];
    for (const topo of Object.values(this.#topology)) {
      for (const t of topo.targets) {
        const r = this.#report(t);
        out.push({ upstream: topo.name, target: t.target, address: r.address, state: r.state, healthy: r.healthy });
      }
    }
    return out;
  }

  #report(t: ResolvedTarget): TargetHealthReport {
    const address = t.address.includes(':') ? `[${t.address}]:${t.port}` : `${t.address}:${t.port}`;
    const state = t.slot < 0 ? HealthState.Healthy : this.shared.state(t.slot);
    let name: TargetStateName;
    let reason = describeReason(this.shared, t.slot);
    if (state === HealthState.DnsError || t.dnsError) name = 'dns_error';
    else if (t.weight === 0) {
      name = 'draining';
      reason = 'weight 0';
    } else name = state === HealthState.Healthy ? 'healthy' : 'unhealthy';
    return {
      target: t.target,
      address,
      port: t.port,
      weight: t.weight,
      state: name,
      healthy: name === 'healthy',
      reason,
      in_flight: this.shared.inFlight(t.slot),
    };
  }

  #rebuild(notify: boolean): void {
    const config = this.#config;
    if (config === null) return;
    const planned: Array<{ upstream: UpstreamConfig; entries: Array<Omit<ResolvedTarget, 'slot'> & { key: string }> }> = [];
    const targetKeys: string[] = [];
    for (const u of config.upstreams) {
      const entries: Array<Omit<ResolvedTarget, 'slot'> & { key: string }> = [];
      for (const t of u.targets) {
        const host = bareHost(t.host);
        const resolved = isAddress(host) ? [host] : this.#resolver.addresses(host);
        const base = { target: t.target, host, port: t.port, weight: t.weight };
        if (resolved === null) entries.push({ ...base, address: host, dnsError: false, key: targetSlotKey(u.name, t.target, host) });
        else if (resolved.length === 0) entries.push({ ...base, address: host, dnsError: true, key: targetSlotKey(u.name, t.target, '') });
        else for (const a of resolved) entries.push({ ...base, address: a, dnsError: false, key: targetSlotKey(u.name, t.target, a) });
      }
      for (const e of entries) targetKeys.push(e.key);
      planned.push({ upstream: u, entries });
    }
    const tSlots = this.#targetSlots.assign(targetKeys);
    const uSlots = this.#upstreamSlots.assign(config.upstreams.map((u) => u.name));
    const topology: Record<string, UpstreamTopology> = {};
    for (const { upstream, entries } of planned) {
      topology[upstream.name] = {
        name: upstream.name,
        slot: uSlots.get(upstream.name) ?? -1,
        targets: entries.map(({ key, ...e }) => {
          const slot = tSlots.get(key) ?? -1;
          markDns(this.shared, slot, e.dnsError);
          return { ...e, slot };
        }),
      };
    }
    if (tSlots.size > 0 && [...tSlots.values()].includes(-1)) this.#logger.warn('more targets than balancer slots; some targets are not health-tracked');
    this.#topology = topology;
    this.#checker.update(config.upstreams, topology);
    if (notify) this.#onChange?.(topology);
  }
}
