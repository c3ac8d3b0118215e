import { Type, type Static } from '@sinclair/typebox';
import { QueueSchema } from '../../logging/queue-schema';
import { HostSchema, PortSchema } from '../tcp-log/schema';

export const METRIC_NAMES = [
  'kong_latency', 'latency', 'request_count', 'request_per_user', 'request_size', 'response_size', 'status_count',
  'status_count_per_user', 'unique_users', 'upstream_latency', 'status_count_per_workspace', 'status_count_per_user_per_route',
  'shdict_usage',
] as const;
export const STAT_TYPES = ['counter', 'gauge', 'histogram', 'meter', 'set', 'timer'] as const;
const CONSUMER_IDENTIFIERS = ['consumer_id', 'custom_id', 'username'] as const;
const SERVICE_IDENTIFIERS = ['service_id', 'service_name', 'service_host', 'service_name_or_host'] as const;
const WORKSPACE_IDENTIFIERS = ['workspace_id', 'workspace_name'] as const;
const TAG_STYLES = ['dogstatsd', 'influxdb', 'librato', 'signalfx'] as const;

const oneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const optional = <T extends string>(values: readonly T[]) => Type.Union([oneOf(values), Type.Null()], { default: null });

export const MetricSchema = Type.Object(
  {
    name: oneOf(METRIC_NAMES),
    stat_type: oneOf(STAT_TYPES),
    /** Required for counters and gauges (Kong's rule). */
    sample_rate: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()], { default: null }),
    consumer_identifier: optional(CONSUMER_IDENTIFIERS),
    service_identifier: optional(SERVICE_IDENTIFIERS),
    workspace_identifier: optional(WORKSPACE_IDENTIFIERS),
  },
  { additionalProperties: false },
);

export type MetricConfig = Static<typeof MetricSchema>;

const metric = (name: (typeof METRIC_NAMES)[number], stat_type: (typeof STAT_TYPES)[number], sample_rate: number | null) => ({
  name, stat_type, sample_rate, consumer_identifier: null, service_identifier: null, workspace_identifier: null,
});

/** Kong's default metrics list, in Kong's order. */
export const DEFAULT_METRICS = [
  metric('request_count', 'counter', 1),
  metric('latency', 'timer', null),
  metric('request_size', 'counter', 1),
  metric('status_count', 'counter', 1),
  metric('response_size', 'counter', 1),
  metric('unique_users', 'set', null),
  metric('request_per_user', 'counter', 1),
  metric('upstream_latency', 'timer', null),
  metric('kong_latency', 'timer', null),
  metric('status_count_per_user', 'counter', 1),
  metric('status_count_per_workspace', 'counter', 1),
  metric('status_count_per_user_per_route', 'counter', 1),
  metric('shdict_usage', 'gauge', 1),
];

/** Kong 3.9's statsd fields and defaults. */
export const StatsdSchema = Type.Object(
  {
    host: Type.Union([HostSchema], { default: 'localhost' }),
    port: Type.Union([PortSchema], { default: 8125 }),
    prefix: Type.String({ default: 'kong' }),
    metrics: Type.Array(MetricSchema, { default: DEFAULT_METRICS }),
    /** Only responses whose status is in one of these ranges ("200-299") are counted. */
    allow_status_codes: Type.Union([Type.Array(Type.String({ pattern: '^[0-9]+-[0-9]+$', errorMessage: 'must be a status range such as "200-299"' })), Type.Null()], { default: null }),
    /** Lines joined with newlines into datagrams of up to this many bytes; 0 = one line per datagram. */
    udp_packet_size: Type.Number({ minimum: 0, maximum: 65507, default: 0 }),
    use_tcp: Type.Boolean({ default: false }),
    hostname_in_prefix: Type.Boolean({ default: false }),
    consumer_identifier_default: Type.Union([oneOf(CONSUMER_IDENTIFIERS)], { default: 'custom_id' }),
    service_identifier_default: Type.Union([oneOf(SERVICE_IDENTIFIERS)], { default: 'service_name_or_host' }),
    workspace_identifier_default: Type.Union([oneOf(WORKSPACE_IDENTIFIERS)], { default: 'workspace_id' }),
    /** Deprecated in Kong: no longer has an effect (queue.max_retry_time does). */
    retry_count: Type.Union([Type.Integer(), Type.Null()], { default: null }),
    /** Deprecated in Kong: queue.max_batch_size. */
    queue_size: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { default: null }),
    /** Deprecated in Kong: queue.max_coalescing_delay (seconds). */
    flush_timeout: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { default: null }),
    tag_style: optional(TAG_STYLES),
    queue: QueueSchema,
  },
  { additionalProperties: false },
);

export type StatsdConfig = Static<typeof StatsdSchema>;
