import { Type, type Static } from '@sinclair/typebox';
import { QueueSchema } from '../../logging/queue-schema';

/** Kong's http-log fields (Kong 3.x) and defaults; custom_fields_by_lua has no equivalent. */
export const HttpLogSchema = Type.Object(
  {
    /** http(s) URL; user:password in it becomes a Basic Authorization header, as in Kong. */
    http_endpoint: Type.String({ pattern: '^https?://[^\\s]+$', errorMessage: 'http_endpoint must be an http:// or https:// URL' }),
    method: Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH')], { default: 'POST' }),
    content_type: Type.Union([Type.Literal('application/json'), Type.Literal('application/json; charset=utf-8')], { default: 'application/json' }),
    /** ms, for connecting and for each read/write. */
    timeout: Type.Integer({ minimum: 1, default: 10_000 }),
    /** ms an idle connection to the endpoint is kept. */
    keepalive: Type.Integer({ minimum: 1, default: 60_000 }),
    headers: Type.Union([Type.Record(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), Type.String()), Type.Null()], { default: null }),
    queue: QueueSchema,
  },
  { additionalProperties: false },
);

export type HttpLogConfig = Static<typeof HttpLogSchema>;
