import { Type, type Static } from '@sinclair/typebox';

/** Kong's grpc-web fields and defaults. */
export const GrpcWebSchema = Type.Object(
  {
    /** A `.proto` file describing the service: needed to transcode JSON requests (path relative to the working directory). */
    proto: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    /** Send the path as the route's strip_path and the service's path made it, instead of the client's path. */
    pass_stripped_path: Type.Union([Type.Boolean(), Type.Null()], { default: null }),
    /** Access-Control-Allow-Origin on every answer; null sends none. */
    allow_origin_header: Type.Union([Type.String(), Type.Null()], { default: '*' }),
  },
  { additionalProperties: false },
);

export type GrpcWebConfig = Static<typeof GrpcWebSchema>;
