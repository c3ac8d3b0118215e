import { Type, type Static } from '@sinclair/typebox';

/** Kong's typedefs.host: a host name or an IP address, no scheme, no port. */
export const HostSchema = Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[0-9a-fA-F:]*:[0-9a-fA-F:.]*|[A-Za-z0-9._-]+)$', minLength: 1, errorMessage: 'must be a host name or an IP address' });
export const PortSchema = Type.Integer({ minimum: 0, maximum: 65535 });

/** Kong refuses nothing here, but Floodgate cannot run Lua: the field is accepted only as null. */
export const CustomFieldsByLua = Type.Null({
  default: null,
  errorMessage: 'custom_fields_by_lua runs Lua, which Floodgate cannot run; add the fields in a TypeScript plugin instead',
});

/** Kong 3.9's tcp-log fields and defaults. */
export const TcpLogSchema = Type.Object(
  {
    host: HostSchema,
    port: PortSchema,
    /** ms, for connecting and for each write. */
    timeout: Type.Number({ minimum: 0, default: 10_000 }),
    /** ms an idle connection is kept open for the next entries. */
    keepalive: Type.Number({ minimum: 0, default: 60_000 }),
    tls: Type.Boolean({ default: false }),
    tls_sni: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
    custom_fields_by_lua: CustomFieldsByLua,
  },
  { additionalProperties: false },
);

export type TcpLogConfig = Static<typeof TcpLogSchema>;
