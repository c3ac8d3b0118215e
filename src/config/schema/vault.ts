/**
 * Kong's `vaults` entity. Floodgate implements Kong's `env` vault: references
 * `{vault://<prefix>/NAME}` are read from the environment when the file is loaded
 * (config/vault-refs.ts). Other vault kinds are Enterprise or need services Floodgate lacks and
 * are refused there.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Tags } from './common';

export const VaultSchema = Type.Object(
  {
    id: Type.Optional(Id),
    /** The vault implementation; only "env" is supported (checked in vault-refs.ts). */
    name: Type.String({ minLength: 1 }),
    /** What references use after `vault://`; Kong's rule: letters, digits, `-` and `_`. */
    prefix: Type.String({ pattern: '^[a-zA-Z0-9_-]+$', errorMessage: 'must contain only letters, digits, "-" and "_"' }),
    description: Type.Optional(Type.String()),
    config: Type.Optional(
      Type.Object(
        {
          /** Prepended to the resource name before it is upper-cased (Kong's env vault). */
          prefix: Type.Optional(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$', errorMessage: 'must be a valid environment variable name prefix' })),
        },
        { additionalProperties: false, default: {} },
      ),
    ),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
export type VaultInput = Defaulted<Static<typeof VaultSchema>, 'tags' | 'config'>;
