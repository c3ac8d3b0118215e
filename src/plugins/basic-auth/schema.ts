import { Type, type Static } from '@sinclair/typebox';
import { REALM_PATTERN } from '../auth-common';

/** Kong's basic-auth fields (Kong 3.x), with Kong's defaults, plus `run_on_preflight`. */
export const BasicAuthSchema = Type.Object(
  {
    /** Consumer id or username to authenticate as when authentication fails. */
    anonymous: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    /** Remove the (Proxy-)Authorization header that was read from the request sent upstream. */
    hide_credentials: Type.Boolean({ default: false }),
    /** Realm of `WWW-Authenticate: Basic realm="..."` on failures. */
    realm: Type.String({ default: 'service', pattern: REALM_PATTERN }),
    /**
     * Not a Kong basic-auth field (Kong's basic-auth always runs on OPTIONS, which is the default
     * here too); when false, OPTIONS requests pass without authentication, as key-auth's does.
     */
    run_on_preflight: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);

export type BasicAuthConfig = Static<typeof BasicAuthSchema>;
