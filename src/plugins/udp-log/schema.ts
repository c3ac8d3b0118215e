import { Type, type Static } from '@sinclair/typebox';
import { CustomFieldsByLua, HostSchema, PortSchema } from '../tcp-log/schema';

/** Kong 3.9's udp-log fields and defaults. */
export const UdpLogSchema = Type.Object(
  {
    host: HostSchema,
    port: PortSchema,
    /** ms a datagram may take to leave (DNS lookup included). */
    timeout: Type.Number({ minimum: 0, default: 10_000 }),
    custom_fields_by_lua: CustomFieldsByLua,
  },
  { additionalProperties: false },
);

export type UdpLogConfig = Static<typeof UdpLogSchema>;
