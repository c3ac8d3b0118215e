import { Type, type Static } from '@sinclair/typebox';

const NonEmpty = { type: 'array', minItems: 1 };
const EmptyOrNull = { type: ['array', 'null'], maxItems: 0 };

const Groups = Type.Union([Type.Array(Type.String({ minLength: 1 })), Type.Null()], { default: null });

/**
 * Kong's acl fields (Kong 3.x). Exactly one of `allow` / `deny` must be a non-empty list (Kong's
 * only_one_of + at_least_one_of; an empty list or null counts as unset).
 */
export const AclSchema = Type.Object(
  {
    allow: Groups,
    deny: Groups,
    /** When false, the consumer's groups go upstream as `X-Consumer-Groups: g1, g2`. */
    hide_groups_header: Type.Boolean({ default: false }),
    /**
     * Kong: prefer groups set by an external authenticator (LDAP, OIDC) over the consumer's own.
     * No Floodgate plugin sets such groups yet, so the consumer's acls are always used.
     */
    always_use_authenticated_groups: Type.Boolean({ default: false }),
  },
  {
    additionalProperties: false,
    // Two `not`s rather than a oneOf, so each mistake gets one clear message (not a union dump).
    allOf: [
      {
        not: { type: 'object', required: ['allow', 'deny'], properties: { allow: NonEmpty, deny: NonEmpty } },
        errorMessage: 'only one of "allow" or "deny" may be set',
      },
      {
        not: { type: 'object', properties: { allow: EmptyOrNull, deny: EmptyOrNull } },
        errorMessage: 'one of "allow" or "deny" must be a non-empty list of groups',
      },
    ],
  },
);

export type AclConfig = Static<typeof AclSchema>;
