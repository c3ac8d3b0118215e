/**
 * Config errors: the internal `Issue` (a path into the parsed document plus a message) that every
 * check produces, and the public `ConfigError` (entity, field, line) that report.ts derives from it.
 * Checks only ever say *where in the data* something is wrong; turning that into a line number and
 * an entity label happens in one place.
 */

export type Segment = string | number;
export type Path = readonly Segment[];

export interface Issue {
  readonly path: Path;
  readonly message: string;
  /** Point at the key of the last path segment rather than its value (unknown fields). */
  readonly at?: 'key' | 'value';
  /** For duplicates: where the first one is; " (first defined at line N)" is appended to the message. */
  readonly firstAt?: Path;
}

export interface ConfigError {
  /** Which entity, e.g. `routes[1] (name "user-route")`; `document` for top-level keys and syntax errors. */
  readonly entity: string;
  /** Path inside the entity, e.g. `paths[0]`; '' when the error is about the entity as a whole. */
  readonly field: string;
  /** 1-based; null when there is no position (e.g. the file could not be read). */
  readonly line: number | null;
  readonly column: number | null;
  readonly message: string;
}

/** One line per error: `file:line:col: entity: field "x": message`. */
export function formatConfigErrors(errors: readonly ConfigError[], sourceName: string): string {
  return errors.map((e) => formatOne(e, sourceName)).join('\n');
}

function formatOne(e: ConfigError, sourceName: string): string {
  let where = sourceName;
  if (e.line !== null) where += `:${e.line}` + (e.column !== null ? `:${e.column}` : '');
  const field = e.field === '' ? '' : `field "${e.field}": `;
  return `${where}: ${e.entity}: ${field}${e.message}`;
}

/** Errors in file order, so the first one printed is the first one in the file. */
export function sortErrors(errors: ConfigError[]): ConfigError[] {
  const key = (n: number | null) => (n === null ? Number.MAX_SAFE_INTEGER : n);
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => key(a.e.line) - key(b.e.line) || key(a.e.column) - key(b.e.column) || a.i - b.i)
    .map((x) => x.e);
}

/** Drop exact repeats (same place, same message), which unions and aliases can produce. */
export function dedupeErrors(errors: readonly ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.line}:${e.column}:${e.entity}:${e.field}:${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
