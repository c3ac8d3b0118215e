/**
 * The entities grouped by kind in document order, with their final ids and reference lookup.
 * Shared by references.ts (which reports what does not resolve) and normalize.ts (which relies on
 * everything resolving), so both agree on ids and on what a reference means.
 */
import { CREDENTIAL_KINDS, type CredentialKind, type Entity, type EntityKind } from './entities';
import type { RefValue } from './schema/common';
import type { ConsumerRefValue } from './schema/credentials';

/** Kinds that references can point to, and the field that is their "name". */
const NAME_FIELD = { service: 'name', route: 'name', upstream: 'name', consumer: 'username' } as const;
export type RefKind = keyof typeof NAME_FIELD;

export class Model {
  readonly services: readonly Entity[];
  /** All routes, top-level and nested, in the order they are written. */
  readonly routes: readonly Entity[];
  readonly upstreams: readonly Entity[];
  readonly targets: readonly Entity[];
  readonly consumers: readonly Entity[];
  readonly plugins: readonly Entity[];
  readonly certificates: readonly Entity[];
  /** SNIs nested in certificates and top-level ones, in the order they are written. */
  readonly snis: readonly Entity[];
  readonly caCertificates: readonly Entity[];
  /** Credentials of each kind, nested and top-level, in the order they are written. */
  readonly credentials: Readonly<Record<CredentialKind, readonly Entity[]>>;

  readonly #ids = new Map<Entity, string>();
  readonly #byId = new Map<RefKind, Map<string, Entity>>();
  readonly #byName = new Map<RefKind, Map<string, Entity>>();

  constructor(entities: readonly Entity[]) {
    // Stable sort by source offset: nested and top-level entities interleave as written.
    const ofKind = (kind: EntityKind) => entities.filter((e) => e.kind === kind).sort((a, b) => a.offset - b.offset);
    this.services = ofKind('service');
    this.routes = ofKind('route');
    this.upstreams = ofKind('upstream');
    this.targets = ofKind('target');
    this.consumers = ofKind('consumer');
    this.plugins = ofKind('plugin');
    this.certificates = ofKind('certificate');
    this.snis = ofKind('sni');
    this.caCertificates = ofKind('ca_certificate');
    this.credentials = {
      keyauth_credential: ofKind('keyauth_credential'),
      basicauth_credential: ofKind('basicauth_credential'),
      jwt_secret: ofKind('jwt_secret'),
      acl: ofKind('acl'),
      hmacauth_credential: ofKind('hmacauth_credential'),
    };

    this.#assignIds(this.services, 'service', (e) => str(e.data.name));
    this.#assignIds(this.routes, 'route', (e) => str(e.data.name));
    this.#assignIds(this.upstreams, 'upstream', (e) => str(e.data.name));
    this.#assignIds(this.consumers, 'consumer', (e) => str(e.data.username));
    this.#assignIds(this.plugins, 'plugin', () => null); // plugin names are not unique
    this.#assignIds(this.certificates, 'certificate', () => null);
    this.#assignIds(this.snis, 'sni', (e) => str(e.data.name));
    this.#assignIds(this.caCertificates, 'ca-certificate', () => null);
    for (const kind of Object.keys(CREDENTIAL_KINDS) as CredentialKind[]) {
      this.#assignIds(this.credentials[kind], CREDENTIAL_KINDS[kind].idPrefix, () => null);
    }

    for (const kind of Object.keys(NAME_FIELD) as RefKind[]) {
      const list = this.listOf(kind);
      // First one wins: duplicates are reported separately, lookups stay deterministic.
      this.#byId.set(kind, firstBy(list, (e) => str(e.data.id)));
      this.#byName.set(kind, firstBy(list, (e) => str(e.data[NAME_FIELD[kind]])));
    }
  }

  /**
   * The id the normalized config uses: the given id, else the name, else `<kind>-<index>`
   * (credentials have no name: `keyauth-<index>`, `basicauth-<index>`, `jwt-<index>`, `acl-<index>`).
   */
  idOf(e: Entity): string {
    const id = this.#ids.get(e);
    if (id === undefined) throw new Error(`no id for ${e.kind} at ${e.path.join('.')}`);
    return id;
  }

  listOf(kind: RefKind): readonly Entity[] {
    return { service: this.services, route: this.routes, upstream: this.upstreams, consumer: this.consumers }[kind];
  }

  /** A string matches an id first, then a name; `{id}` / `{name}` match only that field. */
  resolve(kind: RefKind, ref: RefValue | undefined): Entity | null {
    if (ref === undefined || ref === null) return null;
    const byId = this.#byId.get(kind)!;
    const byName = this.#byName.get(kind)!;
    if (typeof ref === 'string') return byId.get(ref) ?? byName.get(ref) ?? null;
    if (ref.id !== undefined) return byId.get(ref.id) ?? null;
    return ref.name !== undefined ? (byName.get(ref.name) ?? null) : null;
  }

  /** The service a route belongs to: its parent, or its `service` reference. */
  serviceOf(route: Entity): Entity | null {
    return route.parent?.kind === 'service' ? route.parent : this.resolve('service', route.data.service as RefValue);
  }

  /** The upstream a target belongs to: its parent, or its `upstream` reference. */
  upstreamOf(target: Entity): Entity | null {
    return target.parent?.kind === 'upstream' ? target.parent : this.resolve('upstream', target.data.upstream as RefValue);
  }

  /** A plugin's scope: nesting sets one part, references the others. */
  scopeOf(plugin: Entity): { service: Entity | null; route: Entity | null; consumer: Entity | null } {
    const parent = plugin.parent;
    const part = (kind: 'service' | 'route' | 'consumer') =>
      parent?.kind === kind ? parent : this.resolve(kind, plugin.data[kind] as RefValue);
    return { service: part('service'), route: part('route'), consumer: part('consumer') };
  }

  /** The certificate an SNI belongs to: its parent, or the certificate its `certificate` names by id. */
  certificateOf(sni: Entity): Entity | null {
    if (sni.parent?.kind === 'certificate') return sni.parent;
    const ref = sni.data.certificate;
    const id = typeof ref === 'string' ? ref : typeof (ref as { id?: unknown } | undefined)?.id === 'string' ? (ref as { id: string }).id : null;
    return id === null ? null : (this.certificates.find((c) => c.data.id === id) ?? null);
  }

  /** The consumer a credential belongs to: its parent, or its `consumer` reference. */
  consumerOf(credential: Entity): Entity | null {
    if (credential.parent?.kind === 'consumer') return credential.parent;
    const ref = credential.data.consumer as ConsumerRefValue | undefined;
    if (ref === undefined || ref === null || typeof ref === 'string') return this.resolve('consumer', ref);
    return ref.id !== undefined ? this.resolve('consumer', { id: ref.id }) : this.resolve('consumer', { name: ref.username });
  }

  #assignIds(list: readonly Entity[], prefix: string, name: (e: Entity) => string | null): void {
    list.forEach((e, i) => this.#ids.set(e, str(e.data.id) ?? name(e) ?? `${prefix}-${i}`));
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function firstBy(list: readonly Entity[], key: (e: Entity) => string | null): Map<string, Entity> {
  const map = new Map<string, Entity>();
  for (const e of list) {
    const k = key(e);
    if (k !== null && !map.has(k)) map.set(k, e);
  }
  return map;
}
