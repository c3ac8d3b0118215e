/**
 * Kong's vault references, resolved once when the file is loaded: a string value that is a
 * whole reference `{vault://<prefix>/<resource>[/<key>]}` is replaced by the secret.
 *
 * Floodgate implements Kong's `env` vault: `<prefix>` is `env`, or the `prefix` of a `vaults`
 * entity whose `name` is `env`. The variable read is the resource, with the vault's
 * `config.prefix` in front, upper-cased and with `-` turned into `_` (Kong's rule), so
 * `{vault://env/my-token}` reads MY_TOKEN; a `?prefix=APP_` query overrides the vault's prefix
 * for one reference. With a `<key>`, the variable holds a JSON object and the value is its
 * `<key>` field.
 *
 * Kong resolves references only in fields marked "referenceable"; Floodgate resolves them in any
 * string field outside the `vaults` entities, which accepts every file Kong accepts. A reference
 * that cannot be resolved is an error at the field that holds it, never the literal text.
 */
import { isObject } from './entities';
import type { Issue, Path } from './errors';

export interface VaultResult {
  readonly issues: Issue[];
  /** Every resolved value: kept out of error messages like any other secret. */
  readonly secrets: string[];
}

/** Vault implementations Kong has; only env exists in Floodgate. */
const KONG_VAULTS = ['env', 'aws', 'gcp', 'hcv', 'azure', 'conjur'];

/** Annotations, never configuration: a reference written there is left as text. */
const NOT_CONFIG = new Set(['_comment', '_ignore', '_info']);

const REFERENCE = /^\{vault:\/\/([^/{}]+)\/([^{}?]+?)\/?(\?[^{}]*)?\}$/;

/** Replaces every reference in `doc` in place. `env` is the process environment (a parameter for tests). */
export function resolveVaultReferences(doc: unknown, env: NodeJS.ProcessEnv = process.env): VaultResult {
  const result: VaultResult = { issues: [], secrets: [] };
  if (!isObject(doc)) return result;
  const vaults = envVaults(doc, result.issues);
  const visit = (value: unknown, path: Path, set: (v: unknown) => void) => {
    if (typeof value === 'string') {
      if (value.startsWith('{vault://')) resolveOne(value, path, vaults, env, result, set);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, [...path, i], (v) => (value[i] = v)));
    } else if (isObject(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (!NOT_CONFIG.has(k)) visit(v, [...path, k], (nv) => (value[k] = nv));
      }
    }
  };
  for (const [k, v] of Object.entries(doc)) {
    if (k !== 'vaults' && !NOT_CONFIG.has(k)) visit(v, [k], (nv) => (doc[k] = nv));
  }
  return result;
}

/** Vault prefix -> env-variable prefix, for `env` itself and every `vaults` entity of kind env. */
function envVaults(doc: Record<string, unknown>, issues: Issue[]): Map<string, string> {
  const vaults = new Map<string, string>([['env', '']]);
  if (!Array.isArray(doc.vaults)) return vaults;
  doc.vaults.forEach((v, i) => {
    if (!isObject(v) || typeof v.prefix !== 'string' || typeof v.name !== 'string') return; // the schema reports it
    if (v.name !== 'env') {
      const why = KONG_VAULTS.includes(v.name)
        ? `the "${v.name}" vault is not supported by Floodgate (only Kong's "env" vault is; "${v.name}" is a Kong Enterprise vault)`
        : `unknown vault "${v.name}" (Floodgate supports Kong's "env" vault)`;
      issues.push({ path: ['vaults', i, 'name'], message: why });
      return;
    }
    const config = isObject(v.config) ? v.config : {};
    vaults.set(v.prefix, typeof config.prefix === 'string' ? config.prefix : '');
  });
  return vaults;
}

function resolveOne(
  ref: string,
  path: Path,
  vaults: ReadonlyMap<string, string>,
  env: NodeJS.ProcessEnv,
  { issues, secrets }: VaultResult,
  set: (v: unknown) => void,
): void {
  const m = REFERENCE.exec(ref);
  if (m === null) {
    issues.push({ path, message: `invalid vault reference ${ref} (expected {vault://<prefix>/<name>} or {vault://<prefix>/<name>/<key>})` });
    return;
  }
  const [, prefix, resourcePath, query] = m;
  const configured = vaults.get(prefix);
  // Kong lets a reference override the vault's config in its query: `?prefix=APP_`.
  const envPrefix = configured === undefined ? undefined : (new URLSearchParams(query ?? '').get('prefix') ?? configured);
  if (envPrefix === undefined) {
    const known = [...vaults.keys()].map((k) => `"${k}"`).join(', ');
    issues.push({ path, message: `vault reference ${ref}: no vault has the prefix "${prefix}" (known: ${known}; add a "vaults" entry with name "env" and prefix "${prefix}")` });
    return;
  }
  const slash = resourcePath.indexOf('/');
  const resource = slash < 0 ? resourcePath : resourcePath.slice(0, slash);
  const key = slash < 0 ? null : resourcePath.slice(slash + 1);
  const variable = (envPrefix + resource).replace(/-/g, '_').toUpperCase();
  const raw = env[variable];
  if (raw === undefined) {
    issues.push({ path, message: `vault reference ${ref}: the environment variable ${variable} is not set` });
    return;
  }
  let value: string = raw;
  if (key !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      issues.push({ path, message: `vault reference ${ref}: ${variable} must hold a JSON object to read the key "${key}" from` });
      return;
    }
    const field = isObject(parsed) ? parsed[key] : undefined;
    if (typeof field !== 'string' && typeof field !== 'number' && typeof field !== 'boolean') {
      issues.push({ path, message: `vault reference ${ref}: the JSON in ${variable} has no string field "${key}"` });
      return;
    }
    value = String(field);
  }
  secrets.push(value);
  set(value);
}
