import { Type, type Static } from '@sinclair/typebox';
import { QueueSchema } from '../../logging/queue-schema';

const URL_PATTERN = '^https?://[^\\s]+$';
const HEADER_NAME = '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$';
const FORMATS = ['b3', 'b3-single', 'w3c', 'jaeger', 'ot', 'aws', 'datadog', 'gcp'] as const;
const literals = <T extends string>(values: readonly T[]) => values.map((v) => Type.Literal(v));
/** Kong's typedefs.timeout: whole milliseconds. */
const timeout = (ms: number) => Type.Integer({ minimum: 0, maximum: 2_147_483_646, default: ms });

/** Tags the plugin sets itself; Kong refuses them in static_tags. */
export const PROTECTED_TAGS: readonly string[] = [
  'error', 'http.method', 'http.path', 'http.status_code', 'kong.balancer.state', 'kong.balancer.try', 'kong.consumer',
  'kong.credential', 'kong.node.id', 'kong.route', 'kong.service', 'lc', 'peer.hostname',
];

/** Kong's typedefs.propagation: which formats to read, write and clear (overrides header_type). */
export const PropagationSchema = Type.Object(
  {
    extract: Type.Union([Type.Array(Type.Union(literals(FORMATS.filter((f) => f !== 'b3-single')))), Type.Null()], { default: null }),
    clear: Type.Union([Type.Array(Type.String({ pattern: HEADER_NAME })), Type.Null()], { default: null }),
    inject: Type.Union([Type.Array(Type.Union(literals(['preserve', ...FORMATS]))), Type.Null()], { default: null }),
    default_format: Type.Union(literals(FORMATS), { default: 'b3' }),
  },
  { additionalProperties: false, default: { default_format: 'b3' } },
);

/** Kong 3.9's zipkin fields and defaults. */
export const ZipkinSchema = Type.Object(
  {
    local_service_name: Type.String({ minLength: 1, default: 'kong' }),
    /** Zipkin v2 collector, e.g. http://zipkin:9411/api/v2/spans; null = propagate only. */
    http_endpoint: Type.Union([Type.String({ pattern: URL_PATTERN, errorMessage: 'http_endpoint must be an http:// or https:// URL' }), Type.Null()], { default: null }),
    sample_ratio: Type.Number({ minimum: 0, maximum: 1, default: 0.001 }),
    default_service_name: Type.Union([Type.String(), Type.Null()], { default: null }),
    include_credential: Type.Boolean({ default: true }),
    traceid_byte_count: Type.Union([Type.Literal(8), Type.Literal(16)], { default: 16 }),
    /** Deprecated in Kong 3.x in favour of propagation, still honoured when propagation is unset. */
    header_type: Type.Union(literals(['preserve', 'ignore', ...FORMATS]), { default: 'preserve' }),
    default_header_type: Type.Union(literals(FORMATS), { default: 'b3' }),
    tags_header: Type.String({ pattern: HEADER_NAME, default: 'Zipkin-Tags' }),
    static_tags: Type.Union([Type.Array(Type.Object({ name: Type.String(), value: Type.String() }, { additionalProperties: false })), Type.Null()], { default: null }),
    http_span_name: Type.Union(literals(['method', 'method_path']), { default: 'method' }),
    connect_timeout: timeout(2000),
    send_timeout: timeout(5000),
    read_timeout: timeout(5000),
    http_response_header_for_traceid: Type.Union([Type.String({ pattern: HEADER_NAME }), Type.Null()], { default: null }),
    phase_duration_flavor: Type.Union(literals(['annotations', 'tags']), { default: 'annotations' }),
    queue: QueueSchema,
    propagation: PropagationSchema,
  },
  { additionalProperties: false },
);

export type ZipkinConfig = Static<typeof ZipkinSchema>;
