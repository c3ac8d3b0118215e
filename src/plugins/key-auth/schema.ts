import { Type, type Static } from '@sinclair/typebox';
import { REALM_PATTERN } from '../auth-common';

/** Kong's key-auth fields (Kong 3.x), with Kong's defaults. */
export const KeyAuthSchema = Type.Object(
  {
    /** Header / query argument names to look for, in order. Kong's header_name typedef. */
    key_names: Type.Array(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+$' }), { minItems: 1, default: ['apikey'] }),
    /** Remove the key header and query argument from the request sent upstream. */
    hide_credentials: Type.Boolean({ default: false }),
    /** Consumer id or username to authenticate as when authentication fails. */
    anonymous: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    key_in_header: Type.Boolean({ default: true }),
    key_in_query: Type.Boolean({ default: true }),
    /**
     * Kong can read the key from a form/JSON body. Floodgate runs auth before the body is read
     * (it streams bodies), so only `false` is accepted.
     */
    key_in_body: Type.Literal(false, {
      default: false,
      errorMessage: 'key_in_body is not supported (the body is streamed, not read before authentication)',
    }),
    /** When false, OPTIONS requests pass without authentication (CORS preflight). */
    run_on_preflight: Type.Boolean({ default: true }),
    /** Realm for `WWW-Authenticate: Key realm="..."`; plain `Key` when null. */
    realm: Type.Union([Type.String({ pattern: REALM_PATTERN }), Type.Null()], { default: null }),
  },
  { additionalProperties: false },
);

export type KeyAuthConfig = Static<typeof KeyAuthSchema>;
