import { Type, type Static } from '@sinclair/typebox';

/**
 * Kong's mtls-auth fields (Kong Gateway Enterprise), with Kong's defaults. The listener verifies
 * the certificate (`--tls-client-verify`); this plugin makes a verified one a requirement of the
 * route and maps it to a consumer.
 */
export const MtlsAuthSchema = Type.Object(
  {
    /**
     * Ids of `ca_certificates` entities: the client certificate must be issued by one of them.
     * Empty (our default; Kong requires at least one): any CA the listener trusts.
     */
    ca_certificates: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Match the certificate's CN against consumers' username and/or custom_id, in this order. */
    consumer_by: Type.Array(Type.Union([Type.Literal('username'), Type.Literal('custom_id')]), { minItems: 1, default: ['username', 'custom_id'] }),
    /** Any verified certificate passes, without a consumer. */
    skip_consumer_lookup: Type.Boolean({ default: false }),
    /** Consumer id or username to authenticate as when no (usable) certificate was sent. */
    anonymous: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    /**
     * Kong checks revocation (OCSP, CRL) unless SKIP; Floodgate does not check revocation, so
     * only the modes that tolerate an unchecked certificate are accepted.
     */
    revocation_check_mode: Type.Union([Type.Literal('SKIP'), Type.Literal('IGNORE_CA_ERROR')], {
      default: 'IGNORE_CA_ERROR',
      errorMessage: 'revocation_check_mode STRICT is not supported (no OCSP or CRL checks); use SKIP or IGNORE_CA_ERROR',
    }),
    /** Kong's cache and revocation-fetch settings: accepted for compatibility, no effect here. */
    cache_ttl: Type.Number({ minimum: 0, default: 60 }),
    cert_cache_ttl: Type.Number({ minimum: 0, default: 60000 }),
    http_timeout: Type.Number({ minimum: 0, default: 30000 }),
    /** The TLS listener always sends its trusted CAs' names in the CertificateRequest. */
    send_ca_dn: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type MtlsAuthConfig = Static<typeof MtlsAuthSchema>;
