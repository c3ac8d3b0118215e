/**
 * A downstream writer for tests and micro-benchmarks of the response head alone
 * (DownstreamResponse.writeUpstreamHead): the stages around it (local replies, the upstream
 * attempt, the request's end) are stubs. Subclasses say how the head is written.
 */
import { DownstreamResponse } from '../../src/proxy/downstream';

export abstract class HeadOnlyResponse extends DownstreamResponse {
  writeLocalReply(): void {}
  protected get closeAfterResponse(): boolean {
    return false;
  }
  protected responseEnded(): void {}
  protected cancelUpstream(): void {}
  protected resumeUpstream(): void {}
}
