/**
 * The primary's merge of route cells from every worker (and from workers that died: their last
 * scraped counts are folded into a "retired" aggregate, so a crash does not make a counter go
 * backwards; only what the dead worker counted after its last scrape is lost).
 */
import type { JsHistogram } from 'hdr-histogram-js';
import { addSparse, newLatencyHistogram } from './latency-histogram';
import type { CodeCounts, RouteCellSnapshot } from './snapshot-types';

export class MergedCell {
  readonly key: string;
  service: string;
  route: string;
  readonly codes = new Map<number, number>();
  consumers: Map<string, Map<number, number>> | null = null;
  bytesIn = 0;
  bytesOut = 0;
  readonly total: JsHistogram = newLatencyHistogram();
  readonly upstream: JsHistogram = newLatencyHistogram();
  readonly gateway: JsHistogram = newLatencyHistogram();
  /** Exact sums in µs: total, upstream, gateway. */
  readonly sumsUs: [number, number, number] = [0, 0, 0];

  constructor(key: string, service: string, route: string) {
    this.key = key;
    this.service = service;
    this.route = route;
  }
}

function addCodes(into: Map<number, number>, pairs: CodeCounts | Map<number, number>): void {
  for (const [code, n] of pairs) into.set(code, (into.get(code) ?? 0) + n);
}

export class RouteAggregate {
  readonly cells = new Map<string, MergedCell>();

  #cell(key: string, service: string, route: string): MergedCell {
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = new MergedCell(key, service, route);
      this.cells.set(key, cell);
    }
    return cell;
  }

  addSnapshot(s: RouteCellSnapshot): void {
    const cell = this.#cell(s.key, s.service, s.route);
    addCodes(cell.codes, s.codes);
    if (s.consumers !== null) {
      const consumers = (cell.consumers ??= new Map());
      for (const [consumer, pairs] of s.consumers) {
        let counts = consumers.get(consumer);
        if (counts === undefined) consumers.set(consumer, (counts = new Map()));
        addCodes(counts, pairs);
      }
    }
    cell.bytesIn += s.bytesIn;
    cell.bytesOut += s.bytesOut;
    addSparse(cell.total, s.total);
    addSparse(cell.upstream, s.upstream);
    addSparse(cell.gateway, s.gateway);
    for (let i = 0; i < 3; i++) cell.sumsUs[i] += s.sumsUs[i];
  }

  /** Adds `other`'s cells whose key this aggregate already has (routes that still exist). */
  addKnownFrom(other: RouteAggregate): void {
    for (const [key, src] of other.cells) {
      const cell = this.cells.get(key);
      if (cell === undefined) continue;
      addCodes(cell.codes, src.codes);
      if (src.consumers !== null) {
        const consumers = (cell.consumers ??= new Map());
        for (const [consumer, counts] of src.consumers) {
          let into = consumers.get(consumer);
          if (into === undefined) consumers.set(consumer, (into = new Map()));
          addCodes(into, counts);
        }
      }
      cell.bytesIn += src.bytesIn;
      cell.bytesOut += src.bytesOut;
      cell.total.add(src.total);
      cell.upstream.add(src.upstream);
      cell.gateway.add(src.gateway);
      for (let i = 0; i < 3; i++) cell.sumsUs[i] += src.sumsUs[i];
    }
  }

  /** Drops cells whose key is not in `keep` (routes removed since), so memory stays bounded. */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const key of this.cells.keys()) if (!keep.has(key)) this.cells.delete(key);
  }
}
