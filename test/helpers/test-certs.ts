/**
 * TLS material generated for a test run with the openssl CLI (never committed): a CA, and leaf
 * certificates signed by it with RSA and EC keys. Everything lives in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestCerts {
  readonly ca: KeyPair;
  readonly rsa: KeyPair;
  readonly ec: KeyPair;
  /** A second RSA leaf, so "the key of another certificate" can be tested. */
  readonly otherRsa: KeyPair;
  /** A self-signed leaf without the CA basic constraint. */
  readonly notCa: KeyPair;
}

export function generateTestCerts(): TestCerts {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-certs-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
      '-subj', '/CN=Floodgate Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const leaf = (name: string, keyArgs: string[]) => {
      ssl('req', '-new', '-nodes', ...keyArgs, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}.example.com`);
      writeFileSync(path.join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nsubjectAltName=DNS:${name}.example.com\n`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    };
    leaf('rsa', ['-newkey', 'rsa:2048']);
    leaf('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']);
    leaf('other', ['-newkey', 'rsa:2048']);
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'plain.key', '-out', 'plain.crt', '-days', '2',
      '-subj', '/CN=plain.example.com', '-addext', 'basicConstraints=critical,CA:FALSE');
    const pair = (name: string): KeyPair => ({
      cert: readFileSync(path.join(dir, `${name}.crt`), 'utf8'),
      key: readFileSync(path.join(dir, `${name}.key`), 'utf8'),
    });
    return { ca: pair('ca'), rsa: pair('rsa'), ec: pair('ec'), otherRsa: pair('other'), notCa: pair('plain') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
