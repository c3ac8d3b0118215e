/**
 * Kong's `certificates` and `snis` entities, for the HTTPS listener (src/tls/). Only the shapes
 * live here; the PEM and server-name checks that need code are in config/certificates.ts.
 *
 * A certificate lists its names in `snis`, as strings (Kong's admin API shorthand) or as nested
 * SNI entities with a `name` (the declarative form deck writes). A top-level `snis` entry names
 * its certificate by id.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Id, Nullable, Ref, Tags } from './common';

const Pem = Type.String({ minLength: 1 });
const SniName = Type.String({ minLength: 1 });

/** Inside a union, where Ajv cannot apply defaults: tags without one. */
const NestedTags = Type.Array(Type.String({ minLength: 1 }));

export const NestedSniSchema = Type.Object(
  { id: Type.Optional(Id), name: SniName, tags: Type.Optional(NestedTags) },
  { additionalProperties: false },
);

export const CertificateSchema = Type.Object(
  {
    id: Type.Optional(Id),
    cert: Pem,
    key: Pem,
    cert_alt: Type.Optional(Nullable(Pem)),
    key_alt: Type.Optional(Nullable(Pem)),
    snis: Type.Optional(Nullable(Type.Array(Type.Union([SniName, NestedSniSchema])))),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);

export const SniSchema = Type.Object(
  { id: Type.Optional(Id), name: SniName, certificate: Ref, tags: Type.Optional(Tags) },
  { additionalProperties: false },
);

export type CertificateInput = Static<typeof CertificateSchema>;
export type SniInput = Static<typeof SniSchema>;
