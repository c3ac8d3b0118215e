/**
 * Compact JWS: decoding a token into its parts, and verifying its signature with a credential's
 * key. node:crypto only.
 *
 * Decoding follows Kong's jwt_parser.lua step by step, so a malformed token gets Kong's answer
 * ("Bad token; invalid JSON" / "invalid alg" / "invalid claims" / "invalid signature"), but never
 * Kong's 500s: a header that is JSON but not an object, an ES256 signature of the wrong length or
 * a credential whose public key does not parse are verdicts here, not crashes.
 *
 * Nothing here throws for any input. JSON.parse and the crypto calls are the only operations that
 * can throw; each sits in its own small try/catch that turns the failure into a verdict.
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { JwtAlgorithm, JwtSecretConfig } from '../../config/types';

export const enum DecodeError {
  None = 0,
  InvalidJson = 1,
  InvalidAlg = 2,
  InvalidClaims = 3,
  InvalidSignature = 4,
}

/**
 * Every `alg` Kong's parser knows. A token naming one of these decodes; whether it matches the
 * credential's algorithm is checked later ("Invalid algorithm"), as in Kong. `none` and anything
 * else are "Bad token; invalid alg".
 */
const KNOWN_ALGS: ReadonlySet<string> = new Set([
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'ES256', 'ES384', 'ES512',
  'PS256', 'PS384', 'PS512',
  'EdDSA',
]);

/** base64 or base64url, optionally padded: what Kong's base64_decode accepts. */
const BASE64 = /^[A-Za-z0-9_\-+/]*={0,2}$/;

function isBase64(s: string): boolean {
  if (!BASE64.test(s)) return false;
  let n = s.length;
  while (n > 0 && s.charCodeAt(n - 1) === 61 /* = */) n--;
  return n % 4 !== 1;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** A property the object really has (never one from Object.prototype, e.g. `constructor`). */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return hasOwn.call(obj, key) ? obj[key] : undefined;
}

function parseSegment(segment: string): unknown {
  if (segment.length === 0 || !isBase64(segment)) return undefined;
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A decoded token. One reusable instance per plugin instance: decode() overwrites it. */
export class DecodedToken {
  header: Record<string, unknown> = {};
  claims: Record<string, unknown> = {};
  alg = '';
  /** `<header>.<claims>`, exactly as received: what the signature covers. */
  signingInput = '';
  signature: Buffer = Buffer.alloc(0);

  /** Fill this from `token`, or say why it is not a JWS. */
  decode(token: string): DecodeError {
    const d1 = token.indexOf('.');
    if (d1 < 0) return DecodeError.InvalidJson;
    const d2 = token.indexOf('.', d1 + 1);
    if (d2 < 0) return DecodeError.InvalidJson;
    // Kong decodes both JSON parts before it looks at either.
    const header = parseSegment(token.slice(0, d1));
    if (header === undefined) return DecodeError.InvalidJson;
    const claims = parseSegment(token.slice(d1 + 1, d2));
    if (claims === undefined) return DecodeError.InvalidJson;
    if (!isObject(header)) return DecodeError.InvalidAlg;
    const alg = own(header, 'alg');
    if (typeof alg !== 'string' || !KNOWN_ALGS.has(alg)) return DecodeError.InvalidAlg;
    if (!isObject(claims)) return DecodeError.InvalidClaims;
    // Everything after the second dot; a further dot makes it invalid base64, as in Kong.
    const sig = token.slice(d2 + 1);
    if (!isBase64(sig)) return DecodeError.InvalidSignature;
    this.header = header;
    this.claims = claims;
    this.alg = alg;
    this.signingInput = token.slice(0, d2);
    this.signature = Buffer.from(sig, 'base64url');
    return DecodeError.None;
  }
}

const enum Kind {
  Hmac = 0,
  Rsa = 1,
  Ecdsa = 2,
  EdDsa = 3,
}

/** A credential's key, parsed once and checked against its algorithm. */
export class PreparedKey {
  constructor(
    readonly kind: Kind,
    /** Digest name for crypto, `null` for EdDSA. */
    readonly hash: string | null,
    readonly key: KeyObject,
    /** ECDSA: the exact raw r||s length; 0 when any length may be tried. */
    readonly signatureLength: number,
  ) {}
}

interface AlgSpec {
  readonly kind: Kind;
  readonly hash: string | null;
  /** Required asymmetricKeyType, and for EC the curve. */
  readonly keyType: string | null;
  readonly curve: string | null;
  readonly signatureLength: number;
}

const ALGS: Readonly<Record<JwtAlgorithm, AlgSpec>> = {
  HS256: { kind: Kind.Hmac, hash: 'sha256', keyType: null, curve: null, signatureLength: 0 },
  HS384: { kind: Kind.Hmac, hash: 'sha384', keyType: null, curve: null, signatureLength: 0 },
  HS512: { kind: Kind.Hmac, hash: 'sha512', keyType: null, curve: null, signatureLength: 0 },
  RS256: { kind: Kind.Rsa, hash: 'sha256', keyType: 'rsa', curve: null, signatureLength: 0 },
  RS384: { kind: Kind.Rsa, hash: 'sha384', keyType: 'rsa', curve: null, signatureLength: 0 },
  RS512: { kind: Kind.Rsa, hash: 'sha512', keyType: 'rsa', curve: null, signatureLength: 0 },
  ES256: { kind: Kind.Ecdsa, hash: 'sha256', keyType: 'ec', curve: 'prime256v1', signatureLength: 64 },
  ES384: { kind: Kind.Ecdsa, hash: 'sha384', keyType: 'ec', curve: 'secp384r1', signatureLength: 96 },
  EdDSA: { kind: Kind.EdDsa, hash: null, keyType: 'ed25519', curve: null, signatureLength: 0 },
};

/** Kong's base64_decode: either alphabet, padding optional; `null` when it is not base64. */
function decodeBase64(s: string): Buffer | null {
  const t = s.trim();
  return isBase64(t) ? Buffer.from(t, 'base64url') : null;
}

/**
 * Parse the credential's key for its algorithm: the HMAC secret (HS*), else the PEM public key.
 * With `secretIsBase64` the value is base64-decoded first, as Kong does (for a public key the
 * decoded bytes may be a PEM or a DER SubjectPublicKeyInfo). `null` = Kong's "Invalid key/secret":
 * no key, not base64, not a public key, or a key of the wrong type or curve for the algorithm
 * (an RS256 credential holding an EC key must not verify anything).
 */
export function prepareKey(secret: JwtSecretConfig, secretIsBase64: boolean): PreparedKey | null {
  const spec = ALGS[secret.algorithm];
  if (spec === undefined) return null;
  const raw = spec.kind === Kind.Hmac ? secret.secret : secret.rsaPublicKey;
  if (raw === null || raw === undefined) return null;
  let material: Buffer | string = raw;
  if (secretIsBase64) {
    const decoded = decodeBase64(raw);
    if (decoded === null) return null;
    material = decoded;
  }
  try {
    if (spec.kind === Kind.Hmac) {
      const bytes = typeof material === 'string' ? Buffer.from(material, 'utf8') : material;
      return new PreparedKey(spec.kind, spec.hash, crypto.createSecretKey(bytes), 0);
    }
    const key = parsePublicKey(material);
    if (key.asymmetricKeyType !== spec.keyType) return null;
    if (spec.curve !== null && key.asymmetricKeyDetails?.namedCurve !== spec.curve) return null;
    return new PreparedKey(spec.kind, spec.hash, key, spec.signatureLength);
  } catch {
    return null;
  }
}

function parsePublicKey(material: Buffer | string): KeyObject {
  if (typeof material === 'string') return crypto.createPublicKey(material);
  if (material.subarray(0, 5).toString('latin1') === '-----') return crypto.createPublicKey(material.toString('utf8'));
  return crypto.createPublicKey({ key: material, format: 'der', type: 'spki' });
}

/** True only for a valid signature. HMAC compares in constant time. */
export function verifySignature(key: PreparedKey, signingInput: string, signature: Buffer): boolean {
  if (key.signatureLength !== 0 && signature.length !== key.signatureLength) return false;
  try {
    switch (key.kind) {
      case Kind.Hmac: {
        const expected = crypto.createHmac(key.hash!, key.key).update(signingInput, 'latin1').digest();
        return expected.length === signature.length && crypto.timingSafeEqual(expected, signature);
      }
      case Kind.Rsa:
        return crypto.verify(key.hash, Buffer.from(signingInput, 'latin1'), key.key, signature);
      case Kind.Ecdsa:
        return crypto.verify(key.hash, Buffer.from(signingInput, 'latin1'), { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
      case Kind.EdDsa:
        return crypto.verify(null, Buffer.from(signingInput, 'latin1'), key.key, signature);
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * The key's bytes, for sending to another thread: the HMAC secret, else the public key as DER
 * SubjectPublicKeyInfo. `keyFromMaterial` turns them back into the same PreparedKey.
 */
export function keyMaterial(key: PreparedKey): Buffer {
  return key.kind === Kind.Hmac ? key.key.export() : key.key.export({ type: 'spki', format: 'der' });
}

/** A PreparedKey for `alg` from `keyMaterial()` bytes; `null` when they do not parse. */
export function keyFromMaterial(alg: JwtAlgorithm, material: Uint8Array): PreparedKey | null {
  const spec = ALGS[alg];
  if (spec === undefined) return null;
  try {
    const bytes = Buffer.from(material.buffer, material.byteOffset, material.byteLength);
    const key = spec.kind === Kind.Hmac ? crypto.createSecretKey(bytes) : crypto.createPublicKey({ key: bytes, format: 'der', type: 'spki' });
    return new PreparedKey(spec.kind, spec.hash, key, spec.signatureLength);
  } catch {
    return null;
  }
}
