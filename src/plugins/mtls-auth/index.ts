import { X509Certificate } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ConsumerConfig } from '../../config/types';
import { messageBody } from '../../util/status-messages';
import { Verdict, type ClientCertificate, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { AnonymousFallback, hasRealCredential, JSON_TYPE, UNAUTHORIZED_BODY } from '../auth-common';
import type { ConsumerDirectory } from '../consumer-directory';
import { MtlsAuthSchema, type MtlsAuthConfig } from './schema';

/** Issuer verdicts kept per plugin instance: the most recently used client certificates. */
const ISSUER_VERDICTS_MAX = 10_000;

/** Kong's answers (mtls-auth). */
const NO_CERTIFICATE_BODY = messageBody('No required TLS certificate was sent');
const FAILED_BODY = messageBody('TLS certificate failed verification');

/**
 * Kong's mtls-auth on top of the listener's verification (`--tls-client-verify`): a route with
 * it needs a verified client certificate (`request.clientCertificate`), issued by one of
 * `ca_certificates` when given, and the certificate's CN names the consumer (username, then
 * custom_id). Kong's replies: 401 "No required TLS certificate was sent" when there is none
 * (also over plain HTTP), 401 "TLS certificate failed verification" when another CA issued it.
 */
class MtlsAuth implements PluginInstance {
  /** The CAs of `ca_certificates`; empty = any CA the listener trusts. */
  readonly #issuers: readonly X509Certificate[];
  readonly #byUsername: boolean;
  readonly #byCustomId: boolean;
  readonly #skipLookup: boolean;
  readonly #consumers: ConsumerDirectory;
  readonly #customIds: ReadonlyMap<string, ConsumerConfig>;
  readonly #anonymous: AnonymousFallback;
  /** Fingerprint -> issued by one of #issuers, per snapshot (a connection's requests ask again); LRU-bounded. */
  readonly #issuedBy = new LRUCache<string, boolean>({ max: ISSUER_VERDICTS_MAX });

  constructor(conf: MtlsAuthConfig, env: PluginEnv) {
    const cas = env.config?.caCertificates ?? [];
    this.#issuers = conf.ca_certificates.map((id) => {
      const ca = cas.find((c) => c.id === id);
      if (ca === undefined) throw new Error(`config.ca_certificates: no ca_certificate with id "${id}"`);
      return new X509Certificate(ca.cert);
    });
    this.#byUsername = conf.consumer_by.includes('username');
    this.#byCustomId = conf.consumer_by.includes('custom_id');
    this.#skipLookup = conf.skip_consumer_lookup;
    this.#consumers = env.consumers;
    const customIds = new Map<string, ConsumerConfig>();
    for (const c of env.config?.consumers ?? []) if (c.customId !== null && !customIds.has(c.customId)) customIds.set(c.customId, c);
    this.#customIds = customIds;
    this.#anonymous = new AnonymousFallback(conf.anonymous, env.consumers);
  }

  onRequest(ctx: PluginContext): Verdict {
    const anonymous = this.#anonymous;
    if (anonymous.configured && hasRealCredential(ctx)) return Verdict.Continue;
    const cert = ctx.request.clientCertificate;
    if (cert === null) return anonymous.configured ? anonymous.apply(ctx) : ctx.respond(401, NO_CERTIFICATE_BODY, JSON_TYPE, null);
    if (!this.#trusted(cert)) return anonymous.configured ? anonymous.apply(ctx) : ctx.respond(401, FAILED_BODY, JSON_TYPE, null);
    if (this.#skipLookup) return Verdict.Continue;
    const consumer = this.#consumerOf(cert.commonName);
    if (consumer === undefined) return anonymous.configured ? anonymous.apply(ctx) : ctx.respond(401, UNAUTHORIZED_BODY, JSON_TYPE, null);
    ctx.authenticate(consumer, cert.fingerprint, null, false);
    return Verdict.Continue;
  }

  #consumerOf(cn: string): ConsumerConfig | undefined {
    if (cn === '') return undefined;
    if (this.#byUsername) {
      const c = this.#consumers.consumer(cn);
      if (c !== undefined && c.username === cn) return c;
    }
    return this.#byCustomId ? this.#customIds.get(cn) : undefined;
  }

  #trusted(cert: ClientCertificate): boolean {
    if (this.#issuers.length === 0) return true;
    let ok = this.#issuedBy.get(cert.fingerprint);
    if (ok === undefined) {
      const leaf = new X509Certificate(cert.pem);
      ok = this.#issuers.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
      this.#issuedBy.set(cert.fingerprint, ok);
    }
    return ok;
  }
}

export const mtlsAuth: PluginDefinition<MtlsAuthConfig> = {
  name: 'mtls-auth',
  priority: 1600,
  authenticates: true,
  version: '1.0.0',
  configSchema: MtlsAuthSchema,
  create: (conf, env) => new MtlsAuth(conf, env),
};
