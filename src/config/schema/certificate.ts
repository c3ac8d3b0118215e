/**
 * Kong's TLS entities: `certificates` (with `snis` nested or at the top level naming their
 * certificate) and `ca_certificates`. The schema only checks shapes; parsing the PEM, matching
 * the key to the certificate and the SNI name rules are in config/tls-checks.ts, uniqueness of
 * SNI names in references.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Tags } from './common';

/** A PEM text; the key fields never appear in messages. */
const Pem = Type.String({ minLength: 1 });
const PrivatePem = Type.String({ minLength: 1, sensitive: true });

/** A certificate reference: its id as a string, or `{id}` as deck writes it. */
export const CertificateRef = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object({ id: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
]);
export type CertificateRefValue = Static<typeof CertificateRef>;

export const SniSchema = Type.Object(
  {
    id: Type.Optional(Id),
    name: Type.String({ minLength: 1 }),
    /** Only at the top level: a nested SNI belongs to its certificate. */
    certificate: Type.Optional(CertificateRef),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
export type SniInput = Defaulted<Static<typeof SniSchema>, 'tags'>;


export const CertificateSchema = Type.Object(
  {
    id: Type.Optional(Id),
    cert: Pem,
    key: PrivatePem,
    cert_alt: Type.Optional(Pem),
    key_alt: Type.Optional(PrivatePem),
    tags: Type.Optional(Tags),
    /** Kong writes plain names here, decK writes SNI objects; kong-compat.ts turns names into objects. */
    snis: Type.Optional(Type.Array(SniSchema, { default: [] })),
  },
  { additionalProperties: false, sensitive: true },
);
export type CertificateInput = Defaulted<Static<typeof CertificateSchema>, 'tags' | 'snis'>;

export const CaCertificateSchema = Type.Object(
  {
    id: Type.Optional(Id),
    cert: Pem,
    /** Kong computes it; when given it must be the certificate's SHA-256 (hex). */
    cert_digest: Type.Optional(Type.String({ minLength: 1 })),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
export type CaCertificateInput = Defaulted<Static<typeof CaCertificateSchema>, 'tags'>;
