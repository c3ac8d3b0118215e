/**
 * Kong's jwt plugin (priority 1450): authenticate a request by a JWS signed with a consumer's
 * jwt_secret, found by the token's key claim (`iss` by default).
 *
 *   find the token (query, cookies, headers) -> decode -> key claim -> credential -> alg matches
 *   -> key -> signature -> registered claims (exp, nbf) -> maximum_expiration -> consumer
 *
 * Every failure is one of Kong 3.x's 401 answers, built once here; none is an exception. With
 * `anonymous` set, a failure authenticates the anonymous consumer instead (Kong's "logical OR").
 * Verified tokens are cached (see cache.ts): a hit skips the decode, the lookups and the crypto,
 * and goes straight to the time checks.
 *
 * Signatures are checked by the worker's JWS_VERIFIER resource (--jwt-verify; src/offload/jws-verifier.ts), on cache
 * misses only. Inline (the default) it answers synchronously and so does this plugin; offloaded to
 * a piscina pool it answers with a promise, and only then does onRequest return a Promise<Verdict>.
 * Offloading costs a ~90 µs round trip, more than the most expensive algorithm here; see
 * bench/jwt-verify.ts and bench/offload/main.ts.
 */
import type { ConsumerConfig, JwtSecretConfig } from '../../config/types';
import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import type { ConsumerDirectory } from '../consumer-directory';
import { inlineVerifier, JWS_VERIFIER, type JwsVerifier } from '../../offload/jws-verifier';
import { DEFAULT_CACHE_ENTRIES, VerifiedToken, VerifiedTokenCache } from './cache';
import { DecodeError, DecodedToken, own, prepareKey, type PreparedKey } from './jws';
import { JwtSchema, type JwtConfig } from './schema';
import { Found, TokenFinder } from './token';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A prepared local answer. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: readonly string[] | null,
  ) {}
}

export interface JwtOptions {
  /** The clock, in seconds (Kong uses ngx.time(): whole seconds). Tests pass a fake one. */
  readonly now?: () => number;
  /** Verified-token cache entries; 0 disables the cache. */
  readonly cacheEntries?: number;
}

const systemNow = (): number => Math.floor(Date.now() / 1000);

/** Placeholder for "no usable key" in the per-credential key memo. */
const NO_KEY = null;

/**
 * Everything the plugin does; `JwtPlugin` (inline, synchronous) and `OffloadedJwtPlugin` (pooled)
 * differ only in the verifier and in what their onRequest may return.
 */
abstract class JwtCore {
  readonly #consumers: ConsumerDirectory;
  readonly #verifier: JwsVerifier;
  readonly #now: () => number;
  readonly #finder: TokenFinder;
  readonly #decoded = new DecodedToken();
  readonly #cache: VerifiedTokenCache | null;
  /** Each credential's parsed key, made on first use (PEM parsing costs tens of µs). */
  readonly #keys = new Map<JwtSecretConfig, PreparedKey | typeof NO_KEY>();

  readonly #keyClaim: string;
  readonly #secretIsBase64: boolean;
  readonly #verifyExp: boolean;
  readonly #verifyNbf: boolean;
  /** Claims in the order they are listed, so errors come in that order. */
  readonly #expFirst: boolean;
  readonly #maximumExpiration: number;
  readonly #runOnPreflight: boolean;
  /** `undefined` = no anonymous configured; `null` = configured but no such consumer. */
  readonly #anonymous: ConsumerConfig | null | undefined;

  readonly #unauthorized: Reply;
  readonly #multipleTokens: Reply;
  readonly #unrecognizable: Reply;
  readonly #badToken: readonly Reply[];
  readonly #noKeyClaim: Reply;
  readonly #emptyKeyClaim: Reply;
  readonly #noCredentials: Reply;
  readonly #invalidAlgorithm: Reply;
  readonly #invalidKey: Reply;
  readonly #invalidSignature: Reply;
  readonly #maxExpExceeded: Reply;
  readonly #unexpected: Reply;
  readonly #invalidTokenHeaders: readonly string[];

  constructor(conf: JwtConfig, env: PluginEnv, options: JwtOptions, verifier: JwsVerifier) {
    this.#consumers = env.consumers;
    this.#verifier = verifier;
    this.#now = options.now ?? systemNow;
    const entries = options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
    this.#cache = entries > 0 ? new VerifiedTokenCache(entries) : null;
    this.#finder = new TokenFinder(conf.uri_param_names, conf.cookie_names, conf.header_names);

    this.#keyClaim = conf.key_claim_name;
    this.#secretIsBase64 = conf.secret_is_base64;
    const claims = conf.claims_to_verify ?? [];
    this.#verifyExp = claims.includes('exp');
    this.#verifyNbf = claims.includes('nbf');
    this.#expFirst = claims.indexOf('exp') < claims.indexOf('nbf');
    this.#maximumExpiration = conf.maximum_expiration;
    this.#runOnPreflight = conf.run_on_preflight;
    this.#anonymous = conf.anonymous === null ? undefined : (env.consumers.consumer(conf.anonymous) ?? null);

    // Kong 3.x: a missing token gets the bare challenge, every other failure says invalid_token.
    const challenge = conf.realm === null ? 'Bearer' : `Bearer realm="${conf.realm.replace(/["\\]/g, '\\$&')}"`;
    const bare = ['WWW-Authenticate', challenge];
    const invalid = ['WWW-Authenticate', `${challenge} error="invalid_token"`];
    this.#invalidTokenHeaders = invalid;
    const fail = (message: string) => new Reply(401, messageBody(message), invalid);
    const claim = conf.key_claim_name;
    this.#unauthorized = new Reply(401, messageBody('Unauthorized'), bare);
    this.#multipleTokens = fail('Multiple tokens provided');
    this.#unrecognizable = fail('Unrecognizable token');
    const badToken: Reply[] = [];
    badToken[DecodeError.InvalidJson] = fail('Bad token; invalid JSON');
    badToken[DecodeError.InvalidAlg] = fail('Bad token; invalid alg');
    badToken[DecodeError.InvalidClaims] = fail('Bad token; invalid claims');
    badToken[DecodeError.InvalidSignature] = fail('Bad token; invalid signature');
    this.#badToken = badToken;
    this.#noKeyClaim = fail(`No mandatory '${claim}' in claims`);
    this.#emptyKeyClaim = fail(`Invalid '${claim}' in claims`);
    this.#noCredentials = fail(`No credentials found for given '${claim}'`);
    this.#invalidAlgorithm = fail('Invalid algorithm');
    this.#invalidKey = fail('Invalid key/secret');
    this.#invalidSignature = fail('Invalid signature');
    this.#maxExpExceeded = new Reply(401, JSON.stringify({ exp: 'exceeds maximum allowed expiration' }), invalid);
    this.#unexpected = new Reply(500, messageBody('An unexpected error occurred'), null);
  }

  /** A promise only when the verifier answered with one (offloaded, cache miss). */
  protected run(ctx: PluginContext): Verdict | Promise<Verdict> {
    if (!this.#runOnPreflight && ctx.request.method === 'OPTIONS') return Verdict.Continue;
    const anonymous = this.#anonymous;
    // Logical OR with another auth plugin that already identified the request.
    if (anonymous !== undefined && ctx.credentialId !== null) return Verdict.Continue;

    const token = this.#finder.find(ctx.request);
    if (typeof token !== 'string') {
      return this.#conclude(ctx, token === Found.None ? this.#unauthorized : token === Found.Multiple ? this.#multipleTokens : this.#unrecognizable);
    }
    const now = this.#now();
    const cache = this.#cache;
    const hit = cache === null ? undefined : cache.get(token, now);
    if (hit !== undefined) return this.#conclude(ctx, this.#accept(ctx, hit, now));

    const result = this.#verify(token);
    if (result instanceof Promise) {
      return result.then(
        (r) => this.#conclude(ctx, this.#verified(ctx, token, r, now)),
        () => {
          // The offload pool failed (closed while shutting down): no verdict on the token itself.
          ctx.respond(this.#unexpected.status, this.#unexpected.body, JSON_TYPE, null);
          return Verdict.Stop;
        },
      );
    }
    return this.#conclude(ctx, this.#verified(ctx, token, result, now));
  }

  /** Answer the request from the authentication result: continue, 401, or the anonymous consumer. */
  #conclude(ctx: PluginContext, failure: Reply | null): Verdict {
    if (failure === null) return Verdict.Continue;
    const anonymous = this.#anonymous;
    if (anonymous === undefined) {
      ctx.respond(failure.status, failure.body, JSON_TYPE, failure.headers);
      return Verdict.Stop;
    }
    if (anonymous === null) {
      // The configured anonymous consumer does not exist: Kong's 500.
      ctx.respond(this.#unexpected.status, this.#unexpected.body, JSON_TYPE, null);
      return Verdict.Stop;
    }
    ctx.authenticate(anonymous, null, null, true);
    return Verdict.Continue;
  }

  /** After a cache miss: remember a verified token, then accept it; or the failure. */
  #verified(ctx: PluginContext, token: string, result: Reply | VerifiedToken, now: number): Reply | null {
    if (result instanceof Reply) return result;
    // A token whose consumer is gone is answered below and not remembered.
    if (this.#cache !== null && result.consumer !== null) this.#cache.set(token, result, now);
    return this.#accept(ctx, result, now);
  }

  /** The time checks, then authenticate the consumer; or return why not. */
  #accept(ctx: PluginContext, verified: VerifiedToken, now: number): Reply | null {
    const claimsFailure = this.#checkClaims(verified.exp, verified.nbf, now);
    if (claimsFailure !== null) return claimsFailure;
    if (this.#maximumExpiration > 0) {
      const exp = verified.exp;
      if (typeof exp !== 'number' || exp - now > this.#maximumExpiration) return this.#maxExpExceeded;
    }
    const consumer = verified.consumer;
    if (consumer === null) {
      // Kong: "this should not happen" (a credential whose consumer is missing); no challenge header.
      return new Reply(401, messageBody(`Could not find consumer for '${this.#keyClaim}=${verified.keyValue}'`), null);
    }
    ctx.authenticate(consumer, verified.secret.id, verified.keyValue, false);
    return null;
  }

  /** Decode the token, find its credential and check the signature. */
  #verify(token: string): Reply | VerifiedToken | Promise<Reply | VerifiedToken> {
    const jwt = this.#decoded;
    const error = jwt.decode(token);
    if (error !== DecodeError.None) return this.#badToken[error];

    // Kong: `claims[key_claim_name] or header[key_claim_name]` (nil and false fall through).
    let keyValue = own(jwt.claims, this.#keyClaim);
    if (keyValue === undefined || keyValue === null || keyValue === false) keyValue = own(jwt.header, this.#keyClaim);
    if (keyValue === undefined || keyValue === null || keyValue === false) return this.#noKeyClaim;
    if (keyValue === '') return this.#emptyKeyClaim;
    const secret = typeof keyValue === 'string' ? this.#consumers.jwtSecret(keyValue) : undefined;
    if (secret === undefined) return this.#noCredentials;

    if (jwt.alg !== secret.algorithm) return this.#invalidAlgorithm;
    const key = this.#keyFor(secret);
    if (key === NO_KEY) return this.#invalidKey;
    const ok = this.#verifier.verify(secret.algorithm, key, jwt.signingInput, jwt.signature);
    if (ok === true) return this.#verifiedToken(secret, keyValue as string, jwt.claims);
    if (ok === false) return this.#invalidSignature;
    // Offloaded: `jwt` is reused by the next request, so keep what is needed now.
    const claims = jwt.claims;
    return ok.then((valid) => (valid ? this.#verifiedToken(secret, keyValue as string, claims) : this.#invalidSignature));
  }

  #verifiedToken(secret: JwtSecretConfig, keyValue: string, claims: Record<string, unknown>): VerifiedToken {
    const exp = own(claims, 'exp');
    return new VerifiedToken(
      secret,
      this.#consumers.consumer(secret.consumer) ?? null,
      keyValue,
      exp,
      own(claims, 'nbf'),
      typeof exp === 'number' ? exp : Infinity,
    );
  }

  #keyFor(secret: JwtSecretConfig): PreparedKey | typeof NO_KEY {
    let key = this.#keys.get(secret);
    if (key === undefined) {
      key = prepareKey(secret, this.#secretIsBase64);
      this.#keys.set(secret, key);
    }
    return key;
  }

  /** Kong's verify_registered_claims: `{"exp":"token expired"}` and the like, or null. */
  #checkClaims(exp: unknown, nbf: unknown, now: number): Reply | null {
    let expError: string | null = null;
    let nbfError: string | null = null;
    if (this.#verifyExp) {
      if (typeof exp !== 'number') expError = '"exp":"must be a number"';
      else if (exp <= now) expError = '"exp":"token expired"';
    }
    if (this.#verifyNbf) {
      if (typeof nbf !== 'number') nbfError = '"nbf":"must be a number"';
      else if (nbf > now) nbfError = '"nbf":"token not valid yet"';
    }
    if (expError === null && nbfError === null) return null;
    let body: string;
    if (expError === null) body = `{${nbfError}}`;
    else if (nbfError === null) body = `{${expError}}`;
    else body = this.#expFirst ? `{${expError},${nbfError}}` : `{${nbfError},${expError}}`;
    return new Reply(401, body, this.#invalidTokenHeaders);
  }
}

/** Verifies on the worker thread: onRequest is synchronous. Ignores the JWS_VERIFIER resource. */
export class JwtPlugin extends JwtCore implements PluginInstance {
  constructor(conf: JwtConfig, env: PluginEnv, options: JwtOptions = {}) {
    super(conf, env, options, inlineVerifier);
  }

  onRequest(ctx: PluginContext): Verdict {
    // The inline verifier answers synchronously, so run() never returns a promise here.
    return this.run(ctx) as Verdict;
  }
}

/** Verifies with the JWS_VERIFIER resource (--jwt-verify pool|batch): a cache miss returns a promise. */
export class OffloadedJwtPlugin extends JwtCore implements PluginInstance {
  constructor(conf: JwtConfig, env: PluginEnv, options: JwtOptions = {}) {
    super(conf, env, options, env.resources?.get(JWS_VERIFIER) ?? inlineVerifier);
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    return this.run(ctx);
  }
}

export const jwt: PluginDefinition<JwtConfig> = {
  name: 'jwt',
  priority: 1450,
  authenticates: true,
  version: '1.0.0',
  configSchema: JwtSchema,
  create: (conf, env) =>
    (env.resources?.get(JWS_VERIFIER)?.mode ?? 'inline') === 'inline' ? new JwtPlugin(conf, env) : new OffloadedJwtPlugin(conf, env),
};
