/**
 * A service, with Kong's field names and defaults.
 *
 * `protocol`, `host`, `port` and `path` have no schema defaults on purpose: `url` sets them and
 * is mutually exclusive with them, and the default port depends on the protocol. normalize.ts
 * applies those defaults after the url has been expanded.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Name, Nullable, Port, Protocol, Tags, Timeout } from './common';
import { PluginSchema } from './plugin';
import { RouteSchema } from './route';

export const ServiceSchema = Type.Object(
  {
    id: Type.Optional(Id),
    name: Type.Optional(Nullable(Name)),
    /** Shorthand for protocol://host:port/path. */
    url: Type.Optional(Type.String({ minLength: 1 })),
    protocol: Type.Optional(Protocol),
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Port),
    path: Type.Optional(Nullable(Type.String({ pattern: '^/', errorMessage: 'must start with "/"' }))),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 32767, default: 5 })),
    connect_timeout: Type.Optional(Timeout),
    read_timeout: Type.Optional(Timeout),
    write_timeout: Type.Optional(Timeout),
    /** Kong's default is null (use the global setting); Floodgate's global setting is "do not verify". */
    tls_verify: Type.Optional(Nullable(Type.Boolean())),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    tags: Type.Optional(Tags),
    routes: Type.Optional(Type.Array(RouteSchema, { default: [] })),
    plugins: Type.Optional(Type.Array(PluginSchema, { default: [] })),
  },
  { additionalProperties: false },
);

export type ServiceInput = Defaulted<
  Static<typeof ServiceSchema>,
  'retries' | 'connect_timeout' | 'read_timeout' | 'write_timeout' | 'enabled' | 'tags' | 'routes' | 'plugins'
>;
