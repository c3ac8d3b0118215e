/**
 * Kong's rate-limiting windows, aligned as Kong aligns them (kong/tools/timestamp.lua): a second,
 * minute, hour or day starts on its UTC boundary; a month on the 1st, a year on January 1st (UTC).
 * So month and year windows have calendar lengths, and every node and worker agrees on which
 * window a moment belongs to without talking to the others.
 */

export const WINDOW_NAMES = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const;
export type WindowName = (typeof WINDOW_NAMES)[number];

/** Header suffixes as Kong writes them: X-RateLimit-Limit-Minute. */
export const WINDOW_TITLES: Readonly<Record<WindowName, string>> = {
  second: 'Second',
  minute: 'Minute',
  hour: 'Hour',
  day: 'Day',
  month: 'Month',
  year: 'Year',
};

const FIXED_SECONDS: Readonly<Record<WindowName, number>> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86_400,
  month: 0,
  year: 0,
};

/**
 * The current window of one kind, recomputed only when the clock leaves it (month and year need
 * Date arithmetic; the hot path should not). All times in unix seconds.
 */
export class WindowClock {
  readonly name: WindowName;
  /** Start of the current window. */
  start = 0;
  /** Start of the previous window (sliding window). */
  prevStart = 0;
  /** End of the current window (exclusive) = start of the next one. */
  end = 0;
  /** End of the next window: how long a sliding-window entry stays useful. */
  nextEnd = 0;

  constructor(name: WindowName) {
    this.name = name;
  }

  /** Length of the current window in seconds. */
  get length(): number {
    return this.end - this.start;
  }

  /** Move to the window holding `nowSec` if the clock has left the current one. */
  at(nowSec: number): void {
    if (nowSec >= this.start && nowSec < this.end) return;
    const fixed = FIXED_SECONDS[this.name];
    if (fixed !== 0) {
      this.start = nowSec - (nowSec % fixed);
      this.prevStart = this.start - fixed;
      this.end = this.start + fixed;
      this.nextEnd = this.end + fixed;
      return;
    }
    const d = new Date(nowSec * 1000);
    const y = d.getUTCFullYear();
    if (this.name === 'month') {
      const m = d.getUTCMonth();
      this.start = Date.UTC(y, m, 1) / 1000;
      this.prevStart = Date.UTC(y, m - 1, 1) / 1000;
      this.end = Date.UTC(y, m + 1, 1) / 1000;
      this.nextEnd = Date.UTC(y, m + 2, 1) / 1000;
    } else {
      this.start = Date.UTC(y, 0, 1) / 1000;
      this.prevStart = Date.UTC(y - 1, 0, 1) / 1000;
      this.end = Date.UTC(y + 1, 0, 1) / 1000;
      this.nextEnd = Date.UTC(y + 2, 0, 1) / 1000;
    }
  }
}
