/**
 * An upstream exchange's handler for engine-level tests: records the status, the body (latin1)
 * and any failure, and resolves `done` when the exchange ends either way.
 */
import type { ExchangeHandler } from '../../src/upstream/exchange';
import type { Failure } from '../../src/upstream/failures';
import type { ResponseHead } from '../../src/upstream/response-head';

export class ExchangeRecorder implements ExchangeHandler {
  status = 0;
  body = '';
  failure: Failure | 0 = 0;
  detail = '';
  readonly done: Promise<void>;
  #resolve!: () => void;
  constructor() {
    this.done = new Promise((r) => (this.#resolve = r));
  }
  onResponseHead(head: ResponseHead): void {
    this.status = head.status;
  }
  onResponseData(chunk: Buffer): boolean {
    this.body += chunk.toString('latin1');
    return true;
  }
  onResponseEnd(): void {
    this.#resolve();
  }
  onExchangeFailed(failure: Failure, detail: string): void {
    this.failure = failure;
    this.detail = detail;
    this.#resolve();
  }
}
