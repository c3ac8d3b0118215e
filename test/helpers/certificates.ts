/**
 * Certificates made by the test, never committed: the openssl CLI writes a fresh key and a
 * self-signed certificate for a name (CN and subjectAltName), RSA 2048 or ECDSA P-256.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  readonly cn: string;
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-test-certs-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;

export function makeCertificate(cn: string, type: 'ec' | 'rsa' = 'ec', sans: readonly string[] = [cn]): TestCertificate {
  const base = path.join(dir, `${++counter}`);
  const keyArgs = type === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  const san = sans.map((n) => `DNS:${n}`).join(',');
  execFileSync('openssl', [
    'req', '-x509', ...keyArgs, '-nodes', '-days', '2',
    '-keyout', `${base}.key`, '-out', `${base}.crt`,
    '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cn, cert: fs.readFileSync(`${base}.crt`, 'utf8'), key: fs.readFileSync(`${base}.key`, 'utf8'), certFile: `${base}.crt`, keyFile: `${base}.key` };
}

/** A PEM as a YAML literal block at `indent` spaces (for `cert: |`). */
export function yamlBlock(pem: string, indent: number): string {
  const pad = ' '.repeat(indent);
  return pem.trimEnd().split('\n').map((l) => pad + l).join('\n');
}

/** A certificate authority (CA:TRUE, keyCertSign) made by the test, ECDSA P-256. */
export function makeCa(cn: string): TestCertificate {
  const base = path.join(dir, `${++counter}`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', `${base}.key`, '-out', `${base}.crt`, '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cn, cert: fs.readFileSync(`${base}.crt`, 'utf8'), key: fs.readFileSync(`${base}.key`, 'utf8'), certFile: `${base}.crt`, keyFile: `${base}.key` };
}

/**
 * A client certificate issued by `ca` (clientAuth), subject `subject` (`/O=Example/CN=alice`),
 * with `sans` as given to openssl (`URI:spiffe://test/alice`, `DNS:alice.test`).
 */
export function makeClientCertificate(subject: string, ca: TestCertificate, sans: readonly string[] = []): TestCertificate {
  const base = path.join(dir, `${++counter}`);
  const ext = ['-addext', 'basicConstraints=CA:FALSE', '-addext', 'extendedKeyUsage=clientAuth'];
  if (sans.length > 0) ext.push('-addext', `subjectAltName=${sans.join(',')}`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-CA', ca.certFile, '-CAkey', ca.keyFile,
    '-keyout', `${base}.key`, '-out', `${base}.crt`, '-subj', subject, ...ext,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const cn = /CN=([^/]*)/.exec(subject)?.[1] ?? subject;
  return { cn, cert: fs.readFileSync(`${base}.crt`, 'utf8'), key: fs.readFileSync(`${base}.key`, 'utf8'), certFile: `${base}.crt`, keyFile: `${base}.key` };
}
