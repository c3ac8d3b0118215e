import { Type, type Static } from '@sinclair/typebox';

/**
 * concurrency-limit (a Floodgate plugin; Kong has no equivalent): at most `max_concurrent`
 * requests of the plugin's scope (route, service, or global) in progress per worker, with a
 * bounded FIFO wait of `max_queue` requests for at most `queue_timeout` ms; past that, 503.
 */
export const ConcurrencyLimitSchema = Type.Object(
  {
    /** Requests in progress at once, per worker (node-wide: times the workers). */
    max_concurrent: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /** Requests that may wait for a slot; 0 = refuse at once when all slots are taken. */
    max_queue: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
    /** Longest wait for a slot, in milliseconds (as Kong's other timeouts). */
    queue_timeout: Type.Integer({ minimum: 1, maximum: 600_000, default: 1000 }),
    /** Seconds in the Retry-After header of the 503. */
    retry_after: Type.Integer({ minimum: 0, maximum: 3600, default: 1 }),
  },
  { additionalProperties: false },
);

export type ConcurrencyLimitConfig = Static<typeof ConcurrencyLimitSchema>;
