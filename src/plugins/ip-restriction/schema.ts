import { Type, type Static } from '@sinclair/typebox';

/**
 * Kong's ip-restriction fields. Entries are checked when the plugin is created (each must be an
 * IPv4/IPv6 address or CIDR), and at least one of `allow` and `deny` must list something.
 */
export const IpRestrictionSchema = Type.Object(
  {
    allow: Type.Union([Type.Array(Type.String({ minLength: 1 })), Type.Null()], { default: null }),
    deny: Type.Union([Type.Array(Type.String({ minLength: 1 })), Type.Null()], { default: null }),
    /** Status of the rejection. */
    status: Type.Integer({ minimum: 100, maximum: 599, default: 403 }),
    /** Body message of the rejection; null: Kong's "IP address not allowed: <client address>". */
    message: Type.Union([Type.String(), Type.Null()], { default: null }),
  },
  { additionalProperties: false },
);

export type IpRestrictionConfig = Static<typeof IpRestrictionSchema>;
