import { Type, type Static } from '@sinclair/typebox';
import { CustomFieldsByLua, HostSchema, PortSchema } from '../tcp-log/schema';

export const SEVERITIES = ['debug', 'info', 'notice', 'warning', 'err', 'crit', 'alert', 'emerg'] as const;
export const FACILITIES = [
  'auth', 'authpriv', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

const severity = Type.Union(SEVERITIES.map((s) => Type.Literal(s)), { default: 'info' });

/**
 * Kong 3.9's syslog fields and defaults, plus where to send: Kong always writes to the local
 * syslog socket; `protocol`, `socket_path`, `host` and `port` are Floodgate's, and their defaults
 * do what Kong does.
 */
export const SyslogSchema = Type.Object(
  {
    /** Entries less severe than this are not sent. */
    log_level: severity,
    /** Severity of a 1xx-3xx response's entry. */
    successful_severity: severity,
    /** 4xx. */
    client_errors_severity: severity,
    /** 5xx. */
    server_errors_severity: severity,
    facility: Type.Union(FACILITIES.map((f) => Type.Literal(f)), { default: 'user' }),
    custom_fields_by_lua: CustomFieldsByLua,
    /** Floodgate: `unix` (the local syslog socket, as Kong), or a syslog server over `udp` or `tcp`. */
    protocol: Type.Union([Type.Literal('unix'), Type.Literal('udp'), Type.Literal('tcp')], { default: 'unix' }),
    /** Floodgate: the local syslog socket. */
    socket_path: Type.String({ minLength: 1, default: '/dev/log' }),
    /** Floodgate: the syslog server, for udp and tcp. */
    host: Type.Union([HostSchema, Type.Null()], { default: null }),
    port: Type.Union([PortSchema], { default: 514 }),
  },
  { additionalProperties: false },
);

export type SyslogConfig = Static<typeof SyslogSchema>;
