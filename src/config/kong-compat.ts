/**
 * Kong's input, adapted before the schemas see it. Kong 3.9 accepts more than the shape Floodgate
 * validates; this pass decides, field by field, what each extra means:
 *   - `_comment`, `_ignore`, `created_at`, `updated_at` on any entity: checked, then dropped;
 *   - `null` for a field means "unset" in Kong, so the key is dropped and the default applies;
 *   - a certificate's `snis` written as plain names become SNI objects;
 *   - deprecated plugin fields Kong still accepts are moved to their successors, with one
 *     warning per plugin entry (rate-limiting `redis_*`, http-log `queue_size`...);
 *   - fields Kong accepts and Floodgate does not implement are dropped when they hold Kong's
 *     default (decK dumps write them out) and refused with the reason otherwise.
 * It runs on the raw document, so it is defensive about shapes: anything it does not recognise
 * is left for the schemas to report.
 */
import { isObject, type Entity } from './entities';
import type { Issue, Path } from './errors';

export interface CompatResult {
  /** Problems that stop the load (refused fields, bad `_comment`...). */
  readonly issues: Issue[];
  /** Accepted with a deprecation or a behaviour note; shown once at load. */
  readonly warnings: Issue[];
}

/** Plain SNI names in `certificates[].snis` become `{name}`, so each is an entity with a line. */
export function expandNestedSnis(doc: unknown): void {
  if (!isObject(doc) || !Array.isArray(doc.certificates)) return;
  for (const cert of doc.certificates) {
    if (!isObject(cert) || !Array.isArray(cert.snis)) continue;
    cert.snis = cert.snis.map((s) => (typeof s === 'string' ? { name: s } : s));
  }
}

export function adaptKongInput(entities: readonly Entity[]): CompatResult {
  const result: CompatResult = { issues: [], warnings: [] };
  for (const e of entities) {
    adaptMetaFields(e, result);
    dropNulls(e.data, nestedCollections(e));
    refuseUnsupported(e, ENTITY_FIELDS[e.kind] ?? [], [], result);
    if (e.kind === 'plugin') adaptPlugin(e, result);
  }
  return result;
}

/** Kong's extra attributes of every entity in a declarative file, and its timestamps. */
function adaptMetaFields(e: Entity, { issues }: CompatResult): void {
  const d = e.data;
  const check = (field: string, ok: (v: unknown) => boolean, what: string) => {
    if (!(field in d)) return;
    if (d[field] !== null && !ok(d[field])) issues.push({ path: [...e.path, field], message: `must be ${what}` });
    delete d[field];
  };
  check('_comment', (v) => typeof v === 'string', 'a string');
  check('_ignore', Array.isArray, 'an array');
  check('created_at', Number.isInteger, 'an integer (a Unix timestamp)');
  check('updated_at', Number.isInteger, 'an integer (a Unix timestamp)');
}

/** The keys of `e` that hold nested entities: they are visited as entities of their own. */
function nestedCollections(e: Entity): ReadonlySet<string> {
  return NESTED[e.kind] ?? EMPTY;
}
const EMPTY: ReadonlySet<string> = new Set();
const CREDENTIAL_KEYS = ['keyauth_credentials', 'basicauth_credentials', 'jwt_secrets', 'acls', 'hmacauth_credentials', 'oauth2_credentials'];
const NESTED: Partial<Record<Entity['kind'], ReadonlySet<string>>> = {
  service: new Set(['routes', 'plugins']),
  route: new Set(['plugins']),
  upstream: new Set(['targets']),
  consumer: new Set(['plugins', ...CREDENTIAL_KEYS]),
  certificate: new Set(['snis']),
};

/**
 * Kong: a field set to null is unset, so its default applies. Removing the key gives exactly
 * that, at any depth of plain objects (a plugin's `config`, an upstream's `healthchecks`). Array
 * items are left alone: `[null]` is a wrong value, not an unset one. A nested entity list that
 * is null is dropped too (the list is then empty).
 */
function dropNulls(obj: Record<string, unknown>, keepNested: ReadonlySet<string>): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v === null) delete obj[k];
    else if (isObject(v) && !keepNested.has(k)) dropNulls(v, EMPTY);
  }
}

/**
 * A field Kong accepts that Floodgate does not implement: fine at Kong's default, else refused.
 * With `refusedValues`, only those Kong values are refused and the field otherwise stays for the
 * schema (which then explains a value Kong does not know either).
 */
interface UnsupportedField {
  readonly field: string;
  /** Values that mean "not used" (Kong's default, and what decK writes for it). */
  readonly unused: readonly unknown[];
  readonly reason: string;
  /** Accepted at any value, with this warning when it is not `unused` (behaviour differs slightly). */
  readonly warnOnly?: boolean;
  readonly refusedValues?: readonly unknown[];
}

const ENTITY_FIELDS: Partial<Record<Entity['kind'], readonly UnsupportedField[]>> = {
  service: [
    { field: 'client_certificate', unused: [], reason: 'client certificates towards upstreams (mTLS) are not implemented' },
    { field: 'ca_certificates', unused: [[]], reason: 'per-service CA certificates for upstream TLS verification are not implemented (tls_verify uses the system CAs)' },
    { field: 'tls_verify_depth', unused: [], reason: 'the verification depth is not configurable (Node.js verifies the whole chain)' },
  ],
  route: [
    { field: 'snis', unused: [[]], reason: 'routing by TLS SNI is not implemented (use "hosts")' },
    { field: 'sources', unused: [[]], reason: 'sources are for Kong stream routes (tcp, tls, udp), which Floodgate does not proxy' },
    { field: 'destinations', unused: [[]], reason: 'destinations are for Kong stream routes (tcp, tls, udp), which Floodgate does not proxy' },
    { field: 'expression', unused: [], reason: 'the "expressions" router flavor is not implemented (use paths, hosts, methods and headers)' },
    { field: 'priority', unused: [0], reason: 'route priority belongs to the "expressions" router flavor, which is not implemented (use regex_priority)' },
  ],
  upstream: [
    { field: 'hash_on', unused: [], refusedValues: ['uri_capture'], reason: 'hashing on a URI capture is not implemented' },
    { field: 'hash_fallback', unused: [], refusedValues: ['uri_capture'], reason: 'hashing on a URI capture is not implemented' },
    { field: 'host_header', unused: [], reason: 'overriding the Host header per upstream is not implemented (use the route\'s preserve_host)' },
    { field: 'client_certificate', unused: [], reason: 'client certificates towards upstreams (mTLS) are not implemented' },
    { field: 'use_srv_name', unused: [false], reason: 'targets are resolved with A/AAAA records, so the SRV name cannot be used as SNI/Host' },
    { field: 'hash_on_uri_capture', unused: [], reason: 'hashing on a URI capture is not implemented' },
    { field: 'hash_fallback_uri_capture', unused: [], reason: 'hashing on a URI capture is not implemented' },
  ],
  plugin: [
    { field: 'consumer_group', unused: [], reason: 'plugins scoped to a consumer group are a Kong Enterprise feature' },
    { field: 'ordering', unused: [{}], reason: 'dynamic plugin ordering is a Kong Enterprise feature' },
  ],
};

function refuseUnsupported(
  e: Entity,
  fields: readonly UnsupportedField[],
  under: Path,
  { issues, warnings }: CompatResult,
): void {
  const holder = under.length === 0 ? e.data : valueIn(e.data, under);
  if (!isObject(holder)) return;
  for (const f of fields) {
    if (!(f.field in holder)) continue;
    const value = holder[f.field];
    const refused = f.refusedValues !== undefined ? f.refusedValues.some((v) => sameValue(v, value)) : !f.unused.some((u) => sameValue(u, value));
    if (f.refusedValues !== undefined && !refused) continue;
    if (refused) {
      const what = `"${[...under, f.field].join('.')}"`;
      const shown = f.refusedValues !== undefined ? ` ${JSON.stringify(value)}` : '';
      const message = `not supported by Floodgate: ${what}${shown}: ${f.reason}`;
      // Dropped either way: the line comes from the YAML source, and the schema must not add "unknown field".
      (f.warnOnly ? warnings : issues).push({ path: [...e.path, ...under, f.field], message, at: 'key' });
    }
    delete holder[f.field];
  }
}

/** A deprecated plugin field and where Kong moves it. */
interface Deprecated {
  readonly field: string;
  /**
   * Path under `config` of the successor; null when the field no longer does anything; 'kept'
   * when the plugin's own schema still reads the field (only the warning is added).
   */
  readonly to: readonly string[] | null | 'kept';
  /** Kong ignores the field at this value (its old default), so it is dropped without a word. */
  readonly oldDefault?: unknown;
  /**
   * Kong lets the deprecated value win over the successor's (http-log's legacy queue fields,
   * which Kong stores beside `queue`); otherwise different values are an error, as Kong's
   * shorthand fields are.
   */
  readonly overrides?: boolean;
  readonly hint: string;
}

const redis = (field: string): Deprecated => ({ field: `redis_${field}`, to: ['redis', field], hint: `use config.redis.${field}` });

const DEPRECATED: Readonly<Record<string, readonly Deprecated[]>> = {
  'rate-limiting': ['host', 'port', 'password', 'username', 'database', 'timeout', 'ssl', 'ssl_verify', 'server_name'].map(redis),
  // Kong 3.9's response-ratelimiting has the same shorthand redis_* fields (decK dumps write them).
  'response-ratelimiting': ['host', 'port', 'password', 'username', 'database', 'timeout', 'ssl', 'ssl_verify', 'server_name'].map(redis),
  'http-log': [
    { field: 'queue_size', to: ['queue', 'max_batch_size'], oldDefault: 1, overrides: true, hint: 'use config.queue.max_batch_size' },
    { field: 'flush_timeout', to: ['queue', 'max_coalescing_delay'], oldDefault: 2, overrides: true, hint: 'use config.queue.max_coalescing_delay' },
    { field: 'retry_count', to: null, oldDefault: 10, hint: 'it no longer does anything; use config.queue.max_retry_time' },
  ],
  // The opentelemetry plugin reads its deprecated fields itself (plugins/opentelemetry).
  opentelemetry: [
    { field: 'endpoint', to: 'kept', hint: 'use config.traces_endpoint' },
    { field: 'batch_span_count', to: 'kept', hint: 'use config.queue.max_batch_size' },
    { field: 'batch_flush_delay', to: 'kept', hint: 'use config.queue.max_coalescing_delay' },
  ],
};

/** Plugin config fields Kong accepts that Floodgate does not implement. */
const LUA_FIELD = 'Floodgate cannot run Lua; write a TypeScript plugin instead (the plugin contract is src/plugins/api.ts)';
const PLUGIN_FIELDS: Readonly<Record<string, readonly UnsupportedField[]>> = {
  'http-log': [{ field: 'custom_fields_by_lua', unused: [{}], reason: LUA_FIELD }],
  'file-log': [{ field: 'custom_fields_by_lua', unused: [{}], reason: LUA_FIELD }],
  cors: [
    {
      field: 'allow_origin_absent',
      unused: [false],
      reason: 'requests without an Origin header get no CORS headers (as with allow_origin_absent: false)',
      warnOnly: true,
    },
  ],
  opentelemetry: [
    {
      field: 'header_type',
      unused: [],
      refusedValues: ['ignore', 'b3', 'b3-single', 'jaeger', 'ot', 'aws', 'gcp', 'datadog', 'instana'],
      reason: 'Floodgate reads and writes W3C trace context only (header_type "preserve" or "w3c")',
    },
    { field: 'logs_endpoint', unused: [], reason: 'exporting logs over OTLP is not implemented (traces only)' },
    {
      field: 'propagation',
      unused: [{}, { default_format: 'w3c' }, { default_format: 'w3c', extract: [], inject: [], clear: [] }],
      reason: 'configurable propagation formats are not implemented (Floodgate propagates W3C trace context; see header_type)',
    },
  ],
};

function adaptPlugin(e: Entity, result: CompatResult): void {
  const name = e.data.name;
  const config = e.data.config;
  if (typeof name !== 'string' || !isObject(config)) return;
  refuseUnsupported(e, PLUGIN_FIELDS[name] ?? [], ['config'], result);
  const deprecated = DEPRECATED[name];
  if (deprecated === undefined) return;
  const used: string[] = [];
  for (const d of deprecated) {
    if (!(d.field in config)) continue;
    const value = config[d.field];
    const path = [...e.path, 'config', d.field];
    if (d.oldDefault !== undefined && sameValue(value, d.oldDefault)) {
      delete config[d.field];
      continue;
    }
    if (d.to === 'kept') {
      used.push(`"${d.field}" (${d.hint})`);
      continue;
    }
    if (d.to !== null) {
      const parent = ensureObject(config, d.to.slice(0, -1));
      if (parent === null) continue; // the successor's parent is not an object: the schema says so
      const leaf = d.to[d.to.length - 1];
      if (leaf in parent && !d.overrides) {
        if (!sameValue(parent[leaf], value)) {
          result.issues.push({
            path,
            message: `both deprecated and new field are used but their values mismatch: "${d.field}" and "${d.to.join('.')}"; keep only "${d.to.join('.')}"`,
            at: 'key',
          });
        } else {
          // Kong's API echoes deprecated fields beside their successors, so decK dumps carry both.
          delete config[d.field];
        }
        continue;
      }
      parent[leaf] = value;
    }
    delete config[d.field];
    used.push(`"${d.field}" (${d.hint})`);
  }
  if (used.length > 0) {
    result.warnings.push({
      path: [...e.path, 'name'],
      message: `deprecated in Kong 3.x and still accepted: ${used.join(', ')}`,
    });
  }
}

/** The object at `path` under `root`, created when absent; null when something else is there. */
function ensureObject(root: Record<string, unknown>, path: readonly string[]): Record<string, unknown> | null {
  let cur = root;
  for (const seg of path) {
    if (!(seg in cur)) cur[seg] = {};
    const next = cur[seg];
    if (!isObject(next)) return null;
    cur = next;
  }
  return cur;
}

function valueIn(obj: Record<string, unknown>, path: Path): unknown {
  let cur: unknown = obj;
  for (const seg of path) cur = isObject(cur) ? cur[String(seg)] : undefined;
  return cur;
}

/** Structural equality for plain data (what YAML and JSON produce). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameValue(a[k], b[k]));
  }
  return false;
}
