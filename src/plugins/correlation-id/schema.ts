import { Type, type Static } from '@sinclair/typebox';

/** Kong's correlation-id fields and defaults. */
export const CorrelationIdSchema = Type.Object(
  {
    header_name: Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$', default: 'Kong-Request-ID' }),
    generator: Type.Union([Type.Literal('uuid'), Type.Literal('uuid#counter'), Type.Literal('tracker')], { default: 'uuid#counter' }),
    echo_downstream: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type CorrelationIdConfig = Static<typeof CorrelationIdSchema>;
