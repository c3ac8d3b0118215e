/**
 * Consumer credentials, as Kong's key-auth, basic-auth, jwt and acl plugins define them. Each can
 * be nested in a consumer (`consumers[].keyauth_credentials[]`) or written at the top level with
 * a `consumer` reference. Rules that need code or several fields (a key Floodgate requires where
 * Kong would generate one, `ttl`, the public key matching the algorithm, the consumer reference
 * being set exactly when needed) are in config/field-checks.ts; uniqueness is in references.ts.
 *
 * Fields that hold secrets carry `sensitive: true`: the error translation (config/ajv.ts) then
 * says what kind of value it got but never the value. The arrays and the entries themselves are
 * marked too, because `keyauth_credentials: [s3cret]` puts the secret where the entry should be.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Nullable, StringEnum, Tags } from './common';

export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'EdDSA'] as const;

/** A string whose value must never appear in an error message. */
const Secret = Type.String({ minLength: 1, sensitive: true });

/**
 * The consumer a top-level credential belongs to: its username or id as a string (id first, as
 * for plugin references), or `{id}` / `{username}`. `null` means "none", as deck writes it.
 */
export const ConsumerRef = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object(
    { id: Type.Optional(Type.String({ minLength: 1 })), username: Type.Optional(Type.String({ minLength: 1 })) },
    { additionalProperties: false, minProperties: 1, maxProperties: 1, errorMessage: 'must set exactly one of "id" or "username"' },
  ),
  Type.Null(),
]);
export type ConsumerRefValue = Static<typeof ConsumerRef>;

const entry = { additionalProperties: false, sensitive: true } as const;

export const KeyAuthCredentialSchema = Type.Object(
  {
    id: Type.Optional(Id),
    consumer: Type.Optional(ConsumerRef),
    /** Optional here only so that field-checks.ts can explain why Floodgate requires it. */
    key: Type.Optional(Secret),
    /** Accepted by the schema so that field-checks.ts can say it is not supported. */
    ttl: Type.Optional(Type.Unknown()),
    tags: Type.Optional(Tags),
  },
  entry,
);
export type KeyAuthCredentialInput = Defaulted<Static<typeof KeyAuthCredentialSchema>, 'tags'>;

export const BasicAuthCredentialSchema = Type.Object(
  {
    id: Type.Optional(Id),
    consumer: Type.Optional(ConsumerRef),
    username: Type.String({ minLength: 1 }),
    password: Secret,
    tags: Type.Optional(Tags),
  },
  entry,
);
export type BasicAuthCredentialInput = Defaulted<Static<typeof BasicAuthCredentialSchema>, 'tags'>;

export const JwtSecretSchema = Type.Object(
  {
    id: Type.Optional(Id),
    consumer: Type.Optional(ConsumerRef),
    /** Optional here only so that field-checks.ts can explain why Floodgate requires it. */
    key: Type.Optional(Secret),
    algorithm: Type.Optional(StringEnum(JWT_ALGORITHMS, { default: 'HS256' })),
    /** Required for HS* (field-checks.ts); ignored for the others (Kong generates one for every credential). */
    secret: Type.Optional(Nullable(Secret)),
    /** A PEM public key; required for RS*, ES* and EdDSA, refused for HS*. */
    rsa_public_key: Type.Optional(Nullable(Type.String({ minLength: 1, sensitive: true }))),
    tags: Type.Optional(Tags),
  },
  entry,
);
export type JwtSecretInput = Defaulted<Static<typeof JwtSecretSchema>, 'algorithm' | 'tags'>;

export const AclSchema = Type.Object(
  {
    id: Type.Optional(Id),
    consumer: Type.Optional(ConsumerRef),
    group: Type.String({ minLength: 1 }),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
export type AclInput = Defaulted<Static<typeof AclSchema>, 'tags'>;

/** hmac-auth credential (Kong's hmacauth_credentials): `username` names it in the Authorization header. */
export const HmacAuthCredentialSchema = Type.Object(
  {
    id: Type.Optional(Id),
    consumer: Type.Optional(ConsumerRef),
    username: Type.String({ minLength: 1 }),
    /** Optional here only so that field-checks.ts can explain why Floodgate requires it. */
    secret: Type.Optional(Secret),
    tags: Type.Optional(Tags),
  },
  entry,
);
export type HmacAuthCredentialInput = Defaulted<Static<typeof HmacAuthCredentialSchema>, 'tags'>;

/** The credential arrays, as a consumer and the document both hold them. */
export const CredentialCollections = {
  keyauth_credentials: Type.Optional(Type.Array(KeyAuthCredentialSchema, { sensitive: true })),
  basicauth_credentials: Type.Optional(Type.Array(BasicAuthCredentialSchema, { sensitive: true })),
  jwt_secrets: Type.Optional(Type.Array(JwtSecretSchema, { sensitive: true })),
  acls: Type.Optional(Type.Array(AclSchema)),
  hmacauth_credentials: Type.Optional(Type.Array(HmacAuthCredentialSchema, { sensitive: true })),
};

/** Kong credential kinds Floodgate has no plugin for, so the error can say so. */
export const UNSUPPORTED_KONG_CREDENTIALS: readonly string[] = [
  'oauth2_credentials',
  'mtls_auth_credentials',
];
