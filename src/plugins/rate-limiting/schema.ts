import { Type, type Static } from '@sinclair/typebox';

/** A limit per window: a positive number of requests, or null (no limit for that window). */
const WindowLimit = Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()], { default: null });

/** Kong 3.x's nested `redis` record (the fields Floodgate uses), with Kong's defaults. */
const RedisSchema = Type.Object(
  {
    host: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 6379 }),
    username: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    password: Type.Union([Type.String({ minLength: 1, sensitive: true }), Type.Null()], { default: null, sensitive: true }),
    database: Type.Integer({ minimum: 0, default: 0 }),
    /** Connect and command timeout, in ms. */
    timeout: Type.Integer({ minimum: 1, maximum: 2_147_483_646, default: 2000 }),
    ssl: Type.Boolean({ default: false }),
    ssl_verify: Type.Boolean({ default: false }),
    server_name: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
  },
  { additionalProperties: false, default: {} },
);

/** "when <if> holds, <field> must be a string": the error lands on <field>'s line. */
function requiredWhen(condition: object, field: string, message: string): object {
  return { if: condition, then: { properties: { [field]: { type: 'string', errorMessage: message } } } };
}

/**
 * Kong's rate-limiting fields (Kong 3.x), with Kong's defaults, plus `algorithm` and `burst`
 * (Floodgate extras). `policy: cluster` needs Kong's database and is refused with a clear error.
 */
export const RateLimitingSchema = Type.Object(
  {
    second: WindowLimit,
    minute: WindowLimit,
    hour: WindowLimit,
    day: WindowLimit,
    month: WindowLimit,
    year: WindowLimit,
    limit_by: Type.Union(
      [Type.Literal('consumer'), Type.Literal('credential'), Type.Literal('ip'), Type.Literal('service'), Type.Literal('header'), Type.Literal('path')],
      { default: 'consumer' },
    ),
    header_name: Type.Union([Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+$' }), Type.Null()], { default: null }),
    path: Type.Union([Type.String({ minLength: 1, pattern: '^/' }), Type.Null()], { default: null }),
    policy: Type.String({
      enum: ['local', 'redis'],
      default: 'local',
      errorMessage: 'must be "local" or "redis" ("cluster" needs Kong\'s database, which Floodgate does not have)',
    }),
    fault_tolerant: Type.Boolean({ default: true }),
    redis: RedisSchema,
    hide_client_headers: Type.Boolean({ default: false }),
    error_code: Type.Integer({ minimum: 100, maximum: 599, default: 429 }),
    error_message: Type.String({ default: 'API rate limit exceeded' }),
    /**
     * Redis policy: -1 counts every request in redis (exact); N > 0 counts locally and syncs every
     * N seconds (and whenever the local share of the budget runs out). See README.
     */
    sync_rate: Type.Number({ default: -1, minimum: -1, errorMessage: 'must be -1 (synchronous) or a number of seconds above 0' }),
    /** Floodgate extra: fixed window (Kong's), sliding window, or token bucket. */
    algorithm: Type.Union([Type.Literal('fixed'), Type.Literal('sliding'), Type.Literal('token_bucket')], { default: 'fixed' }),
    /** Floodgate extra, token_bucket only: bucket capacity; null = the window's limit. */
    burst: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { default: null }),
  },
  {
    additionalProperties: false,
    allOf: [
      {
        not: { properties: { second: { type: 'null' }, minute: { type: 'null' }, hour: { type: 'null' }, day: { type: 'null' }, month: { type: 'null' }, year: { type: 'null' } } },
        errorMessage: 'at least one of second, minute, hour, day, month or year must be set',
      },
      requiredWhen({ properties: { limit_by: { const: 'header' } } }, 'header_name', 'is required when limit_by is "header"'),
      requiredWhen({ properties: { limit_by: { const: 'path' } } }, 'path', 'is required when limit_by is "path"'),
      {
        if: { properties: { policy: { const: 'redis' } } },
        then: { properties: { redis: { properties: { host: { type: 'string', errorMessage: 'is required when policy is "redis"' } } } } },
      },
      {
        if: { properties: { sync_rate: { not: { const: -1 } } } },
        then: { properties: { sync_rate: { exclusiveMinimum: 0, errorMessage: 'must be -1 (synchronous) or a number of seconds above 0' }, algorithm: { const: 'fixed', errorMessage: 'must be "fixed" when sync_rate is set (batched counting is for fixed windows)' } } },
      },
      {
        if: { properties: { burst: { type: 'integer' } } },
        then: { properties: { algorithm: { const: 'token_bucket', errorMessage: 'must be "token_bucket" when burst is set' } } },
      },
    ],
  },
);

export type RateLimitingConfig = Static<typeof RateLimitingSchema>;
