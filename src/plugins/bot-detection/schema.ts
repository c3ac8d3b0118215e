import { Type, type Static } from '@sinclair/typebox';

/** Kong 3.9's bot-detection fields: regexes matched against the User-Agent. */
export const BotDetectionSchema = Type.Object(
  {
    allow: Type.Array(Type.String(), { default: [] }),
    deny: Type.Array(Type.String(), { default: [] }),
  },
  { additionalProperties: false },
);

export type BotDetectionConfig = Static<typeof BotDetectionSchema>;
