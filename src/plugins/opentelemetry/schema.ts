import { Type, type Static } from '@sinclair/typebox';
import { QueueSchema } from '../../logging/queue-schema';

const URL_PATTERN = '^https?://[^\\s]+$';
const HEADER_NAME = '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$';

/** Kong's opentelemetry fields (Kong 3.x) and defaults, for traces over OTLP/HTTP. */
export const OpenTelemetrySchema = Type.Object(
  {
    /** OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
    traces_endpoint: Type.Union([Type.String({ pattern: URL_PATTERN }), Type.Null()], { default: null }),
    /** Kong's older name for traces_endpoint. */
    endpoint: Type.Union([Type.String({ pattern: URL_PATTERN }), Type.Null()], { default: null }),
    headers: Type.Union([Type.Record(Type.String({ pattern: HEADER_NAME }), Type.String()), Type.Null()], { default: null }),
    resource_attributes: Type.Union([Type.Record(Type.String({ minLength: 1 }), Type.String()), Type.Null()], { default: null }),
    queue: QueueSchema,
    /** Deprecated in Kong in favour of queue.max_batch_size / queue.max_coalescing_delay (s). */
    batch_span_count: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { default: null }),
    batch_flush_delay: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { default: null }),
    /** ms */
    connect_timeout: Type.Integer({ minimum: 1, default: 1000 }),
    send_timeout: Type.Integer({ minimum: 1, default: 5000 }),
    read_timeout: Type.Integer({ minimum: 1, default: 5000 }),
    /** Share of sampled traces exported (0..1); null = all of them. */
    sampling_rate: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], { default: null }),
    /**
     * Which propagation headers to read and write. Floodgate speaks W3C Trace Context only:
     * `preserve` (Kong's default) and `w3c` both mean traceparent/tracestate.
     */
    header_type: Type.Union([Type.Literal('preserve'), Type.Literal('w3c')], { default: 'preserve' }),
    /** Response header carrying the trace id back to the client; null = none. */
    http_response_header_for_traceid: Type.Union([Type.String({ pattern: HEADER_NAME }), Type.Null()], { default: null }),
  },
  { additionalProperties: false },
);

export type OpenTelemetryConfig = Static<typeof OpenTelemetrySchema>;
