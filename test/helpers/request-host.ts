/**
 * What a RequestContext needs from its server, for unit tests that build contexts without a
 * listener: no body limit, a silent logger, an idle, non-draining server.
 */
import type { RequestHost } from '../../src/proxy/request-context';
import type { Snapshot } from '../../src/proxy/snapshot';
import { ForwardedParts } from '../../src/proxy/upstream-request';

/** `requestIdHeader`: the --request-id-header the server would have ('' = off). */
export function stubRequestHost(requestIdHeader: string): RequestHost {
  return {
    settings: { maxBodyBytes: 0 },
    logger: { error() {} },
    forwarded: new ForwardedParts('http', 8000, requestIdHeader),
    requestIdHeader,
    draining: false,
    inFlight: 0,
    deferHead() {},
    requestFinished() {},
  } as unknown as RequestHost;
}

/** A snapshot with nothing a context reads before routing. */
export const EMPTY_SNAPSHOT = { version: 1, redaction: null } as unknown as Snapshot;
