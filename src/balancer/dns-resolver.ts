/**
 * Re-resolves target hostnames on the primary, honouring TTLs: A records first, then AAAA,
 * through `dns.Resolver` with `{ttl: true}` (pointed at `--dns-resolver HOST:PORT` when given);
 * names the resolver cannot answer (an /etc/hosts name such as `localhost`) fall back to the
 * system's `dns.lookup` and are refreshed every `lookupRefreshMs`. Each resolved address becomes
 * its own target (balancer/topology.ts). A change in any name's addresses calls `onChange`.
 */
import dns from 'node:dns';
import fs from 'node:fs';
import type { Logger } from 'pino';

export interface ResolverOptions {
  /** "host:port" of the DNS server to ask, or null for the system's resolv.conf servers. */
  readonly server: string | null;
  readonly logger: Logger;
  readonly onChange: () => void;
  readonly lookupRefreshMs?: number;
  /** Lower bound on re-resolution, so a TTL of 0 does not spin. */
  readonly minTtlSeconds?: number;
}

interface Entry {
  addresses: string[] | null;
  failed: boolean;
  timer: NodeJS.Timeout | null;
  pending: Promise<void> | null;
}

export class TargetResolver {
  readonly #opts: ResolverOptions;
  readonly #resolver: dns.promises.Resolver;
  readonly #entries = new Map<string, Entry>();
  readonly #hostsFile: ReadonlySet<string>;
  #closed = false;

  constructor(opts: ResolverOptions) {
    this.#opts = opts;
    this.#resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    if (opts.server !== null) this.#resolver.setServers([opts.server]);
    this.#hostsFile = opts.server === null ? readHostsFile() : new Set();
  }

  /** Track exactly these names; resolves once every new name has its first answer. */
  track(hosts: Iterable<string>): Promise<void> {
    const wanted = new Set(hosts);
    for (const [host, e] of this.#entries) {
      if (wanted.has(host)) continue;
      if (e.timer !== null) clearTimeout(e.timer);
      this.#entries.delete(host);
    }
    const firsts: Promise<void>[] = [];
    for (const host of wanted) {
      let e = this.#entries.get(host);
      if (e === undefined) {
        e = { addresses: null, failed: false, timer: null, pending: null };
        this.#entries.set(host, e);
        e.pending = this.#refresh(host, e);
      }
      if (e.pending !== null) firsts.push(e.pending);
    }
    return Promise.all(firsts).then(() => undefined);
  }

  /** Sorted addresses; null before the first answer; [] when resolution failed. */
  addresses(host: string): readonly string[] | null {
    return this.#entries.get(host)?.addresses ?? null;
  }

  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) if (e.timer !== null) clearTimeout(e.timer);
    this.#entries.clear();
  }

  async #refresh(host: string, e: Entry): Promise<void> {
    const { addresses, ttl } = await this.#resolve(host);
    e.pending = null;
    if (this.#closed || this.#entries.get(host) !== e) return;
    const before = e.addresses;
    if (addresses.length === 0) {
      // Keep serving the last good answer through a transient failure, as resolvers do with stale records.
      if (before === null || before.length === 0) e.addresses = [];
      e.failed = true;
    } else {
      e.addresses = addresses;
      e.failed = false;
    }
    const changed = before === null || before.join(',') !== (e.addresses ?? []).join(',');
    e.timer = setTimeout(() => {
      e.timer = null;
      e.pending = this.#refresh(host, e);
    }, ttl * 1000);
    e.timer.unref();
    if (changed && before !== null) {
      this.#opts.logger.info({ host, addresses: e.addresses }, 'target addresses changed');
      this.#opts.onChange();
    }
  }

  async #resolve(host: string): Promise<{ addresses: string[]; ttl: number }> {
    const minTtl = this.#opts.minTtlSeconds ?? 1;
    const lookupTtl = (this.#opts.lookupRefreshMs ?? 30_000) / 1000;
    if (!this.#hostsFile.has(host.toLowerCase())) {
      for (const family of [4, 6] as const) {
        try {
          const records = family === 4 ? await this.#resolver.resolve4(host, { ttl: true }) : await this.#resolver.resolve6(host, { ttl: true });
          if (records.length > 0) {
            const ttl = Math.max(minTtl, Math.min(...records.map((r) => r.ttl)));
            return { addresses: records.map((r) => r.address).sort(), ttl };
          }
        } catch (err) {
          // No record of this family: try the next. The server did not answer at all (timeout,
          // refused): asking again for AAAA would only double the wait, so go to the system lookup.
          const code = (err as { code?: string }).code;
          if (code !== 'ENODATA' && code !== 'ENOTFOUND') break;
        }
      }
    }
    try {
      const found = await dns.promises.lookup(host, { all: true });
      const addresses = [...new Set(found.map((a) => a.address))].sort();
      return { addresses, ttl: Math.max(minTtl, lookupTtl) };
    } catch (err) {
      this.#opts.logger.warn({ host, err: (err as Error).message }, 'target name resolution failed');
      return { addresses: [], ttl: Math.max(minTtl, Math.min(lookupTtl, 5)) };
    }
  }
}

function readHostsFile(): Set<string> {
  const names = new Set<string>();
  try {
    for (const line of fs.readFileSync('/etc/hosts', 'utf8').split('\n')) {
      const fields = line.replace(/#.*/, '').trim().split(/\s+/);
      for (const name of fields.slice(1)) names.add(name.toLowerCase());
    }
  } catch {
    // No hosts file: every name goes to DNS first.
  }
  return names;
}
