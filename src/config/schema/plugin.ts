/**
 * A plugin entry. `config` is only required to be an object here: each plugin validates it with
 * its own schema (config/plugin-config.ts), so this file does not need to know any plugin.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Protocol, Ref, Tags } from './common';

export const PluginSchema = Type.Object(
  {
    id: Type.Optional(Id),
    name: Type.String({ minLength: 1 }),
    /** Kong's optional unique label for one plugin entry (letters, digits, ".", "-", "_", "~"). */
    instance_name: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9._~-]+$', errorMessage: 'must contain only letters, digits, ".", "-", "_" and "~"' }),
    ),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    config: Type.Optional(Type.Object({}, { additionalProperties: true, default: {} })),
    /** Kong's default; protocols Floodgate does not proxy are dropped when normalizing. */
    protocols: Type.Optional(
      Type.Array(Protocol, { minItems: 1, default: ['grpc', 'grpcs', 'http', 'https'] }),
    ),
    /** Scope references; a nested plugin must not name the entity it is nested in. */
    service: Type.Optional(Ref),
    route: Type.Optional(Ref),
    consumer: Type.Optional(Ref),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);

export type PluginInput = Defaulted<Static<typeof PluginSchema>, 'enabled' | 'config' | 'protocols' | 'tags'>;

