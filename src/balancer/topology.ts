/**
 * The resolved shape of every upstream, produced by the primary and sent to the workers (plain
 * data, structured-clone safe): each target expanded to one entry per resolved address, each
 * entry with its node-wide state slot. Workers compile their balancers from it.
 */
import { isIP } from 'node:net';
import type { NormalizedConfig } from '../config/types';

export interface ResolvedTarget {
  /** The target as configured ("host:port"). */
  readonly target: string;
  /** The configured host (a name or an IP; IPv6 without brackets). */
  readonly host: string;
  /** The address to connect to: an IP, or the name itself while it is not resolved yet. */
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /** Slot in the SharedArrayBuffer; -1 when untracked. */
  readonly slot: number;
  /** DNS gave no address: the entry is never picked. */
  readonly dnsError: boolean;
}

export interface UpstreamTopology {
  readonly name: string;
  readonly slot: number;
  readonly targets: readonly ResolvedTarget[];
}

export type Topology = Readonly<Record<string, UpstreamTopology>>;

export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export function isAddress(host: string): boolean {
  return isIP(bareHost(host)) !== 0;
}

export function targetSlotKey(upstream: string, target: string, address: string): string {
  return `${upstream}|${target}|${address}`;
}

/**
 * Without a primary (compile checks, unit tests): every target as configured, untracked.
 */
export function standaloneTopology(config: NormalizedConfig): Topology {
  const out: Record<string, UpstreamTopology> = {};
  for (const u of config.upstreams) {
    out[u.name] = {
      name: u.name,
      slot: -1,
      targets: u.targets.map((t) => ({
        target: t.target,
        host: bareHost(t.host),
        address: bareHost(t.host),
        port: t.port,
        weight: t.weight,
        slot: -1,
        dnsError: false,
      })),
    };
  }
  return out;
}
