/**
 * An upstream, with Kong's field names, defaults and `healthchecks` structure. Ajv fills the
 * nested defaults: each level defaults to `{}` and the level below then gets its own defaults.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, Nullable, StringEnum, Tags } from './common';
import { TargetSchema } from './target';

const HASH_ON = ['none', 'consumer', 'ip', 'header', 'cookie', 'path', 'query_arg'] as const;
const CHECK_TYPES = ['tcp', 'http', 'https', 'grpc', 'grpcs'] as const;

const HttpStatuses = (defaults: number[]) =>
  Type.Array(Type.Integer({ minimum: 100, maximum: 999 }), { default: defaults });
/** Seconds, as in Kong (fractions allowed). */
const Seconds = (def: number) => Type.Number({ minimum: 0, maximum: 65535, default: def });
const Counter = Type.Integer({ minimum: 0, maximum: 255, default: 0 });

const strict = { additionalProperties: false, default: {} } as const;

const ActiveHealthcheck = Type.Object(
  {
    type: Type.Optional(StringEnum(CHECK_TYPES, { default: 'http' })),
    timeout: Type.Optional(Seconds(1)),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 10 })),
    http_path: Type.Optional(Type.String({ pattern: '^/', errorMessage: 'must start with "/"', default: '/' })),
    https_sni: Type.Optional(Nullable(Type.String({ minLength: 1 }), { default: null })),
    https_verify_certificate: Type.Optional(Type.Boolean({ default: true })),
    headers: Type.Optional(Nullable(Type.Record(Type.String({ minLength: 1 }), Type.Array(Type.String())), { default: null })),
    healthy: Type.Optional(
      Type.Object(
        {
          interval: Type.Optional(Seconds(0)),
          http_statuses: Type.Optional(HttpStatuses([200, 302])),
          successes: Type.Optional(Counter),
        },
        strict,
      ),
    ),
    unhealthy: Type.Optional(
      Type.Object(
        {
          interval: Type.Optional(Seconds(0)),
          http_statuses: Type.Optional(HttpStatuses([429, 404, 500, 501, 502, 503, 504, 505])),
          tcp_failures: Type.Optional(Counter),
          timeouts: Type.Optional(Counter),
          http_failures: Type.Optional(Counter),
        },
        strict,
      ),
    ),
  },
  strict,
);

const PassiveHealthcheck = Type.Object(
  {
    type: Type.Optional(StringEnum(CHECK_TYPES, { default: 'http' })),
    healthy: Type.Optional(
      Type.Object(
        {
          http_statuses: Type.Optional(
            HttpStatuses([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308]),
          ),
          successes: Type.Optional(Counter),
        },
        strict,
      ),
    ),
    unhealthy: Type.Optional(
      Type.Object(
        {
          http_statuses: Type.Optional(HttpStatuses([429, 500, 503])),
          tcp_failures: Type.Optional(Counter),
          timeouts: Type.Optional(Counter),
          http_failures: Type.Optional(Counter),
        },
        strict,
      ),
    ),
  },
  strict,
);

export const HealthchecksSchema = Type.Object(
  {
    active: Type.Optional(ActiveHealthcheck),
    passive: Type.Optional(PassiveHealthcheck),
    threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 100, default: 0 })),
  },
  strict,
);

/**
 * Envoy-style additions (not in Kong). Outlier detection complements Kong's passive counters:
 * how long a passively ejected target stays out, and how much of the upstream may be ejected.
 */
export const OutlierDetectionSchema = Type.Object(
  {
    /** Seconds a passively ejected target stays out before it gets traffic again; 0 = until active checks bring it back (Kong). */
    ejection_time: Type.Optional(Seconds(30)),
    /** At most this share of the targets may be passively ejected at once; one ejection is always allowed, never the last healthy target. */
    max_ejection_percent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 50 })),
  },
  strict,
);

/** Envoy's circuit_breakers thresholds, node-wide per upstream. Over a limit: a fast 503. */
export const CircuitBreakersSchema = Type.Object(
  {
    /** Requests in flight to the upstream beyond which new ones wait in the pool as pending. */
    max_connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 1024 })),
    max_pending_requests: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 1024 })),
    max_requests: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 1024 })),
    max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 1024 })),
  },
  strict,
);

/** Retries are capped node-wide to a share of the upstream's recent requests, so a failing upstream is not flooded. */
export const RetryBudgetSchema = Type.Object(
  {
    budget_percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, default: 20 })),
    /** Retries always allowed per window, so a quiet upstream can still retry. */
    min_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 10 })),
    /** Sliding window in seconds. */
    window: Type.Optional(Type.Integer({ minimum: 1, maximum: 60, default: 10 })),
    /** Exponential backoff with full jitter between tries: random(0, min(max, base * 2^(try-1))) ms. */
    backoff_base_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000, default: 25 })),
    backoff_max_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, default: 250 })),
  },
  strict,
);

export const UpstreamSchema = Type.Object(
  {
    id: Type.Optional(Id),
    /** Required: a service whose `host` equals this name balances over the upstream's targets. */
    name: Type.String({ minLength: 1 }),
    algorithm: Type.Optional(
      StringEnum(['round-robin', 'least-connections', 'consistent-hashing', 'latency'], { default: 'round-robin' }),
    ),
    slots: Type.Optional(Type.Integer({ minimum: 10, maximum: 65536, default: 10000 })),
    hash_on: Type.Optional(StringEnum(HASH_ON, { default: 'none' })),
    hash_fallback: Type.Optional(StringEnum(HASH_ON, { default: 'none' })),
    hash_on_header: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
    hash_fallback_header: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
    hash_on_cookie: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
    hash_on_cookie_path: Type.Optional(Type.String({ pattern: '^/', errorMessage: 'must start with "/"', default: '/' })),
    hash_on_query_arg: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
    hash_fallback_query_arg: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
    healthchecks: Type.Optional(HealthchecksSchema),
    outlier_detection: Type.Optional(OutlierDetectionSchema),
    circuit_breakers: Type.Optional(CircuitBreakersSchema),
    retry_budget: Type.Optional(RetryBudgetSchema),
    tags: Type.Optional(Tags),
    targets: Type.Optional(Type.Array(TargetSchema, { default: [] })),
  },
  { additionalProperties: false },
);

export type UpstreamInput = Defaulted<
  Static<typeof UpstreamSchema>,
  'algorithm' | 'slots' | 'hash_on' | 'hash_fallback' | 'hash_on_cookie_path' | 'healthchecks' | 'outlier_detection' | 'circuit_breakers' | 'retry_budget' | 'tags' | 'targets'
>;
