import { Type, type Static } from '@sinclair/typebox';

const Strings = Type.Array(Type.String(), { default: [] });

const Section = (withUri: boolean) =>
  Type.Object(
    {
      body: Strings,
      headers: Strings,
      querystring: Strings,
      ...(withUri ? { uri: Type.Union([Type.String(), Type.Null()], { default: null }) } : {}),
    },
    { additionalProperties: false, default: {} },
  );

/**
 * Kong 3.9's request-transformer fields. Entries are `name` (remove) or `name:value`; the
 * name/value checks and the template rules live in checkConfig (index.ts), with Kong's messages.
 */
export const RequestTransformerSchema = Type.Object(
  {
    /** Kong's typedefs.http_method: upper-case letters. */
    http_method: Type.Union([Type.String({ pattern: '^[A-Z]+$' }), Type.Null()], { default: null }),
    remove: Section(false),
    rename: Section(false),
    replace: Section(true),
    add: Section(false),
    append: Section(false),
  },
  { additionalProperties: false },
);

export type RequestTransformerConfig = Static<typeof RequestTransformerSchema>;
