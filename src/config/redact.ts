/**
 * A copy of a normalized config that is safe to show (admin API, logs): every credential secret
 * replaced by "[REDACTED]". Ids, consumers, usernames, groups, jwt keys (the public `iss` value)
 * and jwt public keys stay, so the copy still says who can authenticate and how.
 *
 * Plugin configs and upstream health checks are walked too: any field whose name says it holds a
 * secret (password, secret, token, api_key, private_key, ... at any depth, e.g. a rate limiter's
 * `redis_password` or `redis.password`) is redacted, whatever the plugin.
 */
import type { NormalizedConfig } from './types';

export const REDACTED = '[REDACTED]';

/** A deep copy; the input is not touched. A jwt secret that is `null` (asymmetric) stays `null`. */
export function redactConfig(config: NormalizedConfig): unknown {
  const copy = structuredClone(config);
  const { keyauth, basicauth, jwt, acls, hmacauth } = copy.credentials;
  return {
    ...copy,
    plugins: copy.plugins.map((p) => ({ ...p, config: redactSecretFields(p.config) })),
    certificates: (copy.certificates ?? []).map((c) => ({ ...c, key: REDACTED, keyAlt: c.keyAlt === null ? null : REDACTED })),
    upstreams: copy.upstreams.map((u) => ({ ...u, healthchecks: redactSecretFields(u.healthchecks) })),
    credentials: {
      keyauth: keyauth.map((k) => ({ ...k, key: REDACTED })),
      basicauth: basicauth.map((b) => ({ ...b, salt: REDACTED, passwordHash: REDACTED })),
      jwt: jwt.map((j) => ({ ...j, secret: j.secret === null ? null : REDACTED })),
      acls,
      hmacauth: (hmacauth ?? []).map((h) => ({ ...h, secret: REDACTED })),
    },
  };
}

/**
 * Field names that hold secrets, matched on the whole name or its last `_`/`-` separated words:
 * `password`, `redis_password`, `client_secret`, `api_key`, `access_token`, `private_key`...
 * but not `key_names` or `hide_credentials` (names, flags).
 */
const SECRET_NAME = /(^|[_-])(password|passwd|pass|secret|token|api[_-]?key|private[_-]?key|secret[_-]?key|access[_-]?key|auth[_-]?key|credentials?)$/i;

export function isSecretFieldName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A copy of plain data with every secret-named field (non-empty, non-boolean) redacted. */
export function redactSecretFields<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecretFields(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (isSecretFieldName(k) && v !== null && v !== '' && typeof v !== 'boolean' && (typeof v === 'string' || typeof v === 'number')) out[k] = REDACTED;
    else if (isSecretFieldName(k) && Array.isArray(v)) out[k] = v.map(() => REDACTED);
    else out[k] = redactSecretFields(v);
  }
  return out as T;
}
