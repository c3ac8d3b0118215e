/**
 * The HTTPS listener's node settings (`--listen-tls`, `--tls-cert`, `--tls-key`), the default
 * certificate they name, and the check the primary runs on every config before it goes live.
 */
import { readFileSync } from 'node:fs';
import type { NormalizedConfig } from '../config/types';
import { certificateSet, certificatesOf, type TlsCertificate } from './certificate-set';
import { checkPair } from './pem';

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
}

export const defaultTlsSettings: TlsSettings = { mode: 'auto', host: '0.0.0.0', port: 8443, certFile: null, keyFile: null };

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
 * `null` when `config` can go live as far as TLS is concerned; else why not. `previous` is the
 * config being served (null at start): a listener that serves certificates must keep one.
 */
export function tlsConfigProblem(config: NormalizedConfig, tls: TlsSettings | undefined, previous: NormalizedConfig | null): string | null {
  if (tls === undefined || tls.mode === 'off') return null;
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
