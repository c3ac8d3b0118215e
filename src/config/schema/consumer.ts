/**
 * A consumer, with its credentials nested (schema/credentials.ts). "At least one of username or
 * custom_id" is checked in config/field-checks.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Nullable, Tags } from './common';
import { CredentialCollections } from './credentials';
import { PluginSchema } from './plugin';

export const ConsumerSchema = Type.Object(
  {
    id: Type.Optional(Id),
    username: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
    custom_id: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
    tags: Type.Optional(Tags),
    plugins: Type.Optional(Type.Array(PluginSchema, { default: [] })),
    ...CredentialCollections,
  },
  { additionalProperties: false },
);

export type ConsumerInput = Defaulted<Static<typeof ConsumerSchema>, 'tags' | 'plugins'>;
