import { Type, type Static } from '@sinclair/typebox';
import { KONG_QUEUE_DEFAULTS, type BatchQueueOptions } from './batch-queue';

/** Kong's `queue` record (kong.tools.queue_schema), durations in seconds as in Kong. */
export const QueueSchema = Type.Object(
  {
    max_batch_size: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
    max_coalescing_delay: Type.Number({ minimum: 0, maximum: 3600, default: 1 }),
    max_entries: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
    /** Kong accepts it; Floodgate bounds by entries only, so it must stay null. */
    max_bytes: Type.Null({ default: null }),
    max_retry_time: Type.Number({ minimum: 0, default: 60 }),
    initial_retry_delay: Type.Number({ minimum: 0.001, maximum: 1_000_000, default: 0.01 }),
    max_retry_delay: Type.Number({ minimum: 0.001, maximum: 1_000_000, default: 60 }),
    /** Kong's; only `1` (one batch in flight) is supported. */
    concurrency_limit: Type.Literal(1, { default: 1 }),
  },
  { additionalProperties: false, default: {} },
);

export type QueueConfig = Static<typeof QueueSchema>;

export function queueOptions(q: QueueConfig | undefined, overrides: Partial<BatchQueueOptions> = {}): BatchQueueOptions {
  if (q === undefined) return { ...KONG_QUEUE_DEFAULTS, ...overrides };
  return {
    maxBatchSize: q.max_batch_size,
    maxCoalescingDelayMs: q.max_coalescing_delay * 1000,
    maxEntries: q.max_entries,
    maxRetryTimeMs: q.max_retry_time * 1000,
    initialRetryDelayMs: q.initial_retry_delay * 1000,
    maxRetryDelayMs: q.max_retry_delay * 1000,
    ...overrides,
  };
}
