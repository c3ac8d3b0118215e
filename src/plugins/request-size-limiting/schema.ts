import { Type, type Static } from '@sinclair/typebox';

/** Kong 3.9's request-size-limiting fields and defaults. */
export const RequestSizeLimitingSchema = Type.Object(
  {
    allowed_payload_size: Type.Integer({ default: 128 }),
    size_unit: Type.Union([Type.Literal('megabytes'), Type.Literal('kilobytes'), Type.Literal('bytes')], { default: 'megabytes' }),
    require_content_length: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type RequestSizeLimitingConfig = Static<typeof RequestSizeLimitingSchema>;
