/**
 * A route, with Kong's field names and defaults. Checks that need more than one field or a
 * compiled regex (at least one matcher, regex paths, host wildcards, supported protocols) are in
 * config/field-checks.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Defaulted, Id, IntegerEnum, Name, Nullable, Protocol, Ref, StringEnum, Tags } from './common';
import { PluginSchema } from './plugin';

/** Kong also accepts a single string per header; normalizing turns it into a one-item list. */
const HeaderValues = Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })]);

export const RouteSchema = Type.Object(
  {
    id: Type.Optional(Id),
    name: Type.Optional(Nullable(Name)),
    /** Only at the top level: a route nested in a service belongs to that service. */
    service: Type.Optional(Ref),
    protocols: Type.Optional(Type.Array(Protocol, { minItems: 1, default: ['http', 'https'] })),
    methods: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1 })))),
    hosts: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1 })))),
    paths: Type.Optional(
      Nullable(Type.Array(Type.String({ pattern: '^[/~]', errorMessage: 'must start with "/" or "~"' })))
    ),
    headers: Type.Optional(Nullable(Type.Record(Type.String({ minLength: 1 }), HeaderValues))),
    strip_path: Type.Optional(Type.Boolean({ default: true })),
    preserve_host: Type.Optional(Type.Boolean({ default: false })),
    regex_priority: Type.Optional(Type.Integer({ default: 0 })),
    https_redirect_status_code: Type.Optional(IntegerEnum([426, 301, 302, 307, 308], { default: 426 })),
    request_buffering: Type.Optional(Type.Boolean({ default: true })),
    response_buffering: Type.Optional(Type.Boolean({ default: true })),
    /** Kong's v1 is accepted by the schema so that field-checks can say it is not supported. */
    path_handling: Type.Optional(StringEnum(['v0', 'v1'], { default: 'v0' })),
    tags: Type.Optional(Tags),
    plugins: Type.Optional(Type.Array(PluginSchema, { default: [] })),
  },
  { additionalProperties: false },
);

export type RouteInput = Defaulted<
  Static<typeof RouteSchema>,
  | 'protocols'
  | 'strip_path'
  | 'preserve_host'
  | 'regex_priority'
  | 'https_redirect_status_code'
  | 'request_buffering'
  | 'response_buffering'
  | 'path_handling'
  | 'tags'
  | 'plugins'
>;
