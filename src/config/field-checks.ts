/**
 * Checks on one entity at a time that JSON Schema cannot express well: mutually exclusive
 * fields, "at least one of", regexes that must compile, host syntax, protocols Kong has but
 * Floodgate lacks, fields that nesting makes redundant, and credential rules (values Kong would
 * generate, jwt keys matching their algorithm). They run only on entities that passed the schema,
 * so the data has its declared types here.
 *
 * Credential messages never quote a key, secret or password: they say what is wrong, not what
 * was written (the line points at it).
 */
import { CREDENTIAL_KINDS, type CredentialKind, type Entity } from './entities';
import type { Issue, Path } from './errors';
import { SUPPORTED_PROTOCOLS } from './schema/common';
import type { ConsumerInput } from './schema/consumer';
import type { HmacAuthCredentialInput, JwtSecretInput, KeyAuthCredentialInput } from './schema/credentials';
import type { PluginInput } from './schema/plugin';
import type { RouteInput } from './schema/route';
import type { ServiceInput } from './schema/service';
import type { TargetInput } from './schema/target';
import type { UpstreamInput } from './schema/upstream';
import type { CaCertificateInput, CertificateInput, SniInput } from './schema/certificate';
import { checkCaCertificate, checkCertificate, checkSni } from './tls-checks';
import {
  isHmacAlgorithm,
  isKongProtocol,
  parseHost,
  parseJwtPublicKey,
  parseRouteHost,
  parseServiceUrl,
  parseTarget,
  protocolProblem,
  regexProblem,
} from './values';

type Report = (path: Path, message: string, at?: 'key') => void;

export function checkFields(entities: readonly Entity[], isClean: (e: Entity) => boolean): Issue[] {
  const issues: Issue[] = [];
  for (const e of entities) {
    if (!isClean(e)) continue;
    const report: Report = (path, message, at) => issues.push({ path: [...e.path, ...path], message, at });
    switch (e.kind) {
      case 'service':
        checkService(e.data as ServiceInput, report);
        break;
      case 'route':
        checkRoute(e.data as RouteInput, e.parent, report);
        break;
      case 'upstream':
        checkUpstream(e.data as UpstreamInput, report);
        break;
      case 'target':
        checkTarget(e.data as TargetInput, e.parent, report);
        break;
      case 'consumer':
        checkConsumer(e.data as ConsumerInput, report);
        break;
      case 'plugin':
        checkPlugin(e.data as PluginInput, e.parent, report);
        break;
      case 'keyauth_credential':
        checkCredentialConsumer(e, report);
        checkKeyAuth(e.data as KeyAuthCredentialInput, report);
        break;
      case 'jwt_secret':
        checkCredentialConsumer(e, report);
        checkJwtSecret(e.data as JwtSecretInput, report);
        break;
      case 'hmacauth_credential':
        checkCredentialConsumer(e, report);
        if ((e.data as HmacAuthCredentialInput).secret === undefined) {
          report(['secret'], 'is required: Floodgate does not generate secrets (Kong would make up a random one, which a declarative file could not tell its clients)');
        }
        break;
      case 'basicauth_credential':
      case 'acl':
        checkCredentialConsumer(e, report);
        break;
      case 'certificate':
        checkCertificate(e.data as CertificateInput, report);
        break;
      case 'sni':
        checkSni(e.data as SniInput, e.parent?.kind === 'certificate', report);
        break;
      case 'ca_certificate':
        checkCaCertificate(e.data as CaCertificateInput, report);
        break;
    }
  }
  return issues;
}

function checkService(s: ServiceInput, report: Report): void {
  // Kong: `url` is shorthand for protocol, host, port and path and overrides them when both are
  // written (decK dumps often carry both), so the separate fields are not checked then.
  if (s.url !== undefined) {
    const url = parseServiceUrl(s.url);
    if (!url.ok) report(['url'], url.error);
    return;
  }
  if (s.host === undefined) report(['host'], 'is required (set "host" or "url")');
  else {
    const host = parseHost(s.host);
    if (!host.ok) report(['host'], host.error);
  }
  if (s.protocol !== undefined) {
    const bad = protocolProblem(s.protocol);
    if (bad !== null) report(['protocol'], bad);
  }
}

function checkRoute(r: RouteInput, parent: Entity | null, report: Report): void {
  if (parent?.kind === 'service' && r.service !== undefined && r.service !== null) {
    report(['service'], 'must not be set on a route nested in a service (the route belongs to that service)', 'key');
  }
  r.protocols.forEach((p, i) => {
    const bad = protocolProblem(p);
    if (bad !== null) report(['protocols', i], bad);
  });
  if (r.path_handling === 'v1') report(['path_handling'], '"v1" is not supported (only "v0")');

  const headerCount = r.headers ? Object.keys(r.headers).length : 0;
  if (!r.methods?.length && !r.hosts?.length && !r.paths?.length && headerCount === 0) {
    report([], 'must set at least one of "methods", "hosts", "headers" or "paths"');
  }
  r.methods?.forEach((m, i) => {
    if (!/^[A-Z]+$/.test(m.toUpperCase())) report(['methods', i], `"${m}" is not a valid HTTP method`);
  });
  r.hosts?.forEach((h, i) => {
    const host = parseRouteHost(h);
    if (!host.ok) report(['hosts', i], host.error);
  });
  r.paths?.forEach((p, i) => {
    if (!p.startsWith('~')) return;
    const bad = regexProblem(p.slice(1));
    if (bad !== null) report(['paths', i], bad);
  });
  if (r.headers) checkHeaders(r.headers, report);
}

function checkHeaders(headers: Readonly<Record<string, string | string[]>>, report: Report): void {
  const seen = new Map<string, string>();
  for (const [name, values] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'host') report(['headers', name], 'the Host header cannot be matched here; use "hosts"', 'key');
    const previous = seen.get(lower);
    if (previous !== undefined) report(['headers', name], `duplicate header "${name}" (header names are case-insensitive; also given as "${previous}")`, 'key');
    seen.set(lower, name);
    const list = typeof values === 'string' ? [values] : values;
    list.forEach((v, i) => {
      if (!v.startsWith('~*')) return;
      const bad = regexProblem(v.slice(2), 'i');
      const path = typeof values === 'string' ? ['headers', name] : ['headers', name, i];
      if (bad !== null) report(path, bad);
    });
  }
}

function checkUpstream(u: UpstreamInput, report: Report): void {
  const requires = (when: boolean, field: keyof UpstreamInput, reason: string) => {
    if (when && (u[field] === undefined || u[field] === null)) report([field], `is required when ${reason}`);
  };
  requires(u.hash_on === 'header', 'hash_on_header', 'hash_on is "header"');
  requires(u.hash_fallback === 'header', 'hash_fallback_header', 'hash_fallback is "header"');
  requires(u.hash_on === 'cookie' || u.hash_fallback === 'cookie', 'hash_on_cookie', 'hashing on "cookie"');
  requires(u.hash_on === 'query_arg', 'hash_on_query_arg', 'hash_on is "query_arg"');
  requires(u.hash_fallback === 'query_arg', 'hash_fallback_query_arg', 'hash_fallback is "query_arg"');
  const activeType = u.healthchecks.active?.type;
  if (activeType === 'grpc' || activeType === 'grpcs') {
    report(['healthchecks', 'active', 'type'], `"${activeType}" health checks are not supported by Floodgate (use http, https or tcp)`);
  }
  const budget = u.retry_budget;
  if (budget.backoff_base_ms !== undefined && budget.backoff_max_ms !== undefined && budget.backoff_max_ms < budget.backoff_base_ms) {
    report(['retry_budget', 'backoff_max_ms'], `must be at least backoff_base_ms (${budget.backoff_base_ms})`);
  }
  // Kong's rules: nothing to fall back from, a cookie is always present (Kong sets it), and a
  // fallback equal to the primary adds nothing (except a different header or query argument).
  if (u.hash_fallback !== 'none') {
    if (u.hash_on === 'none' || u.hash_on === 'cookie') {
      report(['hash_fallback'], `must be "none" when hash_on is "${u.hash_on}"`);
    } else if (u.hash_fallback === u.hash_on && u.hash_on !== 'header' && u.hash_on !== 'query_arg') {
      report(['hash_fallback'], `must differ from hash_on ("${u.hash_on}")`);
    }
  }
}

function checkTarget(t: TargetInput, parent: Entity | null, report: Report): void {
  const hasUpstream = t.upstream !== undefined && t.upstream !== null;
  if (parent !== null && hasUpstream) {
    report(['upstream'], 'must not be set on a target nested in an upstream (the target belongs to that upstream)', 'key');
  }
  if (parent === null && !hasUpstream) report(['upstream'], 'is required for a top-level target (or nest the target in its upstream)');
  const parsed = parseTarget(t.target);
  if (!parsed.ok) report(['target'], parsed.error);
}

function checkConsumer(c: ConsumerInput, report: Report): void {
  if ((c.username ?? null) === null && (c.custom_id ?? null) === null) {
    report([], 'must set at least one of "username" or "custom_id"');
  }
}

function checkPlugin(p: PluginInput, parent: Entity | null, report: Report): void {
  if (parent !== null) {
    const scope = parent.kind as 'service' | 'route' | 'consumer';
    if (p[scope] !== undefined && p[scope] !== null) {
      report([scope], `must not be set on a plugin nested in a ${scope} (the plugin applies to that ${scope})`, 'key');
    }
  }
  const onConsumer = parent?.kind === 'consumer' || (p.consumer !== undefined && p.consumer !== null);
  if (onConsumer && NO_CONSUMER_PLUGINS.has(p.name)) {
    report(
      parent?.kind === 'consumer' ? ['name'] : ['consumer'],
      `plugin "${p.name}" cannot be applied to a consumer: Kong forbids it (its schema requires "consumer" to be null); put it on a service, a route or globally`,
    );
  }
  // Kong's default lists grpc too, so Kong protocols Floodgate lacks are dropped rather than
  // refused, unless nothing is left and the plugin could never run.
  p.protocols.forEach((x, i) => {
    if (!isKongProtocol(x)) report(['protocols', i], protocolProblem(x)!);
  });
  if (p.protocols.every(isKongProtocol) && !p.protocols.some((x) => (SUPPORTED_PROTOCOLS as readonly string[]).includes(x))) {
    report(['protocols'], `none of these protocols is supported by Floodgate (${SUPPORTED_PROTOCOLS.join(', ')}), so the plugin would never run`);
  }
}

/** Nested in a consumer: it belongs to that consumer. Top level: it must name one. */
function checkCredentialConsumer(e: Entity, report: Report): void {
  const { what, collection } = CREDENTIAL_KINDS[e.kind as CredentialKind];
  const hasConsumer = e.data.consumer !== undefined && e.data.consumer !== null;
  if (e.parent !== null && hasConsumer) {
    report(['consumer'], `must not be set on ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what} nested in a consumer (it belongs to that consumer)`, 'key');
  }
  if (e.parent === null && !hasConsumer) {
    report(['consumer'], `is required for a top-level ${what} (or nest it in its consumer's "${collection}")`);
  }
}

function checkKeyAuth(k: KeyAuthCredentialInput, report: Report): void {
  if (k.key === undefined) {
    report(['key'], 'is required: Floodgate does not generate keys (Kong would make up a random one, which a declarative file could not tell its clients)');
  }
  if (k.ttl !== undefined && k.ttl !== null) {
    report(['ttl'], 'is not supported: keys from a declarative config do not expire in Floodgate; remove "ttl"', 'key');
  }
}

function checkJwtSecret(j: JwtSecretInput, report: Report): void {
  if (j.key === undefined) {
    report(['key'], 'is required: Floodgate does not generate keys (Kong would make up a random one); set it to the value tokens carry in their key claim ("iss" by default)');
  }
  const hasPublicKey = j.rsa_public_key !== undefined && j.rsa_public_key !== null;
  if (isHmacAlgorithm(j.algorithm)) {
    if (j.secret === undefined || j.secret === null) {
      report(['secret'], `is required for algorithm "${j.algorithm}": Floodgate does not generate secrets (Kong would make up a random one)`);
    }
    if (hasPublicKey) report(['rsa_public_key'], `must not be set for algorithm "${j.algorithm}" (HMAC algorithms verify with "secret")`, 'key');
    return;
  }
  if (!hasPublicKey) {
    report(['rsa_public_key'], `is required for algorithm "${j.algorithm}" (a PEM public key)`);
    return;
  }
  const parsed = parseJwtPublicKey(j.rsa_public_key!, j.algorithm);
  if (!parsed.ok) report(['rsa_public_key'], parsed.error);
}

/**
 * Bundled Kong plugins whose schema has `consumer = typedefs.no_consumer` (Kong 3.9): the
 * authentication plugins identify the consumer, so they cannot depend on it, and a few others
 * run before a consumer is known.
 */
export const NO_CONSUMER_PLUGINS: ReadonlySet<string> = new Set([
  'acl',
  'acme',
  'ai-request-transformer',
  'basic-auth',
  'bot-detection',
  'cors',
  'hmac-auth',
  'jwt',
  'key-auth',
  'ldap-auth',
  // Kong Gateway Enterprise's, bundled here (plugins/mtls-auth).
  'mtls-auth',
  'oauth2',
  'post-function',
  'pre-function',
  'session',
  'standard-webhooks',
]);
