/** The whole declarative file: Kong's top-level keys and one array per entity kind. */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted } from './common';
import { CaCertificateSchema, CertificateSchema, SniSchema } from './certificate';
import { ConsumerSchema } from './consumer';
import { CredentialCollections } from './credentials';
import { PluginSchema } from './plugin';
import { RouteSchema } from './route';
import { ServiceSchema } from './service';
import { TargetSchema } from './target';
import { UpstreamSchema } from './upstream';
import { VaultSchema } from './vault';

/** The current format; files in an older one are migrated to it (config/kong-format.ts). */
export const FORMAT_VERSION = '3.0';
/** Every `_format_version` Kong 3.9 loads. */
export const FORMAT_VERSIONS = ['1.1', '2.1', '3.0'] as const;

export const DocumentSchema = Type.Object(
  {
    // The message matters: `_format_version: 3.0` without quotes is a number in YAML.
    _format_version: Type.String({
      enum: [...FORMAT_VERSIONS],
      errorMessage: `must be one of the strings ${FORMAT_VERSIONS.map((v) => `"${v}"`).join(', ')} (quoted: 3.0 without quotes is a number)`,
    }),
    _transform: Type.Optional(Type.Boolean({ default: true })),
    _comment: Type.Optional(Type.String()),
    _workspace: Type.Optional(Type.String()),
    /** decK's metadata (select_tags, defaults); it does not change what Kong loads. */
    _info: Type.Optional(Type.Unknown()),
    services: Type.Optional(Type.Array(ServiceSchema, { default: [] })),
    routes: Type.Optional(Type.Array(RouteSchema, { default: [] })),
    upstreams: Type.Optional(Type.Array(UpstreamSchema, { default: [] })),
    targets: Type.Optional(Type.Array(TargetSchema, { default: [] })),
    consumers: Type.Optional(Type.Array(ConsumerSchema, { default: [] })),
    plugins: Type.Optional(Type.Array(PluginSchema, { default: [] })),
    certificates: Type.Optional(Type.Array(CertificateSchema, { default: [] })),
    snis: Type.Optional(Type.Array(SniSchema, { default: [] })),
    ca_certificates: Type.Optional(Type.Array(CaCertificateSchema, { default: [] })),
    vaults: Type.Optional(Type.Array(VaultSchema, { default: [] })),
    /** Credentials at the top level name their consumer; they can also be nested in it. */
    ...CredentialCollections,
  },
  { additionalProperties: false },
);

export type DocumentInput = Defaulted<
  Static<typeof DocumentSchema>,
  'services' | 'routes' | 'upstreams' | 'targets' | 'consumers' | 'plugins' | 'certificates' | 'snis' | 'ca_certificates' | 'vaults'
>;

/**
 * Kong top-level keys that Floodgate does not implement, so the error can say so. Keys with a
 * more specific reason (consumer_groups, _konnect) are in KONG_KEY_REASONS.
 */
export const UNSUPPORTED_KONG_ENTITIES: readonly string[] = [
  'key_sets',
  'keys',
  'filter_chains',
  'licenses',
  'workspaces',
  'parameters',
  'custom_entities',
  'partials',
];

/** Top-level keys refused with their own reason. */
export const KONG_KEY_REASONS: Readonly<Record<string, string>> = {
  consumer_groups: '"consumer_groups" is a Kong Enterprise entity: Kong OSS 3.9 does not load it either, and Floodgate does not support it',
  _konnect: '"_konnect" is a decK/Konnect key (it names a Konnect control plane); Kong itself does not load it: remove it, or apply the file with decK',
};
