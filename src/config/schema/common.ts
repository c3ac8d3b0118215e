/**
 * Small schema builders shared by the entity schemas.
 *
 * They emit plain JSON Schema shapes that give Ajv one error per problem: an enum is
 * `{type, enum}` rather than a union of literals, and a nullable value is `type: [t, 'null']`
 * rather than `anyOf`, so the user sees "must be one of ..." instead of one error per branch.
 */
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

/** Extra keyword (registered with Ajv as an annotation) holding the message for a failed constraint. */
export interface WithMessage {
  readonly errorMessage?: string;
}

/** `T | null`, as `type: [T's type, 'null']`. */
export function Nullable<T extends TSchema>(schema: T, options: { default?: null } = {}): TUnsafe<Static<T> | null> {
  if (typeof schema.type !== 'string') throw new Error('Nullable() needs a schema with a single type');
  const copy: Record<string, unknown> = { ...schema, ...options, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum)) copy.enum = [...schema.enum, null];
  return Type.Unsafe<Static<T> | null>(copy);
}

/** A string restricted to `values`. */
export function StringEnum<const V extends readonly string[]>(
  values: V,
  options: { default?: V[number] } = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
}

/** An integer restricted to `values`. */
export function IntegerEnum<const V extends readonly number[]>(
  values: V,
  options: { default?: V[number] } = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'integer', enum: [...values], ...options });
}

/** Entity ids. Kong wants UUIDs; any non-empty string is accepted here (see load.ts notes). */
export const Id = Type.String({ minLength: 1 });

export const Name = Type.String({ minLength: 1 });

export const Tags = Type.Array(Type.String({ minLength: 1 }), { default: [] });

/** A TCP port. Kong accepts 0; a port of 0 can never be connected to, so it is rejected here. */
export const Port = Type.Integer({ minimum: 1, maximum: 65535 });

/** Kong's timeout range, in milliseconds. */
export const Timeout = Type.Integer({ minimum: 1, maximum: 2 ** 31 - 2, default: 60000 });

/**
 * A reference to another entity: its name or id as a string, or `{name}` / `{id}` as deck writes
 * it. Which entity it names is checked after the schema (references.ts).
 */
const RefObject = Type.Object(
  { id: Type.Optional(Type.String({ minLength: 1 })), name: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false, minProperties: 1 },
);
/** A reference, or `null` for "none" (deck writes explicit nulls). One flat union keeps errors short. */
export const Ref = Type.Union([Type.String({ minLength: 1 }), RefObject, Type.Null()]);
export type RefValue = Static<typeof Ref>;

/**
 * A protocol name. Deliberately any string: field-checks.ts tells "not supported" (a Kong
 * protocol Floodgate lacks) from "unknown", which an enum here could not.
 */
export const Protocol = Type.String({ minLength: 1 });

/** Every protocol Kong knows, so that a Kong protocol Floodgate lacks gets "not supported", not "unknown". */
export const KONG_PROTOCOLS = ['http', 'https', 'grpc', 'grpcs', 'tcp', 'tls', 'tls_passthrough', 'udp', 'ws', 'wss'] as const;
export const SUPPORTED_PROTOCOLS = ['http', 'https', 'grpc', 'grpcs'] as const;

/** `T` where the keys in `K` are known to be present because the schema gives them a default. */
export type Defaulted<T, K extends keyof T> = T & { [P in K]-?: Exclude<T[P], undefined> };
