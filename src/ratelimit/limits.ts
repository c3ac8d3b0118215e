/**
 * What one configured limit is made of, and the per-request usage report both policies fill:
 * built once per plugin instance, so the hot path only reads prepared fields.
 */
import { KeyHasher } from './key-hash';
import { WINDOW_TITLES, WindowClock, type WindowName } from './windows';

export type Algorithm = 'fixed' | 'sliding' | 'token_bucket';

/** One window of one plugin: `minute: 100` with its key seed, clock and header names. */
export class LimitSpec {
  readonly window: WindowName;
  readonly limit: number;
  /** Token bucket capacity (`burst`, else the limit). */
  readonly capacity: number;
  /** Identifies the limit across reloads and threads: scope + window + limit_by + algorithm. */
  readonly limitKey: string;
  readonly hasher: KeyHasher;
  readonly clock: WindowClock;
  readonly limitHeader: string;
  readonly remainingHeader: string;
  readonly limitText: string;

  constructor(window: WindowName, limit: number, burst: number | null, limitKey: string) {
    this.window = window;
    this.limit = limit;
    this.capacity = burst ?? limit;
    this.limitKey = limitKey;
    this.hasher = new KeyHasher(limitKey);
    this.clock = new WindowClock(window);
    this.limitHeader = `X-RateLimit-Limit-${WINDOW_TITLES[window]}`;
    this.remainingHeader = `X-RateLimit-Remaining-${WINDOW_TITLES[window]}`;
    this.limitText = String(limit);
  }
}

/**
 * The outcome of one check, per window (same order as the plugin's specs): what remains and when
 * it resets (seconds, at least 1). `stopped` is the index of the window that refused, or -1.
 */
export class UsageReport {
  stopped = -1;
  readonly remaining: number[];
  readonly reset: number[];

  constructor(windows: number) {
    this.remaining = new Array<number>(windows).fill(0);
    this.reset = new Array<number>(windows).fill(1);
  }
}
