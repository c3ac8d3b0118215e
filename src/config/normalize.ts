/**
 * Builds the NormalizedConfig from a document that passed every check: ids assigned, references
 * resolved to ids, Kong's defaults applied (the schema wrote most of them; the ones that depend
 * on other fields are applied here), and only plain data in the result.
 */
import { X509Certificate } from 'node:crypto';
import type { Entity } from './entities';
import type { CaCertificateInput, CertificateInput } from './schema/certificate';
import { caDigest } from './tls-checks';
import type { Model } from './model';
import { hashPassword, newSalt } from './password-hash';
import type { ConsumerInput } from './schema/consumer';
import type { AclInput, BasicAuthCredentialInput, HmacAuthCredentialInput, JwtSecretInput, KeyAuthCredentialInput } from './schema/credentials';
import type { DocumentInput } from './schema/document';
import type { PluginInput } from './schema/plugin';
import type { RouteInput } from './schema/route';
import type { ServiceInput } from './schema/service';
import type { TargetInput } from './schema/target';
import type { UpstreamInput } from './schema/upstream';
import type {
  AclConfig,
  BasicAuthCredentialConfig,
  CaCertificateConfig,
  CertificateConfig,
  ConsumerConfig,
  CredentialsConfig,
  HmacAuthCredentialConfig,
  JwtSecretConfig,
  KeyAuthCredentialConfig,
  NormalizedConfig,
  PluginConfig,
  Protocol,
  RouteConfig,
  ServiceConfig,
  HealthchecksConfig,
  TargetConfig,
  UpstreamConfig,
} from './types';
import { isHmacAlgorithm, parseHost, parseJwtPublicKey, parseRouteHost, parseServiceUrl, parseTarget, type Parsed } from './values';

export function normalize(doc: DocumentInput, model: Model): NormalizedConfig {
  const upstreamNames = new Set(model.upstreams.map((u) => String(u.data.name)));
  return {
    formatVersion: doc._format_version,
    services: model.services.map((e) => service(e, model, upstreamNames)),
    routes: model.routes.map((e, order) => route(e, order, model)),
    upstreams: model.upstreams.map((e) => upstream(e, model)),
    consumers: model.consumers.map((e) => consumer(e, model)),
    credentials: credentials(model),
    plugins: model.plugins.map((e) => plugin(e, model)),
    certificates: model.certificates.map((e) => certificate(e, model)),
    caCertificates: model.caCertificates.map((e) => caCertificate(e, model)),
  };
}

function certificate(e: Entity, model: Model): CertificateConfig {
  const c = e.data as CertificateInput;
  return {
    id: model.idOf(e),
    cert: c.cert,
    key: c.key,
    certAlt: c.cert_alt ?? null,
    keyAlt: c.key_alt ?? null,
    snis: model.snis.filter((s) => model.certificateOf(s) === e).map((s) => String(s.data.name).toLowerCase()),
    tags: [...c.tags],
  };
}

function caCertificate(e: Entity, model: Model): CaCertificateConfig {
  const c = e.data as CaCertificateInput;
  // tls-checks.ts parsed it already.
  return { id: model.idOf(e), cert: c.cert, certDigest: caDigest(new X509Certificate(c.cert)), tags: [...c.tags] };
}

function service(e: Entity, model: Model, upstreamNames: ReadonlySet<string>): ServiceConfig {
  const s = e.data as ServiceInput;
  // `url` and the separate fields are exclusive (field-checks.ts), so one of the two applies.
  const parts =
    s.url !== undefined
      ? valid(parseServiceUrl(s.url))
      : { protocol: s.protocol ?? 'http', host: valid(parseHost(s.host!)), port: s.port ?? null, path: s.path ?? null };
  const protocol = parts.protocol as Protocol;
  return {
    id: model.idOf(e),
    name: s.name ?? null,
    protocol,
    host: parts.host,
    port: parts.port ?? (protocol === 'https' || protocol === 'grpcs' ? 443 : 80),
    path: parts.path,
    retries: s.retries,
    connectTimeout: s.connect_timeout,
    readTimeout: s.read_timeout,
    writeTimeout: s.write_timeout,
    upstream: upstreamNames.has(parts.host) ? parts.host : null,
    tlsVerify: s.tls_verify ?? false,
    enabled: s.enabled,
    tags: [...s.tags],
  };
}

function route(e: Entity, order: number, model: Model): RouteConfig {
  const r = e.data as RouteInput;
  const svc = model.serviceOf(e);
  return {
    id: model.idOf(e),
    name: r.name ?? null,
    service: svc === null ? null : model.idOf(svc),
    protocols: supportedProtocols(r.protocols),
    methods: nonEmpty(r.methods) ? unique(r.methods.map((m) => m.toUpperCase())) : null,
    hosts: nonEmpty(r.hosts) ? unique(r.hosts.map((h) => valid(parseRouteHost(h)))) : null,
    paths: nonEmpty(r.paths) ? [...r.paths] : null,
    headers: headers(r.headers),
    stripPath: r.strip_path,
    preserveHost: r.preserve_host,
    regexPriority: r.regex_priority,
    httpsRedirectStatusCode: r.https_redirect_status_code,
    requestBuffering: r.request_buffering,
    responseBuffering: r.response_buffering,
    order,
    tags: [...r.tags],
  };
}

/** Lower-cased names; a single string becomes a one-item list (Kong accepts both). */
function headers(h: RouteInput['headers']): Record<string, string[]> | null {
  if (h === undefined || h === null || Object.keys(h).length === 0) return null;
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(h)) out[name.toLowerCase()] = typeof values === 'string' ? [values] : [...values];
  return out;
}

function upstream(e: Entity, model: Model): UpstreamConfig {
  const u = e.data as UpstreamInput;
  return {
    id: model.idOf(e),
    name: u.name,
    algorithm: u.algorithm,
    slots: u.slots,
    targets: model.targets.filter((t) => model.upstreamOf(t) === e).map(target),
    // A deep copy: the balancer must not share objects with the parsed document.
    healthchecks: structuredClone(u.healthchecks) as HealthchecksConfig,
    outlierDetection: {
      ejectionTime: u.outlier_detection.ejection_time!,
      maxEjectionPercent: u.outlier_detection.max_ejection_percent!,
    },
    circuitBreakers: {
      maxConnections: u.circuit_breakers.max_connections!,
      maxPendingRequests: u.circuit_breakers.max_pending_requests!,
      maxRequests: u.circuit_breakers.max_requests!,
      maxRetries: u.circuit_breakers.max_retries!,
    },
    retryBudget: {
      budgetPercent: u.retry_budget.budget_percent!,
      minRetries: u.retry_budget.min_retries!,
      window: u.retry_budget.window!,
      backoffBaseMs: u.retry_budget.backoff_base_ms!,
      backoffMaxMs: u.retry_budget.backoff_max_ms!,
    },
    hashOn: u.hash_on,
    hashFallback: u.hash_fallback,
    hashOnHeader: u.hash_on_header ?? null,
    hashFallbackHeader: u.hash_fallback_header ?? null,
    hashOnCookie: u.hash_on_cookie ?? null,
    hashOnCookiePath: u.hash_on_cookie_path,
    hashOnQueryArg: u.hash_on_query_arg ?? null,
    hashFallbackQueryArg: u.hash_fallback_query_arg ?? null,
    tags: [...u.tags],
  };
}

function target(e: Entity): TargetConfig {
  const t = e.data as TargetInput;
  const address = valid(parseTarget(t.target));
  return { target: address.target, host: address.host, port: address.port, weight: t.weight };
}

function consumer(e: Entity, model: Model): ConsumerConfig {
  const c = e.data as ConsumerInput;
  return { id: model.idOf(e), username: c.username ?? null, customId: c.custom_id ?? null, tags: [...c.tags] };
}

function plugin(e: Entity, model: Model): PluginConfig {
  const p = e.data as PluginInput;
  const scope = model.scopeOf(e);
  const idOf = (x: Entity | null) => (x === null ? null : model.idOf(x));
  return {
    id: model.idOf(e),
    name: p.name,
    instanceName: p.instance_name ?? null,
    enabled: p.enabled,
    service: idOf(scope.service),
    route: idOf(scope.route),
    consumer: idOf(scope.consumer),
    protocols: supportedProtocols(p.protocols),
    config: structuredClone(p.config),
    tags: [...p.tags],
  };
}

/**
 * Every credential with its consumer's id. Deterministic except for the basic-auth salts: the
 * password itself is hashed here and not kept.
 */
function credentials(model: Model): CredentialsConfig {
  const common = (e: Entity) => {
    const consumer = model.consumerOf(e);
    // references.ts reported every unresolved consumer; reaching here without one is a bug.
    if (consumer === null) throw new Error(`normalize: unchecked consumer reference at ${e.path.join('.')}`);
    return { id: model.idOf(e), consumer: model.idOf(consumer), tags: [...(e.data as { tags: readonly string[] }).tags] };
  };
  const { keyauth_credential, basicauth_credential, jwt_secret, acl, hmacauth_credential } = model.credentials;
  return {
    hmacauth: hmacauth_credential.map((e): HmacAuthCredentialConfig => {
      const { id, consumer, tags } = common(e);
      const h = e.data as HmacAuthCredentialInput;
      return { id, consumer, username: h.username, secret: h.secret!, tags };
    }),
    keyauth: keyauth_credential.map((e): KeyAuthCredentialConfig => {
      const { id, consumer, tags } = common(e);
      return { id, consumer, key: (e.data as KeyAuthCredentialInput).key!, tags };
    }),
    basicauth: basicauth_credential.map((e): BasicAuthCredentialConfig => {
      const { id, consumer, tags } = common(e);
      const b = e.data as BasicAuthCredentialInput;
      const salt = newSalt();
      return { id, consumer, username: b.username, salt, passwordHash: hashPassword(b.password, salt), tags };
    }),
    jwt: jwt_secret.map((e): JwtSecretConfig => {
      const { id, consumer, tags } = common(e);
      const j = e.data as JwtSecretInput;
      // Kong generates a secret for every jwt credential, so files exported from Kong carry one
      // for RS*/ES* too; it is never used for those, so it is dropped.
      const hmac = isHmacAlgorithm(j.algorithm);
      return {
        id,
        consumer,
        key: j.key!,
        algorithm: j.algorithm,
        secret: hmac ? j.secret! : null,
        rsaPublicKey: hmac ? null : valid(parseJwtPublicKey(j.rsa_public_key!, j.algorithm)),
        tags,
      };
    }),
    acls: acl.map((e): AclConfig => {
      const { id, consumer, tags } = common(e);
      return { id, consumer, group: (e.data as AclInput).group, tags };
    }),
  };
}

/** Kong protocols Floodgate does not proxy are dropped (field-checks.ts refused routes that need them). */
function supportedProtocols(list: readonly string[]): Protocol[] {
  return unique(list.filter((p): p is Protocol => p === 'http' || p === 'https' || p === 'grpc' || p === 'grpcs'));
}

function unique<T>(list: readonly T[]): T[] {
  return [...new Set(list)];
}

function nonEmpty<T>(list: readonly T[] | null | undefined): list is readonly T[] {
  return list !== null && list !== undefined && list.length > 0;
}

/** Values reaching normalize were checked already; a failure here is a bug, not bad input. */
function valid<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new Error(`normalize: unchecked value: ${parsed.error}`);
  return parsed.value;
}
