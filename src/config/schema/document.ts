/** The whole declarative file: Kong's top-level keys and one array per entity kind. */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted } from './common';
import { CertificateSchema, SniSchema } from './certificate';
import { ConsumerSchema } from './consumer';
import { CredentialCollections } from './credentials';
import { PluginSchema } from './plugin';
import { RouteSchema } from './route';
import { ServiceSchema } from './service';
import { TargetSchema } from './target';
import { UpstreamSchema } from './upstream';

export const FORMAT_VERSION = '3.0';

export const DocumentSchema = Type.Object(
  {
    // The message matters: `_format_version: 3.0` without quotes is a number in YAML.
    _format_version: Type.Literal(FORMAT_VERSION, { errorMessage: `must be the string "${FORMAT_VERSION}"` }),
    _transform: Type.Optional(Type.Boolean({ default: true })),
    _comment: Type.Optional(Type.String()),
    _workspace: Type.Optional(Type.String()),
    services: Type.Optional(Type.Array(ServiceSchema, { default: [] })),
    routes: Type.Optional(Type.Array(RouteSchema, { default: [] })),
    upstreams: Type.Optional(Type.Array(UpstreamSchema, { default: [] })),
    targets: Type.Optional(Type.Array(TargetSchema, { default: [] })),
    consumers: Type.Optional(Type.Array(ConsumerSchema, { default: [] })),
    plugins: Type.Optional(Type.Array(PluginSchema, { default: [] })),
    /** For the HTTPS listener; checked by config/certificates.ts. */
    certificates: Type.Optional(Type.Array(CertificateSchema)),
    snis: Type.Optional(Type.Array(SniSchema)),
    /** Credentials at the top level name their consumer; they can also be nested in it. */
    ...CredentialCollections,
  },
  { additionalProperties: false },
);

export type DocumentInput = Defaulted<
  Static<typeof DocumentSchema>,
  'services' | 'routes' | 'upstreams' | 'targets' | 'consumers' | 'plugins'
>;

/** Kong top-level keys that Floodgate does not implement, so the error can say so. */
export const UNSUPPORTED_KONG_ENTITIES: readonly string[] = [
  'ca_certificates',
  'vaults',
  'key_sets',
  'keys',
  'filter_chains',
  'consumer_groups',
  'licenses',
  'workspaces',
  'parameters',
  'custom_entities',
  'partials',
  '_info',
  '_konnect',
];
