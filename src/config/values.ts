/**
 * Parsing and checking of single values that the schema cannot express: service URLs, target
 * addresses, route hosts, regexes and jwt public keys. Pure functions, shared by field-checks.ts
 * (which reports) and normalize.ts (which uses the parsed result).
 *
 * IPv6 addresses keep their brackets everywhere ("[::1]"), so a host can be put into a URL or a
 * Host header as is.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { KONG_PROTOCOLS, SUPPORTED_PROTOCOLS } from './schema/common';
import { compileKongRegex, translateRegex } from '../router/regex';
import type { JwtAlgorithm } from './types';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** Kong's default target port. */
export const DEFAULT_TARGET_PORT = 8000;

const HOSTNAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;

export function isKongProtocol(protocol: string): boolean {
  return (KONG_PROTOCOLS as readonly string[]).includes(protocol);
}

/** Null when `protocol` is one Floodgate proxies; else the reason it is refused. */
/** "http, https, grpc and grpcs" */
function listed(conjunction: string): string {
  const all = [...SUPPORTED_PROTOCOLS];
  return `${all.slice(0, -1).join(', ')} ${conjunction} ${all[all.length - 1]}`;
}

export function protocolProblem(protocol: string): string | null {
  if ((SUPPORTED_PROTOCOLS as readonly string[]).includes(protocol)) return null;
  if (isKongProtocol(protocol)) {
    return `protocol "${protocol}" is not supported (Floodgate supports ${listed('and')})`;
  }
  return `unknown protocol "${protocol}" (expected ${listed('or')})`;
}

function parsePort(digits: string): Parsed<number> {
  const port = Number(digits);
  if (!/^\d+$/.test(digits) || port < 1 || port > 65535) return fail(`invalid port "${digits}" (must be between 1 and 65535)`);
  return ok(port);
}

/** A host for a service or target: hostname, IPv4, or IPv6 (bracketed or not). Returned bracketed. */
export function parseHost(host: string): Parsed<string> {
  const inner = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv6(inner)) return ok(`[${inner}]`);
  if (host.includes(':')) return fail(`"${host}" must not contain a port`);
  if (!HOSTNAME.test(host)) return fail(`"${host}" is not a valid hostname or IP address`);
  return ok(host);
}

export interface ServiceUrl {
  readonly protocol: string;
  readonly host: string;
  readonly port: number | null;
  /** null when the URL has no path, as Kong stores it. */
  readonly path: string | null;
}

/** Kong's `url` shorthand: protocol://host[:port][/path]. */
export function parseServiceUrl(url: string): Parsed<ServiceUrl> {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/s.exec(url);
  if (m === null) return fail(`"${url}" is not a URL (expected protocol://host[:port][/path])`);
  const [, scheme, authority, path, rest] = m;
  const protocol = scheme.toLowerCase();
  const bad = protocolProblem(protocol);
  if (bad !== null) return fail(bad);
  if (rest !== '') return fail(`"${url}" must not have a query string or fragment`);
  if (authority.includes('@')) return fail(`"${url}" must not contain credentials`);
  const hp = splitHostPort(authority);
  if (!hp.ok) return hp;
  if (hp.value.host === '') return fail(`"${url}" has no host`);
  const host = parseHost(hp.value.host);
  if (!host.ok) return host;
  return ok({ protocol, host: host.value, port: hp.value.port, path: path === '' ? null : path });
}

function splitHostPort(s: string): Parsed<{ host: string; port: number | null }> {
  // Several colons and no brackets: an IPv6 address, which cannot carry a port in this form.
  if (isIPv6(s)) return ok({ host: s, port: null });
  const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(s);
  if (m === null) return fail(`"${s}" is not a valid host[:port]`);
  if (m[2] === undefined) return ok({ host: m[1], port: null });
  const port = parsePort(m[2]);
  return port.ok ? ok({ host: m[1], port: port.value }) : port;
}

export interface TargetAddress {
  /** Normalized `host:port`. */
  readonly target: string;
  readonly host: string;
  readonly port: number;
}

/** "host", "host:port", "[v6]" or "[v6]:port"; the port defaults to 8000 as in Kong. */
export function parseTarget(target: string): Parsed<TargetAddress> {
  const hp = splitHostPort(target);
  if (!hp.ok) return hp;
  const host = parseHost(hp.value.host);
  if (!host.ok) return host;
  const port = hp.value.port ?? DEFAULT_TARGET_PORT;
  return ok({ target: `${host.value}:${port}`, host: host.value, port });
}

/**
 * A route host: lower-cased, at most one `*` that is the whole leftmost or rightmost label
 * (`*.example.com`, `example.*`), optional `:port`.
 */
export function parseRouteHost(raw: string): Parsed<string> {
  const value = raw.toLowerCase();
  const hp = splitHostPort(value);
  if (!hp.ok) return hp;
  const { host } = hp.value;
  const stars = host.split('*').length - 1;
  if (stars > 1) return fail(`"${raw}" has more than one wildcard`);
  if (stars === 1 && !(host.startsWith('*.') || host.endsWith('.*'))) {
    return fail(`"${raw}": a wildcard must be the leftmost or rightmost label ("*.example.com" or "example.*")`);
  }
  const bare = host.replace(/^\*\./, '').replace(/\.\*$/, '');
  const inner = bare.startsWith('[') && bare.endsWith(']') ? bare.slice(1, -1) : bare;
  if (stars === 0 && isIPv6(inner)) return ok(value.includes('[') ? value : `[${inner}]`);
  if (!HOSTNAME.test(bare)) return fail(`"${raw}" is not a valid hostname`);
  return ok(value);
}

/** Null when the router will be able to compile `source` (see router/regex.ts), else why not. */
export function regexProblem(source: string, flags = ''): string | null {
  try {
    compileKongRegex(translateRegex(source), flags, false);
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Keep only the reason. V8 says "Invalid regular expression: /<source>/<flags>: <reason>";
    // RE2 says "<reason>: <source>" (and refuses lookarounds and backreferences).
    const reason = message.startsWith('Invalid regular expression')
      ? message.slice(message.lastIndexOf(': ') + 2)
      : message.slice(0, message.indexOf(': ') === -1 ? message.length : message.indexOf(': '));
    return `invalid regex ${JSON.stringify(source)}: ${reason}`;
  }
}

/** The key type (and curve) each asymmetric jwt algorithm verifies with. */
const KEY_FOR_ALGORITHM: Readonly<Record<string, { type: string; curve?: string; name: string }>> = {
  RS256: { type: 'rsa', name: 'an RSA' },
  RS384: { type: 'rsa', name: 'an RSA' },
  RS512: { type: 'rsa', name: 'an RSA' },
  ES256: { type: 'ec', curve: 'prime256v1', name: 'an EC P-256 (prime256v1)' },
  ES384: { type: 'ec', curve: 'secp384r1', name: 'an EC P-384 (secp384r1)' },
  EdDSA: { type: 'ed25519', name: 'an Ed25519' },
};

const KEY_TYPE_NAMES: Readonly<Record<string, string>> = {
  rsa: 'RSA', 'rsa-pss': 'RSA-PSS', dsa: 'DSA', dh: 'DH', ed25519: 'Ed25519', ed448: 'Ed448', x25519: 'X25519', x448: 'X448',
};

export function isHmacAlgorithm(algorithm: JwtAlgorithm): boolean {
  return algorithm.startsWith('HS');
}

/**
 * A jwt credential's `rsa_public_key`: a PEM public key (SPKI, PKCS#1 or a certificate, whatever
 * node:crypto reads) of the type `algorithm` verifies with. Returned re-encoded as SPKI PEM, so a
 * worker has one format to read. Errors never quote the key.
 */
export function parseJwtPublicKey(pem: string, algorithm: JwtAlgorithm): Parsed<string> {
  const expected = KEY_FOR_ALGORITHM[algorithm];
  if (expected === undefined) return fail(`is not used with algorithm "${algorithm}"`);
  // createPublicKey would derive the public half from a private key; a private key has no place here.
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem)) {
    return fail('must be a public key, but holds a private key (keep private keys out of the config)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem.trim()); // OpenSSL refuses a BEGIN line that does not start the text
  } catch {
    return fail('is not a valid PEM public key (expected a "-----BEGIN PUBLIC KEY-----" block)');
  }
  const type = key.asymmetricKeyType ?? 'unknown';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type !== expected.type || (expected.curve !== undefined && curve !== expected.curve)) {
    const got = type === 'ec' ? `an EC key on curve ${curve ?? 'unknown'}` : `a key of type ${KEY_TYPE_NAMES[type] ?? type}`;
    return fail(`must be ${expected.name} public key for algorithm "${algorithm}", got ${got}`);
  }
  return ok(key.export({ type: 'spki', format: 'pem' }) as string);
}
