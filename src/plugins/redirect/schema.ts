import { Type, type Static } from '@sinclair/typebox';

/** Kong 3.9's redirect fields and defaults; `location` must be an absolute URL (checkConfig). */
export const RedirectSchema = Type.Object(
  {
    status_code: Type.Integer({ minimum: 100, maximum: 599, default: 301 }),
    location: Type.String({ minLength: 1 }),
    keep_incoming_path: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type RedirectConfig = Static<typeof RedirectSchema>;
