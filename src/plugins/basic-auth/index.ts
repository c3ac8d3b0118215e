import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { hashPassword } from '../../config/password-hash';
import type { BasicAuthCredentialConfig, ConsumerConfig } from '../../config/types';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { AnonymousFallback, hasRealCredential, hexDigestsEqual, JSON_TYPE, UNAUTHORIZED_BODY, wwwAuthenticate } from '../auth-common';
import type { ConsumerDirectory } from '../consumer-directory';
import { BasicAuthSchema, type BasicAuthConfig } from './schema';

/** Verified header values kept per plugin instance (so per snapshot: a reload starts afresh). */
const CACHE_MAX_ENTRIES = 4096;
/** Longer header values are verified every time instead of being cached. */
const CACHE_MAX_KEY_LENGTH = 1024;
/** Longer base64 tokens are refused unread (nginx's default header buffer is 8 KB too). */
const MAX_TOKEN_LENGTH = 8192;

const BASE64_TOKEN = /^[A-Za-z0-9+/]+={0,2}$/;

/** Hashed against when the username is unknown, so both failures cost the same time. */
const DUMMY_SALT = randomBytes(16).toString('hex');

/** A header value that verified: whom it authenticates. One fixed shape, cached in the LRU. */
class Verified {
  readonly credential: BasicAuthCredentialConfig;
  readonly consumer: ConsumerConfig;
  constructor(credential: BasicAuthCredentialConfig, consumer: ConsumerConfig) {
    this.credential = credential;
    this.consumer = consumer;
  }
}

/** Output slots of `parseBasic` (synchronous; read right after the call). */
const parsed = { username: '', password: '' };

/**
 * `Basic base64(user:pass)`, read like Kong: the scheme is case-insensitive here (Kong accepts
 * `Basic`/`basic`), the username is everything before the first `:` and must not be empty, the
 * password is the rest (it may contain `:` or be empty). Invalid base64 or invalid UTF-8 is
 * malformed.
 */
export function parseBasic(value: string): boolean {
  const n = value.length;
  let i = 0;
  while (i < n && isBlank(value.charCodeAt(i))) i++;
  if (n - i < 7) return false;
  // "basic", ASCII case-insensitive, without allocating.
  if (
    (value.charCodeAt(i) | 0x20) !== 98 || // b
    (value.charCodeAt(i + 1) | 0x20) !== 97 || // a
    (value.charCodeAt(i + 2) | 0x20) !== 115 || // s
    (value.charCodeAt(i + 3) | 0x20) !== 105 || // i
    (value.charCodeAt(i + 4) | 0x20) !== 99 // c
  ) {
    return false;
  }
  i += 5;
  const schemeEnd = i;
  while (i < n && isBlank(value.charCodeAt(i))) i++;
  if (i === schemeEnd) return false;
  let end = n;
  while (end > i && isBlank(value.charCodeAt(end - 1))) end--;
  const length = end - i;
  if (length === 0 || length > MAX_TOKEN_LENGTH) return false;
  const token = i === 0 && end === n ? value : value.slice(i, end);
  if (!BASE64_TOKEN.test(token)) return false;
  const padded = token.charCodeAt(length - 1) === 61; /* = */
  if (padded ? length % 4 !== 0 : length % 4 === 1) return false;
  const bytes = Buffer.from(token, 'base64');
  if (!isUtf8(bytes)) return false;
  const decoded = bytes.toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return false;
  parsed.username = decoded.slice(0, colon);
  parsed.password = decoded.slice(colon + 1);
  return true;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Kong's basic-auth: credentials from `Proxy-Authorization`, then `Authorization` (the latter is
 * read only when the former names no known user). Every failure is 401 `{"message":"Unauthorized"}`
 * with `WWW-Authenticate: Basic realm="<realm>"`, as in Kong 3. Passwords are checked against the
 * salted SHA-256 computed at load, in constant time; a header value that verified is remembered in
 * a bounded LRU so repeat requests cost one lookup.
 */
class BasicAuth implements PluginInstance {
  readonly #consumers: ConsumerDirectory;
  readonly #anonymous: AnonymousFallback;
  readonly #hide: boolean;
  readonly #runOnPreflight: boolean;
  readonly #challenge: readonly string[];
  readonly #verified = new LRUCache<string, Verified>({ max: CACHE_MAX_ENTRIES });

  constructor(conf: BasicAuthConfig, env: PluginEnv) {
    this.#consumers = env.consumers;
    this.#anonymous = new AnonymousFallback(conf.anonymous, env.consumers);
    this.#hide = conf.hide_credentials;
    this.#runOnPreflight = conf.run_on_preflight;
    this.#challenge = wwwAuthenticate(`Basic realm="${conf.realm}"`);
  }

  onRequest(ctx: PluginContext): Verdict {
    if (!this.#runOnPreflight && ctx.request.method === 'OPTIONS') return Verdict.Continue;
    const anonymous = this.#anonymous;
    if (anonymous.configured && hasRealCredential(ctx)) return Verdict.Continue;
    const verified = this.#authenticate(ctx);
    if (verified !== null) {
      ctx.authenticate(verified.consumer, verified.credential.id, verified.credential.username, false);
      return Verdict.Continue;
    }
    if (anonymous.configured) return anonymous.apply(ctx);
    ctx.respond(401, UNAUTHORIZED_BODY, JSON_TYPE, this.#challenge);
    return Verdict.Stop;
  }

  #authenticate(ctx: PluginContext): Verified | null {
    const req = ctx.request;
    const proxyAuthorization = req.header('proxy-authorization');
    const authorization = req.header('authorization');
    if (proxyAuthorization === undefined && authorization === undefined) return null;
    // Kong clears each header it reads when hiding credentials, whatever the outcome.
    if (this.#hide) ctx.removeUpstreamHeader('proxy-authorization');
    if (proxyAuthorization !== undefined) {
      const result = this.#check(proxyAuthorization);
      if (result !== undefined) return result;
    }
    if (authorization === undefined) return null;
    if (this.#hide) ctx.removeUpstreamHeader('authorization');
    return this.#check(authorization) ?? null;
  }

  /**
   * A `Verified` when the header value authenticates; `null` when it names a known user with a
   * wrong password; `undefined` when it is malformed or names no known user (Kong then tries the
   * next header).
   */
  #check(value: string): Verified | null | undefined {
    const cache = this.#verified;
    const hit = cache.get(value);
    if (hit !== undefined) return hit;
    if (!parseBasic(value)) return undefined;
    const consumers = this.#consumers;
    const credential = consumers.basicAuthCredential(parsed.username);
    if (credential === undefined) {
      hashPassword(parsed.password, DUMMY_SALT);
      return undefined;
    }
    if (!hexDigestsEqual(hashPassword(parsed.password, credential.salt), credential.passwordHash)) return null;
    const consumer = consumers.consumer(credential.consumer);
    if (consumer === undefined) return null;
    const verified = new Verified(credential, consumer);
    if (value.length <= CACHE_MAX_KEY_LENGTH) cache.set(value, verified);
    return verified;
  }
}

export const basicAuth: PluginDefinition<BasicAuthConfig> = {
  name: 'basic-auth',
  priority: 1100,
  authenticates: true,
  version: '1.0.0',
  configSchema: BasicAuthSchema,
  create: (conf, env) => new BasicAuth(conf, env),
};
