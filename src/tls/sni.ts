/**
 * Which certificate answers a TLS ClientHello, as Kong picks it: the exact server name first, then
 * the prefix wildcard (`*.example.com` for `api.example.com`), then the suffix wildcard
 * (`api.example.*`), else the fallback. A wildcard stands for exactly one label, at the left or the
 * right end only.
 *
 * uWS does the lookup itself, in native code (uSockets' SNI tree, filled by addServerName), so
 * `serverNameEntries` turns a certificate set into the names to register such that the tree gives
 * Kong's answer. The tree also matches `*` as one label, but walks depth first, preferring the
 * literal label at each level: for a host that both a prefix and a suffix wildcard match, it would
 * take the suffix one. Such a host is unique per pair (the suffix pattern's first label followed by
 * the prefix pattern's rest), so registering it as an exact name with the prefix wildcard's
 * certificate restores Kong's order. test/unit/tls-sni.test.ts replays the tree's walk to check it.
 */
import type { CertificateSet, TlsCertificate } from './certificate-set';

export interface ServerNameEntry {
  /** As registered with uWS: an exact name or a wildcard pattern, lower-case. */
  readonly pattern: string;
  readonly certificate: TlsCertificate;
}

/** Kong's choice for a server name the client sent ('' = no SNI). */
export function selectCertificate(set: CertificateSet, serverName: string): TlsCertificate | null {
  if (serverName === '') return set.fallback;
  const byName = namesOf(set);
  const host = normalizeServerName(serverName);
  const exact = byName.get(host);
  if (exact !== undefined) return exact;
  const firstDot = host.indexOf('.');
  if (firstDot !== -1) {
    const prefix = byName.get('*' + host.slice(firstDot));
    if (prefix !== undefined) return prefix;
    const suffix = byName.get(host.slice(0, host.lastIndexOf('.') + 1) + '*');
    if (suffix !== undefined) return suffix;
  }
  return set.fallback;
}

/** Lower case, without the trailing dot of a fully qualified name. */
export function normalizeServerName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function namesOf(set: CertificateSet): Map<string, TlsCertificate> {
  const byName = new Map<string, TlsCertificate>();
  for (const c of set.certificates) for (const name of c.snis) if (!byName.has(name)) byName.set(name, c);
  return byName;
}

/** The names to register with uWS, exact names and wildcards, plus the tie-breaking exact names. */
export function serverNameEntries(set: CertificateSet): ServerNameEntry[] {
  const byName = namesOf(set);
  const entries: ServerNameEntry[] = [];
  for (const [pattern, certificate] of byName) entries.push({ pattern, certificate });
  const prefixes = [...byName.keys()].filter((n) => n.startsWith('*.')).map((n) => n.slice(2).split('.'));
  const suffixes = [...byName.keys()].filter((n) => n.endsWith('.*')).map((n) => n.slice(0, -2).split('.'));
  for (const rest of prefixes) {
    for (const start of suffixes) {
      // Host labels h1..hn: the prefix pattern fixes h2..hn (= rest), the suffix one h1..hn-1 (= start).
      if (rest.length !== start.length) continue;
      let overlap = true;
      for (let i = 1; i < start.length; i++) if (start[i] !== rest[i - 1]) overlap = false;
      if (!overlap) continue;
      const host = [start[0], ...rest].join('.');
      if (byName.has(host)) continue; // an exact name already wins
      entries.push({ pattern: host, certificate: byName.get('*.' + rest.join('.'))! });
    }
  }
  return entries;
}
