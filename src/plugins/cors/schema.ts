import { Type, type Static } from '@sinclair/typebox';

/** The methods Kong's cors schema accepts, and its default for `methods`. */
export const CORS_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

const StringList = Type.Union([Type.Array(Type.String({ minLength: 1 })), Type.Null()], { default: null });

/** Kong's cors fields. Origin entries are checked when the plugin is created (regex syntax and safety). */
export const CorsSchema = Type.Object(
  {
    /** "*", exact origins, or regexes; null or empty: every origin. */
    origins: StringList,
    methods: Type.Array(Type.Union(CORS_METHODS.map((m) => Type.Literal(m))), { default: [...CORS_METHODS] }),
    /** Access-Control-Allow-Headers for preflights; null or empty: echo Access-Control-Request-Headers. */
    headers: StringList,
    exposed_headers: StringList,
    credentials: Type.Boolean({ default: false }),
    max_age: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { default: null }),
    /** Proxy preflight requests to the upstream instead of answering them. */
    preflight_continue: Type.Boolean({ default: false }),
    /** Answer Access-Control-Request-Private-Network: true with Access-Control-Allow-Private-Network: true. */
    private_network: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type CorsConfig = Static<typeof CorsSchema>;
