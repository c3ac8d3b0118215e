/**
 * Kong's hmac-auth (priority 1030), from kong/plugins/hmac-auth/access.lua (Kong 3.9):
 *
 * 1. neither Authorization nor Proxy-Authorization: 401 "Unauthorized";
 * 2. X-Date, else Date, must parse and be within `clock_skew` seconds of now: else 401 "HMAC
 *    signature cannot be verified, a valid date or x-date header is required for HMAC
 *    Authentication";
 * 3. the parameters come from Proxy-Authorization, else Authorization (that header is removed
 *    upstream with hide_credentials); missing username or signature, an `enforce_headers` entry
 *    the signature does not cover, an algorithm not in `algorithms`, or an unknown username:
 *    401 "HMAC signature cannot be verified";
 * 4. the signature does not match the signing string (signing.ts): 401 "HMAC signature does not
 *    match";
 * 5. with validate_request_body, the Digest header must be `SHA-256=<base64 sha256 of the body>`
 *    (no Digest: only an empty body passes): else 401 "HMAC signature does not match".
 *
 * Every 401 carries `WWW-Authenticate: hmac` (or `hmac realm="..."`). With `anonymous`, a failure
 * authenticates the anonymous consumer instead, and a request an earlier auth plugin already
 * authenticated is left alone (Kong's "logical OR"). On success the upstream gets Kong's
 * X-Consumer-* headers, with X-Credential-Identifier = the credential's username.
 *
 * The body is read only with validate_request_body and a body present; it is then buffered up to
 * Kong's default client_body_buffer_size (8 KiB): a larger body fails the check, as in Kong.
 */
import { createHash } from 'node:crypto';
import type { ConsumerConfig, HmacAuthCredentialConfig } from '../../config/types';
import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { AnonymousFallback, hasRealCredential, JSON_TYPE, UNAUTHORIZED_BODY, wwwAuthenticate } from '../auth-common';
import { HMAC_ALGORITHMS, HmacAuthSchema, type HmacAlgorithm, type HmacAuthConfig } from './schema';
import { parseAuthorization, parseHttpDate, signatureMatches, signingString, type HmacParams } from './signing';

/** Kong's default client_body_buffer_size: what get_raw_body can return. */
export const BODY_BUFFER_BYTES = 8 * 1024;

const DATE_REQUIRED_BODY = messageBody('HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication');
const NOT_VALID_BODY = messageBody('HMAC signature cannot be verified');
const NOT_SAME_BODY = messageBody('HMAC signature does not match');
const EMPTY_DIGEST = 'SHA-256=' + createHash('sha256').update('').digest('base64');

interface Verified {
  readonly consumer: ConsumerConfig;
  readonly credential: HmacAuthCredentialConfig;
}

class HmacAuth implements PluginInstance {
  readonly #conf: HmacAuthConfig;
  readonly #credentials: ReadonlyMap<string, HmacAuthCredentialConfig>;
  readonly #consumers: PluginEnv['consumers'];
  readonly #anonymous: AnonymousFallback;
  readonly #challenge: readonly string[];
  readonly #algorithms: ReadonlySet<string>;
  /** Clock in ms, injectable for tests. */
  readonly #now: () => number;

  constructor(conf: HmacAuthConfig, env: PluginEnv, now: () => number = Date.now) {
    this.#conf = conf;
    this.#credentials = new Map((env.config?.credentials.hmacauth ?? []).map((c) => [c.username, c]));
    this.#consumers = env.consumers;
    this.#anonymous = new AnonymousFallback(conf.anonymous, env.consumers);
    this.#challenge = wwwAuthenticate(conf.realm === null ? 'hmac' : `hmac realm="${conf.realm}"`);
    this.#algorithms = new Set(conf.algorithms);
    this.#now = now;
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    if (this.#anonymous.configured && hasRealCredential(ctx)) return Verdict.Continue;
    const req = ctx.request;
    const authorization = req.header('authorization');
    const proxyAuthorization = req.header('proxy-authorization');
    if (authorization === undefined && proxyAuthorization === undefined) return this.#fail(ctx, UNAUTHORIZED_BODY);
    if (!this.#dateWithinSkew(req.header('x-date')) && !this.#dateWithinSkew(req.header('date'))) return this.#fail(ctx, DATE_REQUIRED_BODY);

    let params = parseAuthorization(proxyAuthorization);
    if (params !== null) {
      if (this.#conf.hide_credentials) ctx.removeUpstreamHeader('proxy-authorization');
    } else {
      params = parseAuthorization(authorization);
      if (this.#conf.hide_credentials) ctx.removeUpstreamHeader('authorization');
    }
    if (params === null || !this.#paramsAcceptable(params)) return this.#fail(ctx, NOT_VALID_BODY);
    const credential = this.#credentials.get(params.username);
    const consumer = credential === undefined ? undefined : this.#consumers.consumer(credential.consumer);
    if (credential === undefined || consumer === undefined) return this.#fail(ctx, NOT_VALID_BODY);
    const data = signingString(req, params.headers);
    if (!signatureMatches(params.algorithm as HmacAlgorithm, credential.secret, data, params.signature)) return this.#fail(ctx, NOT_SAME_BODY);

    const verified: Verified = { consumer, credential };
    if (!this.#conf.validate_request_body) return this.#succeed(ctx, verified);
    const digest = req.header('digest');
    if (!ctx.hasRequestBody) return digest === undefined || digest === EMPTY_DIGEST ? this.#succeed(ctx, verified) : this.#fail(ctx, NOT_SAME_BODY);
    // Only requests with a body and body validation on pay for a promise.
    return ctx.readRequestBody(BODY_BUFFER_BYTES).then((body) => this.#afterBody(ctx, verified, digest, body));
  }

  #afterBody(ctx: PluginContext, verified: Verified, digest: string | undefined, body: Buffer | null): Verdict {
    if (body === null) return this.#fail(ctx, NOT_SAME_BODY);
    const ok = digest === undefined ? body.length === 0 : digest === 'SHA-256=' + createHash('sha256').update(body).digest('base64');
    return ok ? this.#succeed(ctx, verified) : this.#fail(ctx, NOT_SAME_BODY);
  }

  #dateWithinSkew(value: string | undefined): boolean {
    if (value === undefined) return false;
    const at = parseHttpDate(value);
    if (at === null) return false;
    return Math.abs(Math.floor(this.#now() / 1000) - at) <= this.#conf.clock_skew;
  }

  /** Kong's validate_params: enforced headers covered, algorithm allowed. */
  #paramsAcceptable(params: HmacParams): boolean {
    for (const h of this.#conf.enforce_headers) if (!params.headers.includes(h)) return false;
    return this.#algorithms.has(params.algorithm);
  }

  #succeed(ctx: PluginContext, v: Verified): Verdict {
    ctx.authenticate(v.consumer, v.credential.id, v.credential.username, false);
    return Verdict.Continue;
  }

  #fail(ctx: PluginContext, body: string): Verdict {
    if (this.#anonymous.configured) return this.#anonymous.apply(ctx);
    ctx.respond(401, body, JSON_TYPE, this.#challenge);
    return Verdict.Stop;
  }
}

export const hmacAuth: PluginDefinition<HmacAuthConfig> = {
  name: 'hmac-auth',
  priority: 1030,
  authenticates: true,
  version: '1.0.0',
  configSchema: HmacAuthSchema,
  create: (conf, env) => new HmacAuth(conf, env),
};

/** For unit tests: an instance with an injected clock (ms). */
export function createHmacAuth(conf: HmacAuthConfig, env: PluginEnv, now: () => number): PluginInstance {
  return new HmacAuth(conf, env, now);
}

export { HMAC_ALGORITHMS };
