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
    tags: Type.Optional(Tags),
    targets: Type.Optional(Type.Array(TargetSchema, { default: [] })),
  },
  { additionalProperties: false },
);

export type UpstreamInput = Defaulted<
  Static<typeof UpstreamSchema>,
  'algorithm' | 'slots' | 'hash_on' | 'hash_fallback' | 'hash_on_cookie_path' | 'healthchecks' | 'tags' | 'targets'
>;
