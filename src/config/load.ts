/**
 * Loading a declarative config: text -> NormalizedConfig, or a list of errors that each name the
 * entity, the field and the line. Never throws for bad input.
 *
 * No error ever quotes a credential's key, secret or password (see secret-scrub.ts).
 *
 * The stages, each stopping the load when it finds errors because the next one relies on it:
 *   1. YAML syntax (JSON is YAML, so .json files go through the same parser and keep line numbers)
 *   1b. Kong's input adapted: pre-3.0 files migrated (kong-format.ts), vault references resolved
 *      (vault-refs.ts), and Kong's extra, null, deprecated and unimplemented fields sorted out
 *      (kong-compat.ts); warnings from here are returned with the result
 *   2. per-entity validity: the schemas (Kong's defaults are written in as a side effect), each
 *      plugin's own config schema, and field checks that need code (regexes, hosts, url...)
 *   3. cross-entity checks: references, duplicates
 *   4. normalize
 */
import { readFileSync } from 'node:fs';
import { collectEntities, splitPath, type Entity } from './entities';
import { dedupeErrors, formatConfigErrors, sortErrors, type ConfigError, type Issue, type Path } from './errors';
import { adaptKongInput, expandNestedSnis } from './kong-compat';
import { migrateFormat } from './kong-format';
import { resolveVaultReferences } from './vault-refs';
import { checkFields } from './field-checks';
import { Model } from './model';
import { normalize } from './normalize';
import { checkPluginConfigs } from './plugin-config';
import { checkReferences } from './references';
import { toConfigErrors } from './report';
import { FORMAT_VERSION, type DocumentInput } from './schema/document';
import { collectSecrets, scrubSecrets } from './secret-scrub';
import { Source, withoutSourceText } from './source';
import type { NormalizedConfig } from './types';
import { validateDocument } from './validate-schema';

export type { ConfigError } from './errors';
export { formatConfigErrors };

/**
 * `warnings` are things Kong accepts and Floodgate loads, but that the user should change
 * (deprecated fields, an old format version); each is reported once, at load.
 */
export type LoadResult =
  | { ok: true; config: NormalizedConfig; warnings: ConfigError[] }
  | { ok: false; errors: ConfigError[]; warnings: ConfigError[] };

export function loadConfigFile(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = err instanceof Error ? err.message : String(err);
    const message = code === 'ENOENT' ? 'cannot read the config file: no such file (ENOENT)' : `cannot read the config file: ${reason}`;
    return fail([{ entity: 'document', field: '', line: null, column: null, message }]);
  }
  return loadConfigText(text, file);
}

/** `sourceName` only labels internal errors; callers pass it again to formatConfigErrors. */
export function loadConfigText(text: string, sourceName: string): LoadResult {
  try {
    return load(text);
  } catch (err) {
    // Only a bug gets here; report it as a config error rather than crash the primary.
    const reason = err instanceof Error ? (err.stack ?? err.message) : String(err);
    return fail([{ entity: 'document', field: '', line: null, column: null, message: `internal error while loading ${sourceName}: ${reason}` }]);
  }
}

function load(text: string): LoadResult {
  // 1. Syntax.
  const { source, problems } = Source.parse(text.replace(/^\uFEFF/, ''));
  if (problems.length > 0) {
    return fail(problems.map((p) => ({ entity: 'document', field: '', line: p.position?.line ?? null, column: p.position?.column ?? null, message: `invalid YAML: ${p.message}` })));
  }
  let data: unknown;
  try {
    data = source.toData();
  } catch (err) {
    return fail([{ entity: 'document', field: '', line: null, column: null, message: `invalid YAML: ${withoutSourceText(err instanceof Error ? err.message : String(err))}` }]);
  }
  if (data === null || data === undefined) {
    return fail([{ entity: 'document', field: '', line: null, column: null, message: `the config is empty (expected at least _format_version: "${FORMAT_VERSION}")` }]);
  }
  // 1b. Kong's input, adapted. Resolved vault values are secrets like credentials.
  const offsetOf = (path: Path) => source.offsetOf(path);
  const formatWarnings = migrateFormat(data);
  const vault = resolveVaultReferences(data);
  expandNestedSnis(data);
  const compat = adaptKongInput(collectEntities(data, offsetOf));

  // Every check keeps credential secrets out of its messages; scrubbing the known values from
  // the final errors is the second line of defense.
  const secrets = [...collectSecrets(data), ...vault.secrets].sort((a, b) => b.length - a.length);
  const located = (issues: readonly Issue[]) => scrubSecrets(toConfigErrors(issues, source, data), secrets);
  const warnings = sortErrors(located([...formatWarnings, ...compat.warnings]));
  const report = (issues: readonly Issue[]) => fail(located(issues), warnings);
  if (vault.issues.length > 0) return report(vault.issues);

  // 2. Each entity on its own.
  // An issue kong-compat raised about a value (e.g. hash_on "uri_capture") is the better message.
  const compatPaths = new Set(compat.issues.map((i) => key(i.path)));
  const notCompat = (i: Issue) => !compatPaths.has(key(i.path));
  const schemaIssues = validateDocument(data).filter(notCompat);
  const entities = collectEntities(data, offsetOf);
  const pluginIssues = checkPluginConfigs(entities).filter(notCompat);
  const fieldIssues = checkFields(entities, cleanFilter([...compat.issues, ...schemaIssues, ...pluginIssues]));
  const entityIssues = [...compat.issues, ...schemaIssues, ...pluginIssues, ...fieldIssues];
  if (entityIssues.length > 0) return report(entityIssues);

  // 3. Across entities.
  const model = new Model(entities);
  const referenceIssues = checkReferences(model);
  if (referenceIssues.length > 0) return report(referenceIssues);

  // 4. The result.
  return { ok: true, config: normalize(data as DocumentInput, model), warnings };
}

/** An entity is clean when no issue belongs to it (issues in its nested entities do not count). */
function cleanFilter(issues: readonly Issue[]): (e: Entity) => boolean {
  const dirty = new Set(issues.map((i) => key(splitPath(i.path).entityPath)));
  return (e) => !dirty.has(key(e.path));
}

function key(path: readonly (string | number)[]): string {
  return JSON.stringify(path);
}

function fail(errors: ConfigError[], warnings: ConfigError[] = []): LoadResult {
  return { ok: false, errors: sortErrors(dedupeErrors(errors)), warnings };
}
