import { Type, type Static } from '@sinclair/typebox';
import { Nullable, StringEnum } from '../../config/schema/common';

/** Kong allows at most one year (kong/plugins/jwt/schema.lua: `between = { 0, 31536000 }`). */
export const MAXIMUM_EXPIRATION_LIMIT = 31_536_000;

/**
 * Kong's jwt fields (3.x), with Kong's defaults. Kong's "sets" are arrays here; duplicates are
 * tolerated and collapsed by the plugin, as Kong collapses them.
 *
 * Kong's entity check "maximum_expiration > 0 requires claims_to_verify to contain exp" is the
 * root-level `not` below: the config is rejected when it *is* "max set, exp not verified".
 * `not` reports one error (its sub-errors are discarded), so the user sees one message.
 */
export const JwtSchema = Type.Object(
  {
    uri_param_names: Type.Array(Type.String({ minLength: 1 }), { default: ['jwt'] }),
    cookie_names: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    header_names: Type.Array(Type.String({ minLength: 1 }), { default: ['authorization'] }),
    claims_to_verify: Nullable(Type.Array(StringEnum(['exp', 'nbf'] as const)), { default: null }),
    /** Seconds; 0 = off. */
    maximum_expiration: Type.Number({ minimum: 0, maximum: MAXIMUM_EXPIRATION_LIMIT, default: 0 }),
    key_claim_name: Type.String({ minLength: 1, default: 'iss' }),
    secret_is_base64: Type.Boolean({ default: false }),
    /** Consumer id or username used when authentication fails. */
    anonymous: Nullable(Type.String({ minLength: 1 }), { default: null }),
    run_on_preflight: Type.Boolean({ default: true }),
    /** Kong 3.x: `WWW-Authenticate: Bearer realm="<realm>"` when set. */
    realm: Nullable(Type.String({ minLength: 1 }), { default: null }),
  },
  {
    additionalProperties: false,
    not: {
      type: 'object',
      required: ['maximum_expiration'],
      properties: {
        maximum_expiration: { type: 'number', exclusiveMinimum: 0 },
        claims_to_verify: { not: { type: 'array', contains: { type: 'string', const: 'exp' } } },
      },
    },
    errorMessage: 'maximum_expiration requires "exp" in claims_to_verify',
  },
);

export type JwtConfig = Static<typeof JwtSchema>;
