import { Type, type Static } from '@sinclair/typebox';

/** Kong's request-termination fields. */
export const RequestTerminationSchema = Type.Object(
  {
    status_code: Type.Integer({ minimum: 100, maximum: 599, default: 503 }),
    message: Type.Union([Type.String(), Type.Null()], { default: null }),
    body: Type.Union([Type.String(), Type.Null()], { default: null }),
    content_type: Type.Union([Type.String(), Type.Null()], { default: null }),
    /** Terminate only when a header or query argument with this name is present. */
    trigger: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    /** Answer with a JSON description of the request instead of a message. */
    echo: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type RequestTerminationConfig = Static<typeof RequestTerminationSchema>;
