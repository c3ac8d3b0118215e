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
