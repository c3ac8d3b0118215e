/**
 * `policy: local`: the limits are counted in the node-wide shared table (shared-table.ts), so
 * every worker thread of the node sees the same counts. Synchronous: no await, no message.
 *
 * Several windows (say `second: 5, minute: 100`): each window is reserved in turn; when one
 * refuses, the reservations already made are given back and the remaining windows are only read,
 * so the headers show Kong's numbers. A concurrent request can briefly see a reservation that is
 * then given back (it may be refused while the other is too): the table never admits more than a
 * limit, it can only, at that instant, admit one less.
 */
import type { Algorithm, LimitSpec, UsageReport } from './limits';
import type { SharedCounterTable } from './shared-table';

export class LocalPolicy {
  readonly #table: SharedCounterTable;
  readonly #specs: readonly LimitSpec[];
  readonly #algorithm: Algorithm;

  constructor(table: SharedCounterTable, specs: readonly LimitSpec[], algorithm: Algorithm) {
    this.#table = table;
    this.#specs = specs;
    this.#algorithm = algorithm;
  }

  /** Count one request for `identifier` at `nowMs`; fills `report`; true when admitted. */
  check(identifier: string, nowMs: number, report: UsageReport): boolean {
    const specs = this.#specs;
    const nowSec = Math.floor(nowMs / 1000);
    report.stopped = -1;
    for (let i = 0; i < specs.length; i++) {
      const cost = report.stopped === -1 ? 1 : 0; // after a refusal: read only
      if (!this.#hit(specs[i], identifier, nowMs, nowSec, cost, report, i) && report.stopped === -1) {
        report.stopped = i;
        for (let j = 0; j < i; j++) this.#undo(specs[j], report, j);
      }
    }
    return report.stopped === -1;
  }

  #hit(spec: LimitSpec, identifier: string, nowMs: number, nowSec: number, cost: number, report: UsageReport, i: number): boolean {
    const table = this.#table;
    const hasher = spec.hasher;
    const clock = spec.clock;
    hasher.hash(identifier);
    clock.at(nowSec);
    const reset = Math.max(1, clock.end - nowSec);
    let ok: boolean;
    switch (this.#algorithm) {
      case 'fixed':
        ok = table.fixedHit(hasher.a, hasher.b, clock.start, clock.end, spec.limit, cost, nowSec);
        report.remaining[i] = Math.max(0, spec.limit - table.count);
        report.reset[i] = reset;
        return ok;
      case 'sliding': {
        // The part of the previous window still inside a window-long span ending now.
        const prevWeight = Math.max(0, 1 - (nowMs / 1000 - clock.start) / clock.length);
        ok = table.slidingHit(hasher.a, hasher.b, clock.start, clock.prevStart, clock.nextEnd, spec.limit, cost, prevWeight, nowSec);
        report.remaining[i] = Math.max(0, spec.limit - table.count);
        report.reset[i] = reset;
        return ok;
      }
      default: {
        const perMs = spec.limit / (clock.length * 1000);
        ok = table.takeTokens(hasher.a, hasher.b, spec.capacity, perMs, cost, nowMs, nowSec);
        const tokens = table.tokens;
        report.remaining[i] = Math.floor(tokens);
        // Refused: when one token is back. Admitted: when the bucket is full again.
        const missing = ok ? spec.capacity - tokens : 1 - tokens;
        report.reset[i] = Math.max(1, Math.ceil(missing / perMs / 1000));
        return ok;
      }
    }
  }

  #undo(spec: LimitSpec, report: UsageReport, i: number): void {
    const hasher = spec.hasher;
    // The hasher of spec j last hashed this identifier (same request), so a and b are current.
    if (this.#algorithm === 'token_bucket') {
      this.#table.returnTokens(hasher.a, hasher.b, spec.capacity, 1);
      report.remaining[i] = Math.min(spec.capacity, report.remaining[i] + 1);
    } else {
      this.#table.undoHit(hasher.a, hasher.b, spec.clock.start, 1);
      report.remaining[i] = Math.min(spec.limit, report.remaining[i] + 1);
    }
  }
}
