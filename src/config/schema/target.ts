/** An upstream target. The `target` string itself is parsed in config/values.ts. */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Ref, Tags } from './common';

export const TargetSchema = Type.Object(
  {
    id: Type.Optional(Id),
    /** "host", "host:port" or "[ipv6]:port"; the port defaults to 8000 as in Kong. */
    target: Type.String({ minLength: 1 }),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, default: 100 })),
    /** Only at the top level: names the upstream (by name or id) the target belongs to. */
    upstream: Type.Optional(Ref),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);

export type TargetInput = Defaulted<Static<typeof TargetSchema>, 'weight' | 'tags'>;
