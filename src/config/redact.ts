/**
 * A copy of a normalized config that is safe to show (admin API, logs): every credential secret
 * replaced by "[REDACTED]". Ids, consumers, usernames, groups, jwt keys (the public `iss` value)
 * and jwt public keys stay, so the copy still says who can authenticate and how.
 */
import type { NormalizedConfig } from './types';

export const REDACTED = '[REDACTED]';

/** A deep copy; the input is not touched. A jwt secret that is `null` (asymmetric) stays `null`. */
export function redactConfig(config: NormalizedConfig): unknown {
  const copy = structuredClone(config);
  const { keyauth, basicauth, jwt, acls } = copy.credentials;
  return {
    ...copy,
    plugins: copy.plugins.map(redactPluginSecrets),
    credentials: {
      keyauth: keyauth.map((k) => ({ ...k, key: REDACTED })),
      basicauth: basicauth.map((b) => ({ ...b, salt: REDACTED, passwordHash: REDACTED })),
      jwt: jwt.map((j) => ({ ...j, secret: j.secret === null ? null : REDACTED })),
      acls,
    },
  };
}

/** Plugin secrets: the `redis.password` of plugins that talk to redis (rate-limiting). */
function redactPluginSecrets(plugin: NormalizedConfig['plugins'][number]): NormalizedConfig['plugins'][number] {
  const redis = plugin.config.redis as { password?: unknown } | undefined;
  if (redis === undefined || redis === null || typeof redis.password !== 'string') return plugin;
  return { ...plugin, config: { ...plugin.config, redis: { ...redis, password: REDACTED } } };
}
