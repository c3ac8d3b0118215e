import { Type, type Static } from '@sinclair/typebox';

/** Kong's file-log fields; custom_fields_by_lua has no equivalent. */
export const FileLogSchema = Type.Object(
  {
    /** Kong's pattern: a file path of safe characters. */
    path: Type.String({ pattern: '^[^\\x00*&%\\\\`]+$', minLength: 1, errorMessage: 'path must be a file path without *, &, %, \\ or `' }),
    /** Open the file for each write batch (Kong: on every request) instead of keeping it open. */
    reopen: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type FileLogConfig = Static<typeof FileLogSchema>;
