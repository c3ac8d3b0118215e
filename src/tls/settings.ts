/**
 * The HTTPS listener's node settings (`--listen-tls`, `--tls-cert`, `--tls-key`), the default
 * certificate they name, and the check the primary runs on every config before it goes live.
 */
import { readFileSync } from 'node:fs';
import type { NormalizedConfig } from '../config/types';
import { certificateSet, certificatesOf, type TlsCertificate } from './certificate-set';
import { checkCertificateChain, checkPair } from './pem';

/** Downstream client certificates (mTLS), `--tls-client-verify`: NGINX's `ssl_verify_client` off | optional | on. */
export type ClientVerify = 'off' | 'optional' | 'required';

export interface TlsSettings {
  /**
   * `auto` (no --listen-tls given): listen once there is a certificate (config or --tls-cert);
   * `on` (--listen-tls HOST:PORT): a certificate is required; `off` (--listen-tls off).
   */
  readonly mode: 'auto' | 'on' | 'off';
  readonly host: string;
  /** Kong's proxy_listen for TLS is 8443. */
  readonly port: number;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  /** `--tls-client-verify` (default off: the front never asks for a certificate). */
  readonly clientVerify?: ClientVerify;
  /** `--tls-client-ca FILE`: CA certificates (PEM) trusted beside the config's `ca_certificates`; re-read on reload. */
  readonly clientCaFile?: string | null;
  /** `--tls-client-xfcc on|off`: send the verified certificate upstream as `x-forwarded-client-cert` (default on). */
  readonly clientXfcc?: boolean;
}

export const defaultTlsSettings: TlsSettings = { mode: 'auto', host: '0.0.0.0', port: 8443, certFile: null, keyFile: null, clientVerify: 'off', clientCaFile: null, clientXfcc: true };

export const CLI_CERTIFICATE_ID = '--tls-cert';

/**
 * Reads and checks `--tls-cert` / `--tls-key`; `null` when they are not given. Throws with
 * `FILE:LINE: what` when a file is unreadable or its PEM is bad. Read again on every reload, so a
 * renewed certificate on disk goes live with SIGHUP.
 */
export function readDefaultCertificate(tls: TlsSettings): TlsCertificate | null {
  if (tls.certFile === null || tls.keyFile === null) return null;
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  const cert = read(tls.certFile);
  const key = read(tls.keyFile);
  const pair = checkPair(cert, key);
  if ('problem' in pair) {
    const file = pair.field === 'cert' ? tls.certFile : tls.keyFile;
    const where = pair.problem.line === null ? file : `${file}:${pair.problem.line + 1}`;
    throw new Error(`${where}: ${pair.problem.message}`);
  }
  return { id: CLI_CERTIFICATE_ID, cert, key, certAlt: null, keyAlt: null, snis: [] };
}

/**
 * The CA certificates (PEM, one per entry) client certificates are verified against: the config's
 * `ca_certificates`, then the blocks of `--tls-client-ca`. Throws with `FILE:LINE: what` when the
 * file is unreadable or a block is not a certificate.
 */
export function clientCaCertificates(config: NormalizedConfig, tls: TlsSettings): string[] {
  const out = (config.caCertificates ?? []).map((c) => c.cert);
  const file = tls.clientCaFile ?? null;
  if (file === null) return out;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const chain = checkCertificateChain(text);
  if ('message' in chain) throw new Error(`${chain.line === null ? file : `${file}:${chain.line + 1}`}: ${chain.message}`);
  for (const c of chain) out.push(c.toString());
  return out;
}

/**
 * `null` when `config` can go live as far as TLS is concerned; else why not. `previous` is the
 * config being served (null at start): a listener that serves certificates must keep one.
 */
export function tlsConfigProblem(config: NormalizedConfig, tls: TlsSettings | undefined, previous: NormalizedConfig | null): string | null {
  if (tls === undefined || tls.mode === 'off') return null;
  if ((tls.clientVerify ?? 'off') !== 'off') {
    let cas: string[];
    try {
      cas = clientCaCertificates(config, tls);
    } catch (err) {
      return `--tls-client-ca: ${(err as Error).message}`;
    }
    if (cas.length === 0) return `--tls-client-verify ${tls.clientVerify} needs CA certificates to verify clients against: add "ca_certificates" to the config or give --tls-client-ca FILE`;
  }
  let cliDefault: TlsCertificate | null;
  try {
    cliDefault = readDefaultCertificate(tls);
  } catch (err) {
    return `--tls-cert/--tls-key: ${(err as Error).message}`;
  }
  if (certificateSet(config, cliDefault).fallback !== null) return null;
  if (tls.mode === 'on') {
    return `--listen-tls ${tls.host}:${tls.port} needs a certificate: give --tls-cert and --tls-key, or add "certificates" to the config`;
  }
  if (previous !== null && certificatesOf(previous).length > 0) {
    return 'the config has no certificates left, but the HTTPS listener is serving them; keep at least one (or start with --listen-tls off)';
  }
  return null;
}
