/**
 * Checks on Kong's TLS entities that need code: the PEM texts parse (node:crypto), a key belongs
 * to its certificate, an alternative pair has the other key type, a CA certificate is a CA and
 * not expired, and SNI names follow Kong's rules. Messages never quote a key.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { Path } from './errors';
import type { CaCertificateInput, CertificateInput, SniInput } from './schema/certificate';

type Report = (path: Path, message: string, at?: 'key') => void;

export function parseCertificate(pem: string): X509Certificate | string {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return 'must be a PEM certificate ("-----BEGIN CERTIFICATE-----")';
  try {
    return new X509Certificate(pem);
  } catch (err) {
    return `invalid PEM certificate: ${reasonOf(err)}`;
  }
}

export function parsePrivateKey(pem: string): KeyObject | string {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return 'must be a PEM private key ("-----BEGIN ... PRIVATE KEY-----")';
  try {
    return createPrivateKey(pem);
  } catch (err) {
    // OpenSSL's reason only; it never contains the key.
    return `invalid PEM private key: ${reasonOf(err)}`;
  }
}

export function checkCertificate(c: CertificateInput, report: Report): void {
  const main = checkPair(c.cert, c.key, ['cert'], ['key'], 'certificate does not match key', report);
  const hasAlt = c.cert_alt !== undefined;
  if (hasAlt !== (c.key_alt !== undefined)) {
    report(hasAlt ? ['key_alt'] : ['cert_alt'], `is required when ${hasAlt ? 'cert_alt' : 'key_alt'} is set (Kong: cert_alt and key_alt go together)`);
    return;
  }
  if (!hasAlt) return;
  const alt = checkPair(c.cert_alt!, c.key_alt!, ['cert_alt'], ['key_alt'], 'alternative certificate does not match key', report);
  if (main !== null && alt !== null && main.publicKey.asymmetricKeyType === alt.publicKey.asymmetricKeyType) {
    report(
      ['cert_alt'],
      `certificate and alternative certificate need to have different types (e.g. RSA and ECDSA); both are ${main.publicKey.asymmetricKeyType ?? 'unknown'}`,
    );
  }
}

function checkPair(certPem: string, keyPem: string, certPath: Path, keyPath: Path, mismatch: string, report: Report): X509Certificate | null {
  const cert = parseCertificate(certPem);
  const key = parsePrivateKey(keyPem);
  if (typeof cert === 'string') report(certPath, cert);
  if (typeof key === 'string') report(keyPath, key);
  if (typeof cert === 'string' || typeof key === 'string') return null;
  if (!cert.checkPrivateKey(key)) {
    report(keyPath, mismatch);
    return null;
  }
  return cert;
}

export function checkCaCertificate(c: CaCertificateInput, report: Report, now = Date.now()): void {
  const cert = parseCertificate(c.cert);
  if (typeof cert === 'string') {
    report(['cert'], cert);
    return;
  }
  if (!cert.ca) report(['cert'], 'certificate does not appear to be a CA because it is missing the "CA" basic constraint');
  else if (Date.parse(cert.validTo) < now) report(['cert'], `certificate expired, "Not After" time is in the past (${cert.validTo})`);
  if (c.cert_digest !== undefined && c.cert_digest.toLowerCase() !== caDigest(cert)) {
    report(['cert_digest'], 'does not match the certificate (Kong\'s cert_digest is the SHA-256 of the DER certificate, hex); remove it to have it computed');
  }
}

/** Kong's `cert_digest`: SHA-256 of the DER encoding, lower-case hex. */
export function caDigest(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('hex');
}

/**
 * Kong's SNI name rules: a hostname, not an IP, no port, at most one `*` and only as the whole
 * leftmost or rightmost label (`*.example.com`, `example.*`), the only forms Kong's certificate
 * lookup can ever match.
 */
export function sniProblem(name: string): string | null {
  const stars = name.split('*').length - 1;
  if (stars > 1) return 'only one wildcard must be specified';
  if (stars === 1 && !(name.startsWith('*.') || name.endsWith('.*'))) {
    return 'wildcard must be the whole leftmost or rightmost label ("*.example.com" or "example.*")';
  }
  const bare = name.replace(/^\*\./, '').replace(/\.\*$/, '');
  const unbracketed = bare.startsWith('[') && bare.endsWith(']') ? bare.slice(1, -1) : bare;
  if (isIP(unbracketed) !== 0) return 'must not be an IP';
  if (/:\d*$/.test(bare)) return 'must not have a port';
  if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/i.test(bare)) return `invalid value: ${name}`;
  return null;
}

export function checkSni(s: SniInput, nestedInCertificate: boolean, report: Report): void {
  const bad = sniProblem(s.name);
  if (bad !== null) report(['name'], bad);
  const hasCert = s.certificate !== undefined;
  if (nestedInCertificate && hasCert) report(['certificate'], 'must not be set on an SNI nested in a certificate (it belongs to that certificate)', 'key');
  if (!nestedInCertificate && !hasCert) report(['certificate'], 'is required for a top-level SNI (or nest it in its certificate\'s "snis")');
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^error:[0-9A-F]+:/i, '').trim();
}
