import { Type, type Static } from '@sinclair/typebox';
import { REALM_PATTERN } from '../auth-common';

export const HMAC_ALGORITHMS = ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;
export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];

/** Kong 3.9's hmac-auth fields and defaults. */
export const HmacAuthSchema = Type.Object(
  {
    /** Remove the Authorization (or Proxy-Authorization) header that carried the signature. */
    hide_credentials: Type.Boolean({ default: false }),
    /** Seconds the Date / X-Date header may be away from the gateway's clock. */
    clock_skew: Type.Number({ exclusiveMinimum: 0, default: 300 }),
    /** Consumer id or username to authenticate as when authentication fails. */
    anonymous: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    /** Check the Digest header (SHA-256 of the body) as well as the signature. */
    validate_request_body: Type.Boolean({ default: false }),
    /** Headers every signature must cover. */
    enforce_headers: Type.Array(Type.String(), { default: [] }),
    algorithms: Type.Array(Type.Union(HMAC_ALGORITHMS.map((a) => Type.Literal(a))), { default: [...HMAC_ALGORITHMS] }),
    /** Realm for `WWW-Authenticate: hmac realm="..."`; plain `hmac` when null. */
    realm: Type.Union([Type.String({ pattern: REALM_PATTERN }), Type.Null()], { default: null }),
  },
  { additionalProperties: false },
);

export type HmacAuthConfig = Static<typeof HmacAuthSchema>;
