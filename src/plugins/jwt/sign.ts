/**
 * Making tokens, for tests, benchmarks and demos (Kong's jwt_parser has the same `encode` "for
 * test purposes"). The gateway itself never signs.
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { JwtAlgorithm } from '../../config/types';

export function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

const HASHES: Readonly<Record<string, string>> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/**
 * Sign `claims` as a compact JWS. `key` is the HMAC secret (HS*) or the private key. `header`
 * replaces the default `{"typ":"JWT","alg":alg}` entirely when given.
 */
export function signJwt(
  claims: unknown,
  alg: JwtAlgorithm,
  key: string | Buffer | KeyObject,
  header: unknown = { typ: 'JWT', alg },
): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${base64url(signature(input, alg, key))}`;
}

/** The raw JWS signature of `input` (ECDSA as IEEE P1363 r||s, as JWS wants). */
export function signature(input: string, alg: JwtAlgorithm, key: string | Buffer | KeyObject): Buffer {
  const data = Buffer.from(input, 'latin1');
  if (alg === 'EdDSA') return crypto.sign(null, data, key as KeyObject);
  const hash = HASHES[alg.slice(2)];
  if (alg.startsWith('HS')) return crypto.createHmac(hash, key).update(data).digest();
  if (alg.startsWith('ES')) return crypto.sign(hash, data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  return crypto.sign(hash, data, key as KeyObject);
}
