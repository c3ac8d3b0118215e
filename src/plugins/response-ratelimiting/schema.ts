import { Type, type Static } from '@sinclair/typebox';

const Period = Type.Optional(Type.Number({ exclusiveMinimum: 0 }));

/** One named limit: at least one period (checked in checkConfig with Kong's message). */
const Limit = Type.Object(
  { second: Period, minute: Period, hour: Period, day: Period, month: Period, year: Period },
  { additionalProperties: false },
);

/**
 * Kong 3.9's response-ratelimiting fields and defaults. `policy: redis` is accepted by the schema
 * (Kong's field) and refused by checkConfig: Floodgate counts response limits node-locally only.
 */
export const ResponseRateLimitingSchema = Type.Object(
  {
    header_name: Type.String({ minLength: 1, default: 'x-kong-limit' }),
    limit_by: Type.Union([Type.Literal('consumer'), Type.Literal('credential'), Type.Literal('ip')], { default: 'consumer' }),
    policy: Type.String({
      enum: ['local', 'redis'],
      default: 'local',
      errorMessage: 'must be "local" or "redis" ("cluster" needs Kong\'s database, which Floodgate does not have)',
    }),
    fault_tolerant: Type.Boolean({ default: true }),
    redis: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    block_on_first_violation: Type.Boolean({ default: false }),
    hide_client_headers: Type.Boolean({ default: false }),
    limits: Type.Record(Type.String({ minLength: 1 }), Limit, { minProperties: 1 }),
  },
  { additionalProperties: false },
);

export type ResponseRateLimitingConfig = Static<typeof ResponseRateLimitingSchema>;
