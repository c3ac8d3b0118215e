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

/** Schema that holds when `field` is present and equals `value` (defaults are applied later). */
function equals(field: string, value: unknown): object {
  return { required: [field], properties: { [field]: { const: value } } };
}

/** "when <condition> holds, <field> must be a string": the error lands on <field>'s line. */
function requiredWhen(condition: object, field: string, message: string): object {
  return { if: condition, then: { required: [field], properties: { [field]: { type: 'string', errorMessage: message } } } };
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
      requiredWhen(equals('limit_by', 'header'), 'header_name', 'is required when limit_by is "header"'),
      requiredWhen(equals('limit_by', 'path'), 'path', 'is required when limit_by is "path"'),
      {
        if: equals('policy', 'redis'),
        then: {
          required: ['redis'],
          properties: { redis: { type: 'object', required: ['host'], properties: { host: { type: 'string', errorMessage: 'is required when policy is "redis"' } } } },
        },
      },
      {
        if: { required: ['sync_rate'], properties: { sync_rate: { not: { const: -1 } } } },
        then: {
          properties: {
            sync_rate: { type: 'number', exclusiveMinimum: 0, errorMessage: 'must be -1 (synchronous) or a number of seconds above 0' },
            algorithm: { type: 'string', const: 'fixed', errorMessage: 'must be "fixed" when sync_rate is set (batched counting is for fixed windows)' },
          },
        },
      },
      {
        if: { required: ['burst'], properties: { burst: { type: 'integer' } } },
        then: { required: ['algorithm'], properties: { algorithm: { type: 'string', const: 'token_bucket', errorMessage: 'must be "token_bucket" when burst is set' } } },
      },
    ],
  },
);

export type RateLimitingConfig = Static<typeof RateLimitingSchema>;
