import { Type, type Static } from '@sinclair/typebox';

const Strings = Type.Array(Type.String(), { default: [] });
const NamedValues = Type.Array(Type.String({ pattern: '^[^:]+:.*$' }), { default: [] });
const JsonTypes = Type.Array(Type.Union([Type.Literal('boolean'), Type.Literal('number'), Type.Literal('string')]), { default: [] });

/** Kong 3.9's response-transformer fields. */
export const ResponseTransformerSchema = Type.Object(
  {
    remove: Type.Object({ json: Strings, headers: Strings }, { additionalProperties: false, default: {} }),
    rename: Type.Object({ json: NamedValues, headers: NamedValues }, { additionalProperties: false, default: {} }),
    replace: Type.Object({ json: NamedValues, json_types: JsonTypes, headers: NamedValues }, { additionalProperties: false, default: {} }),
    add: Type.Object({ json: NamedValues, json_types: JsonTypes, headers: NamedValues }, { additionalProperties: false, default: {} }),
    append: Type.Object({ json: NamedValues, json_types: JsonTypes, headers: NamedValues }, { additionalProperties: false, default: {} }),
  },
  { additionalProperties: false },
);

export type ResponseTransformerConfig = Static<typeof ResponseTransformerSchema>;
