/**
 * Checks across entities, run once every entity is valid on its own: references that name
 * nothing, duplicate names and ids, duplicate targets in an upstream, the same plugin twice on
 * one scope, and credentials that must be unique (key-auth and jwt keys, basic-auth usernames,
 * a consumer's acl groups).
 */
import { CREDENTIAL_KINDS, entityLabel, type CredentialKind, type Entity } from './entities';
import type { Issue, Path } from './errors';
import type { Model, RefKind } from './model';
import type { RefValue } from './schema/common';
import type { ConsumerRefValue } from './schema/credentials';
import { parseTarget } from './values';

export function checkReferences(model: Model): Issue[] {
  const issues: Issue[] = [];
  checkUniqueFields(model, issues);
  checkIds(model, issues);
  for (const route of model.routes) {
    if (route.parent === null) checkRef(model, route, 'service', issues);
  }
  for (const target of model.targets) {
    if (target.parent === null) checkRef(model, target, 'upstream', issues);
  }
  for (const plugin of model.plugins) {
    for (const kind of ['service', 'route', 'consumer'] as const) {
      if (plugin.parent?.kind !== kind) checkRef(model, plugin, kind, issues);
    }
  }
  checkTargets(model, issues);
  checkTls(model, issues);
  checkInstanceNames(model, issues);
  checkPluginScopes(model, issues);
  checkCredentials(model, issues);
  return issues;
}

/** Names (and consumers' username / custom_id) must be unique within their kind. */
function checkUniqueFields(model: Model, issues: Issue[]): void {
  const unique = (list: readonly Entity[], field: string) => {
    const first = new Map<string, Entity>();
    for (const e of list) {
      const value = e.data[field];
      if (typeof value !== 'string') continue;
      const earlier = first.get(value);
      if (earlier === undefined) first.set(value, e);
      else issues.push({ path: [...e.path, field], message: `duplicate ${field} "${value}"`, firstAt: [...earlier.path, field] });
    }
  };
  unique(model.services, 'name');
  unique(model.routes, 'name');
  unique(model.upstreams, 'name');
  unique(model.consumers, 'username');
  unique(model.consumers, 'custom_id');
  unique(model.targets, 'id'); // targets have no id in the output, so checkIds does not see them
}

/**
 * Final ids must be unique per kind. Besides a repeated explicit id, an id taken from a name or
 * from a position (`route-3`) can collide with another entity's id. A repeated name is reported
 * by checkUniqueFields, so that case is skipped here.
 */
function checkIds(model: Model, issues: Issue[]): void {
  for (const list of [model.services, model.routes, model.upstreams, model.consumers, model.plugins, model.certificates, model.caCertificates]) {
    const first = new Map<string, Entity>();
    for (const e of list) {
      const id = model.idOf(e);
      const earlier = first.get(id);
      if (earlier === undefined) {
        first.set(id, e);
        continue;
      }
      const explicit = typeof e.data.id === 'string';
      if (explicit && typeof earlier.data.id === 'string') {
        issues.push({ path: [...e.path, 'id'], message: `duplicate id "${id}"`, firstAt: [...earlier.path, 'id'] });
        continue;
      }
      const nameField = e.kind === 'consumer' ? 'username' : e.kind === 'certificate' || e.kind === 'ca_certificate' ? 'id' : 'name';
      const name = e.data[nameField];
      if (!explicit && typeof name === 'string' && name === earlier.data[nameField]) continue;
      issues.push({
        path: explicit ? [...e.path, 'id'] : typeof name === 'string' ? [...e.path, nameField] : e.path,
        message: `the id "${id}" is already used by another ${e.kind} (ids come from "id", else the ${nameField}, else "${e.kind}-<position>"); set a distinct "id"`,
        firstAt: earlier.path,
      });
    }
  }
}

function checkRef(model: Model, from: Entity, kind: RefKind, issues: Issue[]): void {
  const ref = from.data[kind] as RefValue | undefined;
  if (ref === undefined || ref === null || model.resolve(kind, ref) !== null) return;
  let path: Path = [...from.path, kind];
  let what: string;
  if (typeof ref === 'string') what = `name or id "${ref}"`;
  else if (ref.id !== undefined) [path, what] = [[...path, 'id'], `id "${ref.id}"`];
  else [path, what] = [[...path, 'name'], `${kind === 'consumer' ? 'username' : 'name'} "${ref.name}"`];
  issues.push({ path, message: `unknown ${kind}: no ${kind} has the ${what}` });
}

/** Two targets with the same host:port in one upstream would double its weight silently. */
function checkTargets(model: Model, issues: Issue[]): void {
  const seen = new Map<string, Entity>();
  for (const t of model.targets) {
    const upstream = model.upstreamOf(t);
    const parsed = parseTarget(String(t.data.target));
    if (upstream === null || !parsed.ok) continue;
    const key = `${model.idOf(upstream)}\0${parsed.value.target}`;
    const earlier = seen.get(key);
    if (earlier === undefined) seen.set(key, t);
    else {
      issues.push({
        path: [...t.path, 'target'],
        message: `duplicate target "${parsed.value.target}" in upstream "${String(upstream.data.name)}"`,
        firstAt: [...earlier.path, 'target'],
      });
    }
  }
}

/** Kong allows one instance of a plugin per (service, route, consumer) combination. */
function checkPluginScopes(model: Model, issues: Issue[]): void {
  const seen = new Map<string, Entity>();
  for (const p of model.plugins) {
    const scope = model.scopeOf(p);
    const unresolved = (['service', 'route', 'consumer'] as const).some((k) => p.data[k] != null && scope[k] === null);
    if (unresolved) continue; // reported by checkRef
    const id = (e: Entity | null) => (e === null ? '' : model.idOf(e));
    const key = [p.data.name, id(scope.service), id(scope.route), id(scope.consumer)].join('\0');
    const earlier = seen.get(key);
    if (earlier === undefined) seen.set(key, p);
    else {
      issues.push({
        path: [...p.path, 'name'],
        message: `plugin "${String(p.data.name)}" is configured twice on the same ${describeScope(scope)}`,
        firstAt: [...earlier.path, 'name'],
      });
    }
  }
}

function describeScope(scope: ReturnType<Model['scopeOf']>): string {
  const parts = (['service', 'route', 'consumer'] as const).filter((k) => scope[k] !== null);
  return parts.length === 0 ? 'global scope' : `${parts.join(' + ')} scope`;
}

const CREDENTIAL_KIND_LIST = Object.keys(CREDENTIAL_KINDS) as CredentialKind[];

/**
 * Credentials: the consumer of a top-level one exists, ids are unique per kind, and what Kong
 * keeps unique is unique. A duplicate key names the other credential, never the key itself.
 */
function checkCredentials(model: Model, issues: Issue[]): void {
  for (const kind of CREDENTIAL_KIND_LIST) {
    for (const c of model.credentials[kind]) if (c.parent === null) checkConsumerRef(model, c, issues);
    checkCredentialIds(model, kind, issues);
  }
  const duplicates = (kind: CredentialKind, keyOf: (e: Entity) => string | null, report: (e: Entity, earlier: Entity) => Issue) => {
    const first = new Map<string, Entity>();
    for (const e of model.credentials[kind]) {
      const k = keyOf(e);
      if (k === null) continue;
      const earlier = first.get(k);
      if (earlier === undefined) first.set(k, e);
      else issues.push(report(e, earlier));
    }
  };
  const secretTwice = (what: string) => (e: Entity, earlier: Entity): Issue => ({
    path: [...e.path, 'key'],
    message: `duplicate ${what} (not shown): the same as ${entityLabel(earlier)}`,
    firstAt: [...earlier.path, 'key'],
  });
  duplicates('keyauth_credential', (e) => e.data.key as string, secretTwice('key-auth key'));
  duplicates('jwt_secret', (e) => e.data.key as string, secretTwice('jwt key'));
  duplicates('basicauth_credential', (e) => e.data.username as string, (e, earlier) => ({
    path: [...e.path, 'username'],
    message: `duplicate basic-auth username "${String(e.data.username)}": also used by ${entityLabel(earlier)}`,
    firstAt: [...earlier.path, 'username'],
  }));
  duplicates('hmacauth_credential', (e) => e.data.username as string, (e, earlier) => ({
    path: [...e.path, 'username'],
    message: `duplicate hmac-auth username "${String(e.data.username)}": also used by ${entityLabel(earlier)}`,
    firstAt: [...earlier.path, 'username'],
  }));
  duplicates(
    'acl',
    (e) => {
      const consumer = model.consumerOf(e);
      return consumer === null ? null : `${model.idOf(consumer)}\0${String(e.data.group)}`;
    },
    (e, earlier) => ({
      path: [...e.path, 'group'],
      message: `duplicate acl: consumer "${model.idOf(model.consumerOf(e)!)}" is already in group "${String(e.data.group)}" through ${entityLabel(earlier)}`,
      firstAt: [...earlier.path, 'group'],
    }),
  );
}

function checkConsumerRef(model: Model, credential: Entity, issues: Issue[]): void {
  const ref = credential.data.consumer as ConsumerRefValue | undefined;
  if (ref === undefined || ref === null || model.consumerOf(credential) !== null) return;
  const path: Path = [...credential.path, 'consumer'];
  if (typeof ref === 'string') {
    issues.push({ path, message: `unknown consumer: no consumer has the username or id "${ref}"` });
  } else if (ref.id !== undefined) {
    issues.push({ path: [...path, 'id'], message: `unknown consumer: no consumer has the id "${ref.id}"` });
  } else {
    issues.push({ path: [...path, 'username'], message: `unknown consumer: no consumer has the username "${String(ref.username)}"` });
  }
}

/** As checkIds, for a credential kind: ids come from "id", else the position. */
function checkCredentialIds(model: Model, kind: CredentialKind, issues: Issue[]): void {
  const { what, idPrefix } = CREDENTIAL_KINDS[kind];
  const first = new Map<string, Entity>();
  for (const e of model.credentials[kind]) {
    const id = model.idOf(e);
    const earlier = first.get(id);
    if (earlier === undefined) {
      first.set(id, e);
      continue;
    }
    // Two positional ids never collide, so at least one of the two is explicit.
    const explicit = typeof e.data.id === 'string';
    issues.push(
      explicit && typeof earlier.data.id === 'string'
        ? { path: [...e.path, 'id'], message: `duplicate id "${id}"`, firstAt: [...earlier.path, 'id'] }
        : {
            path: explicit ? [...e.path, 'id'] : e.path,
            message: `the id "${id}" is already used by another ${what} (ids come from "id", else "${idPrefix}-<position>"); set a distinct "id"`,
            firstAt: explicit ? earlier.path : [...earlier.path, 'id'],
          },
    );
  }
}

/** SNI names are unique across certificates (Kong), and a top-level SNI names a certificate that exists. */
function checkTls(model: Model, issues: Issue[]): void {
  const first = new Map<string, Entity>();
  for (const sni of model.snis) {
    if (sni.parent === null && model.certificateOf(sni) === null) {
      const ref = sni.data.certificate;
      const id = typeof ref === 'string' ? ref : String((ref as { id?: unknown }).id);
      issues.push({ path: [...sni.path, 'certificate'], message: `unknown certificate: no certificate has the id "${id}"` });
    }
    const name = String(sni.data.name).toLowerCase();
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, sni);
    else issues.push({ path: [...sni.path, 'name'], message: `duplicate SNI name "${name}": an SNI serves one certificate`, firstAt: [...earlier.path, 'name'] });
  }
}

/** Kong's `instance_name` is unique across all plugins. */
function checkInstanceNames(model: Model, issues: Issue[]): void {
  const first = new Map<string, Entity>();
  for (const p of model.plugins) {
    const name = p.data.instance_name;
    if (typeof name !== 'string') continue;
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, p);
    else issues.push({ path: [...p.path, 'instance_name'], message: `duplicate instance_name "${name}"`, firstAt: [...earlier.path, 'instance_name'] });
  }
}
