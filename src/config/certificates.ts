/**
 * The `certificates` and `snis` entities: PEM checks (through src/tls/pem.ts, the same rules the
 * listener relies on), server-name checks, and the normalized list the workers' HTTPS listener
 * reads (tls/certificate-set.ts).
 *
 * This stage produces ConfigErrors itself rather than path issues, because a PEM problem can be
 * placed on its exact line: inside a `|` block scalar, line k of the PEM is line k + 1 after the
 * `|`. Messages never quote key material.
 */
import { isIP } from 'node:net';
import { checkPair, type PemProblem } from '../tls/pem';
import type { ConfigError } from './errors';
import type { CertificateInput, SniInput } from './schema/certificate';
import type { Source } from './source';
import type { CertificateConfig } from './types';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export interface CertificateResult {
  readonly errors: ConfigError[];
  readonly certificates: CertificateConfig[];
}

/** `doc` has passed the document schema. */
export function checkCertificates(doc: { certificates?: CertificateInput[]; snis?: SniInput[] }, source: Source, text: string): CertificateResult {
  const errors: ConfigError[] = [];
  const certs = doc.certificates ?? [];
  const topSnis = doc.snis ?? [];
  const firstSeen = new Map<string, number>(); // sni name -> line of its first definition

  const locate = (path: (string | number)[]) => source.locate(path);
  const error = (entity: string, path: (string | number)[], field: string, message: string, pemLine: number | null = null) => {
    const pos = locate(path);
    let line = pos?.line ?? null;
    let column = pos?.column ?? null;
    // A literal block scalar's text starts on the line after its `|` indicator.
    if (pos !== null && pemLine !== null && text.charCodeAt(pos.offset) === 124 /* | */) {
      line = pos.line + 1 + pemLine;
      column = null;
    }
    errors.push({ entity, field, line, column, message });
  };

  const addName = (entity: string, path: (string | number)[], field: string, name: string): string | null => {
    const problem = sniProblem(name);
    if (problem !== null) {
      error(entity, path, field, problem);
      return null;
    }
    const lower = name.toLowerCase();
    const line = locate(path)?.line ?? 0;
    const first = firstSeen.get(lower);
    if (first !== undefined) {
      error(entity, path, field, `server name "${lower}" is already used by another certificate (first defined at line ${first})`);
      return null;
    }
    firstSeen.set(lower, line);
    return lower;
  };

  const normalized: CertificateConfig[] = certs.map((c, i) => {
    const entity = labelOf(i, c);
    const at = (field: string) => ['certificates', i, field];
    const pem = (field: 'cert' | 'key' | 'cert_alt' | 'key_alt', problem: PemProblem) =>
      error(entity, at(field), field, problem.message, problem.line);

    const pair = checkPair(c.cert, c.key);
    if ('problem' in pair) pem(pair.field, pair.problem);
    const certAlt = c.cert_alt ?? null;
    const keyAlt = c.key_alt ?? null;
    if ((certAlt === null) !== (keyAlt === null)) {
      const missing = certAlt === null ? 'cert_alt' : 'key_alt';
      error(entity, at(certAlt === null ? 'key_alt' : 'cert_alt'), missing, `"cert_alt" and "key_alt" go together; "${missing}" is missing`);
    } else if (certAlt !== null && keyAlt !== null) {
      const alt = checkPair(certAlt, keyAlt);
      if ('problem' in alt) pem(alt.field === 'cert' ? 'cert_alt' : 'key_alt', alt.problem);
      else if (!('problem' in pair) && alt.keyType === pair.keyType) {
        error(entity, at('cert_alt'), 'cert_alt', `"cert" and "cert_alt" must have different key types (RSA and ECDSA); both are ${pair.keyType.toUpperCase()}`);
      }
    }

    const names: string[] = [];
    (c.snis ?? []).forEach((s, j) => {
      const name = typeof s === 'string' ? s : s.name;
      const path = typeof s === 'string' ? ['certificates', i, 'snis', j] : ['certificates', i, 'snis', j, 'name'];
      const ok = addName(entity, path, `snis[${j}]`, name);
      if (ok !== null) names.push(ok);
    });
    return { id: c.id ?? `certificate-${i}`, cert: c.cert, key: c.key, certAlt, keyAlt, snis: names };
  });

  topSnis.forEach((s, i) => {
    const entity = `snis[${i}] (name ${JSON.stringify(s.name)})`;
    const ref = s.certificate;
    const id = typeof ref === 'string' ? ref : ref?.id ?? null;
    const target = id === null ? undefined : normalized.find((c) => c.id === id);
    if (target === undefined) {
      error(entity, ['snis', i, 'certificate'], 'certificate', id === null ? 'must name a certificate by its id' : `no certificate has id ${JSON.stringify(id)}`);
      return;
    }
    const name = addName(entity, ['snis', i, 'name'], 'name', s.name);
    if (name !== null) (target.snis as string[]).push(name);
  });

  return { errors, certificates: normalized };
}

function labelOf(index: number, c: CertificateInput): string {
  if (c.id !== undefined) return `certificates[${index}] (id ${JSON.stringify(c.id)})`;
  const first = c.snis?.[0];
  const name = typeof first === 'string' ? first : first?.name;
  return name === undefined ? `certificates[${index}]` : `certificates[${index}] (sni ${JSON.stringify(name)})`;
}

/** Kong's wildcard_host rules: a hostname, `*` only as the whole leftmost or rightmost label. */
export function sniProblem(name: string): string | null {
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower.includes(':')) return isIP(lower) !== 0 ? `"${name}" must not be an IP address` : `"${name}" must not contain a port`;
  if (isIP(lower) !== 0) return `"${name}" must not be an IP address`;
  const stars = lower.split('*').length - 1;
  if (stars > 1) return `"${name}" may contain only one wildcard`;
  if (stars === 1 && !lower.startsWith('*.') && !lower.endsWith('.*')) return `"${name}": the wildcard must be the whole leftmost or rightmost label ("*.example.com" or "example.*")`;
  const labels = lower.split('.');
  if (labels.length < 2 && stars === 1) return `"${name}": a wildcard needs at least one other label`;
  for (const label of labels) {
    if (label === '*') continue;
    if (!LABEL.test(label)) return `"${name}" is not a valid hostname`;
  }
  return null;
}
