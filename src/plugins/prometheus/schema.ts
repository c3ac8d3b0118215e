import { Type, type Static } from '@sinclair/typebox';

/**
 * Kong 3.9's prometheus fields and defaults (every switch off, as in Kong). `ai_metrics` is
 * accepted for compatibility; Floodgate has no AI plugins, so it never has anything to export.
 */
export const PrometheusSchema = Type.Object(
  {
    per_consumer: Type.Boolean({ default: false }),
    status_code_metrics: Type.Boolean({ default: false }),
    ai_metrics: Type.Boolean({ default: false }),
    latency_metrics: Type.Boolean({ default: false }),
    bandwidth_metrics: Type.Boolean({ default: false }),
    upstream_health_metrics: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);

export type PrometheusConfig = Static<typeof PrometheusSchema>;
