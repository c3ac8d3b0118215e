/**
 * The entities of a document, wherever they are written: top level or nested (a route inside a
 * service, a plugin inside a route, a target inside an upstream, a credential inside a consumer).
 * Also turns a data path into "which entity, which field", which every error message needs.
 */
import type { Path, Segment } from './errors';

/**
 * Consumer credentials: the array that holds each kind (in a consumer or at the top level), the
 * prefix of the id given to one without `id` (`keyauth-3`), and what messages call it.
 */
export const CREDENTIAL_KINDS = {
  keyauth_credential: { collection: 'keyauth_credentials', idPrefix: 'keyauth', what: 'key-auth credential' },
  basicauth_credential: { collection: 'basicauth_credentials', idPrefix: 'basicauth', what: 'basic-auth credential' },
  jwt_secret: { collection: 'jwt_secrets', idPrefix: 'jwt', what: 'jwt secret' },
  acl: { collection: 'acls', idPrefix: 'acl', what: 'acl' },
  hmacauth_credential: { collection: 'hmacauth_credentials', idPrefix: 'hmacauth', what: 'hmac-auth credential' },
} as const;
export type CredentialKind = keyof typeof CREDENTIAL_KINDS;

export type EntityKind =
  | 'service'
  | 'route'
  | 'upstream'
  | 'target'
  | 'consumer'
  | 'plugin'
  | 'certificate'
  | 'sni'
  | 'ca_certificate'
  | 'vault'
  | CredentialKind;

export function isCredentialKind(kind: EntityKind): kind is CredentialKind {
  return Object.hasOwn(CREDENTIAL_KINDS, kind);
}

const CREDENTIAL_COLLECTIONS: Readonly<Record<string, CredentialKind>> = Object.fromEntries(
  (Object.keys(CREDENTIAL_KINDS) as CredentialKind[]).map((kind) => [CREDENTIAL_KINDS[kind].collection, kind]),
);

/** Which arrays hold entities, at the top level and inside each kind of entity. */
const COLLECTIONS: Record<EntityKind | 'document', Readonly<Record<string, EntityKind>>> = {
  document: {
    services: 'service',
    routes: 'route',
    upstreams: 'upstream',
    targets: 'target',
    consumers: 'consumer',
    plugins: 'plugin',
    certificates: 'certificate',
    snis: 'sni',
    ca_certificates: 'ca_certificate',
    vaults: 'vault',
    ...CREDENTIAL_COLLECTIONS,
  },
  service: { routes: 'route', plugins: 'plugin' },
  route: { plugins: 'plugin' },
  consumer: { plugins: 'plugin', ...CREDENTIAL_COLLECTIONS },
  upstream: { targets: 'target' },
  target: {},
  plugin: {},
  certificate: { snis: 'sni' },
  sni: {},
  ca_certificate: {},
  vault: {},
  keyauth_credential: {},
  basicauth_credential: {},
  jwt_secret: {},
  acl: {},
  hmacauth_credential: {},
};

export interface Entity {
  readonly kind: EntityKind;
  /** Path from the document root, e.g. `['services', 0, 'routes', 2]`. */
  readonly path: Path;
  /** The entity's object in the parsed document (schema defaults applied once validated). */
  readonly data: Record<string, unknown>;
  /** The entity it is nested in, or null at the top level. */
  readonly parent: Entity | null;
  /** Source offset, to order entities as written across top-level and nested lists. */
  readonly offset: number;
}

/**
 * Every entity, parents before children. Defensive about shapes, because it also runs on documents
 * that failed the schema (so field checks can still report on the entities that are well-formed).
 */
export function collectEntities(doc: unknown, offsetOf: (path: Path) => number): Entity[] {
  const out: Entity[] = [];
  const visit = (container: unknown, containerKind: EntityKind | 'document', base: Path, parent: Entity | null) => {
    if (!isObject(container)) return;
    for (const [key, kind] of Object.entries(COLLECTIONS[containerKind])) {
      const list = container[key];
      if (!Array.isArray(list)) continue;
      list.forEach((item, index) => {
        if (!isObject(item)) return;
        const path = [...base, key, index];
        const entity: Entity = { kind, path, data: item, parent, offset: offsetOf(path) };
        out.push(entity);
        visit(item, kind, path, entity);
      });
    }
  };
  visit(doc, 'document', [], null);
  return out;
}

export interface SplitPath {
  /** Path of the innermost entity containing `path`; empty for top-level keys. */
  readonly entityPath: Path;
  readonly kind: EntityKind | null;
  /** The rest of `path`, inside that entity. */
  readonly fieldPath: Path;
}

export function splitPath(path: Path): SplitPath {
  let kind: EntityKind | 'document' = 'document';
  let end = 0;
  while (end + 1 < path.length) {
    const key = path[end];
    const next: EntityKind | undefined = COLLECTIONS[kind][key as string];
    if (typeof key !== 'string' || next === undefined || typeof path[end + 1] !== 'number') break;
    kind = next;
    end += 2;
  }
  return {
    entityPath: path.slice(0, end),
    kind: kind === 'document' ? null : kind,
    fieldPath: path.slice(end),
  };
}

/** `services[0].routes[2] (name "x")`, or `document` for paths outside any entity. */
export function describeEntity(doc: unknown, entityPath: Path, kind: EntityKind | null): string {
  if (kind === null) return 'document';
  return labelOf(entityPath, kind, valueAt(doc, entityPath));
}

/** The same label for an entity at hand, e.g. to name the other one in a duplicate message. */
export function entityLabel(e: Entity): string {
  return labelOf(e.path, e.kind, e.data);
}

function labelOf(entityPath: Path, kind: EntityKind, data: unknown): string {
  let where = '';
  for (let i = 0; i < entityPath.length; i += 2) {
    where += `${i === 0 ? '' : '.'}${String(entityPath[i])}[${String(entityPath[i + 1])}]`;
  }
  if (!isObject(data)) return where;
  for (const field of LABEL_FIELDS[kind]) {
    const value = data[field];
    if (typeof value === 'string' && value !== '') return `${where} (${field} ${JSON.stringify(value)})`;
  }
  return where;
}

/**
 * The field that identifies each kind to a human, best first. Never a field that holds a secret
 * (a key-auth or jwt key, a password): labels are printed in every error about the entity.
 */
const LABEL_FIELDS: Record<EntityKind, readonly string[]> = {
  service: ['name', 'id'],
  route: ['name', 'id'],
  upstream: ['name', 'id'],
  target: ['target', 'id'],
  consumer: ['username', 'custom_id', 'id'],
  plugin: ['name', 'id'],
  certificate: ['id'],
  sni: ['name', 'id'],
  ca_certificate: ['id'],
  vault: ['prefix', 'id'],
  keyauth_credential: ['id', 'consumer'],
  basicauth_credential: ['username', 'id', 'consumer'],
  jwt_secret: ['id', 'consumer'],
  acl: ['group', 'id', 'consumer'],
  hmacauth_credential: ['username', 'id', 'consumer'],
};

/** `paths[0]`, `healthchecks.active.http_path`, `headers["x.y"]`. */
export function formatField(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function valueAt(doc: unknown, path: Path): unknown {
  let cur: unknown = doc;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === 'number') cur = cur[seg];
    else if (isObject(cur)) cur = cur[String(seg)];
    else return undefined;
  }
  return cur;
}

/**
 * Turns Ajv's JSON-pointer segments into a typed path: a segment is a number exactly where the
 * data there is an array, so an object key that looks like a number stays a string.
 */
export function pathFromPointer(doc: unknown, pointer: string): Segment[] {
  if (pointer === '') return [];
  const out: Segment[] = [];
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const index = Number(seg);
      out.push(index);
      cur = cur[index];
    } else {
      out.push(seg);
      cur = isObject(cur) ? cur[seg] : undefined;
    }
  }
  return out;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
