/**
 * Everything Ajv-specific: the shared instance and the translation of Ajv's errors into issues
 * that read well. Ajv reports one error per failed keyword and per union branch; users should see
 * one clear message per field, so unions are explained as a whole and a type error hides the
 * other keyword errors of the same value.
 */
import Ajv, { type ErrorObject } from 'ajv';
import { pathFromPointer } from './entities';
import type { Issue, Path } from './errors';

let shared: Ajv | null = null;

/** One instance for the document and all plugin schemas; Ajv caches compiled schemas per object. */
export function getAjv(): Ajv {
  if (shared === null) {
    shared = new Ajv({
      allErrors: true, // report every problem in one run, not the first one
      useDefaults: true, // Kong's defaults are written into the data as it validates
      verbose: true, // errors carry the failing schema and data, used for messages
      strict: true,
      allowUnionTypes: true, // Nullable() emits `type: [t, 'null']`
      strictNumbers: true, // no NaN / Infinity (YAML has .nan and .inf)
    });
    // Annotation-only keywords: the message to show when the schema it sits in fails, and
    // "never print this value" for fields holding secrets (credentials).
    shared.addVocabulary(['errorMessage', 'sensitive']);
  }
  return shared;
}

/**
 * `data` is the value that was validated and `base` its path in the document (non-empty for a
 * plugin's `config`).
 */
export function translateAjvErrors(errors: readonly ErrorObject[], data: unknown, base: Path): Issue[] {
  const issues: Issue[] = [];
  for (const e of explain(hideShadowedByType(errors))) {
    issues.push({ ...e, path: [...base, ...pathFromPointer(data, e.pointer), ...e.extra] });
  }
  return issues;
}

interface Explained {
  readonly pointer: string;
  /** Segments below the pointer (the unknown or missing property). */
  readonly extra: readonly string[];
  readonly message: string;
  readonly at?: 'key';
}

/** When a value has the wrong type, its other keyword errors (enum, pattern...) are noise. */
function hideShadowedByType(errors: readonly ErrorObject[]): ErrorObject[] {
  const schemaOf = (e: ErrorObject) => e.schemaPath.slice(0, e.schemaPath.lastIndexOf('/'));
  const typeFailed = new Set(errors.filter((e) => e.keyword === 'type').map((e) => `${e.instancePath}\0${schemaOf(e)}`));
  return errors.filter(
    // An `if`/`then` failure is always reported again by the `then` branch's own, precise error.
    (e) => e.keyword !== 'if' && (e.keyword === 'type' || !typeFailed.has(`${e.instancePath}\0${schemaOf(e)}`)),
  );
}

function isUnion(e: ErrorObject): boolean {
  return e.keyword === 'anyOf' || e.keyword === 'oneOf';
}

/** `e` comes from one of the branches of union `u`. */
function isWithin(e: ErrorObject, u: ErrorObject): boolean {
  if (e === u || !e.schemaPath.startsWith(u.schemaPath + '/')) return false;
  return e.instancePath === u.instancePath || e.instancePath.startsWith(u.instancePath + '/');
}

function explain(errors: readonly ErrorObject[]): Explained[] {
  const unions = errors.filter(isUnion);
  const outer = unions.filter((u) => !unions.some((o) => isWithin(u, o)));
  const consumed = new Set<ErrorObject>(outer);
  const out: Explained[] = [];
  for (const u of outer) {
    const children = errors.filter((e) => isWithin(e, u));
    for (const c of children) consumed.add(c);
    out.push(...explainUnion(u, children));
  }
  for (const e of errors) if (!consumed.has(e)) out.push(explainOne(e));
  return out;
}

/**
 * A union failed. If the value's type fits no branch, say what was expected in one message.
 * Otherwise explain only the branch the value was evidently meant for (the one with the fewest
 * errors among those whose type fits).
 */
function explainUnion(u: ErrorObject, children: readonly ErrorObject[]): Explained[] {
  const expected = rootMismatch(u, children);
  if (expected !== null) {
    const allValues = expected.every((d) => d.startsWith('"') || /^-?\d/.test(d));
    const message = allValues ? `must be one of ${expected.join(', ')}` : `expected ${joinOr(expected)}`;
    return [{ pointer: u.instancePath, extra: [], message: `${message}, got ${describeGot(u)}` }];
  }
  let best: ErrorObject[] | null = null;
  const branchCount = Array.isArray(u.schema) ? u.schema.length : 0;
  for (let i = 0; i < branchCount; i++) {
    const prefix = `${u.schemaPath}/${i}/`;
    const branch = children.filter((c) => c.schemaPath.startsWith(prefix));
    if (branchMismatch(u, i, children) !== null) continue;
    if (best === null || branch.length < best.length) best = branch;
  }
  return explain(best ?? []);
}

/** What the union accepts at its root, when the value fits none of its branches; else null. */
function rootMismatch(u: ErrorObject, children: readonly ErrorObject[]): string[] | null {
  const branchCount = Array.isArray(u.schema) ? u.schema.length : 0;
  const expected: string[] = [];
  for (let i = 0; i < branchCount; i++) {
    const d = branchMismatch(u, i, children);
    if (d === null) return null;
    for (const x of d) if (!expected.includes(x)) expected.push(x);
  }
  return expected;
}

/** How branch `i` of `u` rejected the value at the union's own root, or null if it did not. */
function branchMismatch(u: ErrorObject, i: number, children: readonly ErrorObject[]): string[] | null {
  const prefix = `${u.schemaPath}/${i}/`;
  const atRoot = children.filter((c) => c.instancePath === u.instancePath && c.schemaPath === prefix + c.keyword);
  const byEnum = atRoot.find((c) => c.keyword === 'enum');
  if (byEnum) return (byEnum.params.allowedValues as unknown[]).map((v) => JSON.stringify(v));
  const byConst = atRoot.find((c) => c.keyword === 'const');
  if (byConst) return [JSON.stringify(byConst.params.allowedValue)];
  const byType = atRoot.find((c) => c.keyword === 'type');
  if (byType) return typeNames(byType.params.type);
  const nested = atRoot.find(isUnion);
  if (nested) return rootMismatch(nested, children.filter((c) => isWithin(c, nested)));
  return null;
}

function explainOne(e: ErrorObject): Explained {
  const p = e.params as Record<string, unknown>;
  const custom = (e.parentSchema as { errorMessage?: string } | undefined)?.errorMessage;
  const got = `, got ${describeGot(e)}`;
  const at = (message: string): Explained => ({ pointer: e.instancePath, extra: [], message });
  switch (e.keyword) {
    case 'additionalProperties':
      return { pointer: e.instancePath, extra: [String(p.additionalProperty)], message: `unknown field "${String(p.additionalProperty)}"`, at: 'key' };
    case 'required':
      return { pointer: e.instancePath, extra: [String(p.missingProperty)], message: 'is required' };
    case 'type':
      return at((custom ?? `expected ${joinOr(typeNames(p.type))}`) + got);
    case 'enum':
      return at((custom ?? `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`) + got);
    case 'const':
      return at((custom ?? `must be ${JSON.stringify(p.allowedValue)}`) + got);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return at((custom ?? rangeMessage(e)) + got);
    case 'minLength':
      return at(custom ?? (p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long`));
    case 'maxLength':
      return at(custom ?? `must be at most ${String(p.limit)} characters long`);
    case 'minItems':
      return at(custom ?? (p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} items`));
    case 'maxItems':
      return at(custom ?? `must have at most ${String(p.limit)} items`);
    case 'minProperties':
      return at(custom ?? (p.limit === 1 ? 'must not be empty' : `must have at least ${String(p.limit)} fields`));
    case 'uniqueItems':
      return at(custom ?? `must not contain duplicates (items ${String(p.j)} and ${String(p.i)} are equal)`);
    case 'pattern':
      // The offending value is on the reported line; the rule is what the user needs.
      return at(custom ?? `must match the pattern ${String(p.pattern)}`);
    case 'format':
      return at((custom ?? `must be a valid ${String(p.format)}`) + got);
    default:
      return at(custom ?? e.message ?? 'is invalid');
  }
}

/** "must be between 1 and 65535" when the schema has both bounds, else the one bound. */
function rangeMessage(e: ErrorObject): string {
  const s = (e.parentSchema ?? {}) as Record<string, unknown>;
  if (typeof s.minimum === 'number' && typeof s.maximum === 'number') return `must be between ${s.minimum} and ${s.maximum}`;
  const p = e.params as { comparison: string; limit: number };
  return `must be ${p.comparison} ${p.limit}`;
}

function typeNames(type: unknown): string[] {
  return Array.isArray(type) ? type.map(String) : String(type).split(',');
}

function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** The value an error is about, or only its kind when the schema marks it `sensitive`. */
function describeGot(e: ErrorObject): string {
  const sensitive = (e.parentSchema as { sensitive?: boolean } | undefined)?.sensitive === true;
  return sensitive ? describeKind(e.data) : describeValue(e.data);
}

/** "a number", "a string"...: for values that must not be printed. */
export function describeKind(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return `a ${typeof v} (value not shown)`;
}

/** How a value looks in a message: strings quoted (so "80" differs from 80), containers by kind. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}
