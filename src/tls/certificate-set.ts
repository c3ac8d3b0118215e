/**
 * What the HTTPS listener needs to know about certificates, and nothing more: PEM text and the
 * server names each certificate answers for. It is built from two sources:
 *   - the config's Kong `certificates` / `snis` entities (checked by config/tls-checks.ts,
 *     normalized by config/normalize.ts, read here through `certificatesOf`);
 *   - `--tls-cert` / `--tls-key`, the default certificate, read from disk by whoever builds the set.
 *
 * Plain data, so it can be compared (`fingerprintOf`) to decide whether a reload changed anything
 * that the listener must rebuild.
 */
import { createHash } from 'node:crypto';
import type { NormalizedConfig } from '../config/types';

export interface TlsCertificate {
  /** The entity's id, or `--tls-cert` for the default given on the command line. */
  readonly id: string;
  /** PEM: the leaf first, then any intermediates. */
  readonly cert: string;
  readonly key: string;
  /** Kong's second certificate of the other key type (ECDSA beside RSA); see README "TLS". */
  readonly certAlt: string | null;
  readonly keyAlt: string | null;
  /** Lower-case names, exact (`api.example.com`) or wildcard (`*.example.com`, `example.*`). */
  readonly snis: readonly string[];
}

export interface CertificateSet {
  /**
   * Served to clients that send no SNI or a name no certificate claims: `--tls-cert` when given,
   * else the config's first certificate (NGINX's first-server rule). `null` only when empty.
   */
  readonly fallback: TlsCertificate | null;
  /** The config's certificates in file order (the default from the command line is not listed). */
  readonly certificates: readonly TlsCertificate[];
}

export const EMPTY_CERTIFICATE_SET: CertificateSet = { fallback: null, certificates: [] };

/** The config's normalized `certificates` (config/normalize.ts), as the listener needs them. */
export function certificatesOf(config: NormalizedConfig): readonly TlsCertificate[] {
  return (config.certificates ?? []).map((c) => ({ id: c.id, cert: c.cert, key: c.key, certAlt: c.certAlt, keyAlt: c.keyAlt, snis: c.snis }));
}

export function certificateSet(config: NormalizedConfig, cliDefault: TlsCertificate | null): CertificateSet {
  const certificates = certificatesOf(config);
  return { fallback: cliDefault ?? certificates[0] ?? null, certificates };
}

/** Equal sets have equal fingerprints; the listener rebuilds only when this changes. */
export function fingerprintOf(set: CertificateSet): string {
  const h = createHash('sha256');
  const add = (c: TlsCertificate | null) => {
    if (c === null) return void h.update('-\0');
    h.update(`${c.id}\0${c.cert}\0${c.key}\0${c.certAlt ?? ''}\0${c.keyAlt ?? ''}\0${c.snis.join(',')}\0`);
  };
  add(set.fallback);
  for (const c of set.certificates) add(c);
  return h.digest('hex');
}

/** A short, stable tag for one PEM pair (file names, logs); never the key itself. */
export function pairTag(cert: string, key: string): string {
  return createHash('sha256').update(cert).update('\0').update(key).digest('hex').slice(0, 16);
}
