/**
 * Runs one case of cases.ts against a proxy and judges it: the glue between the corpus, the
 * harness, the test file (Floodgate) and the report (Floodgate beside NGINX).
 */
import { CASES, type Case } from './cases';
import { exchange, outcomeOf, RecordingUpstream, sleep, SMUGGLED_MARKER, type Exchange, type Outcome, type RecordedRequest } from './harness';

export interface CaseRun {
  readonly exchange: Exchange;
  readonly upstream: readonly RecordedRequest[];
  readonly upstreamBytes: Buffer;
  readonly outcome: Outcome;
}

export interface Targets {
  readonly upstream: RecordingUpstream;
  /** A Floodgate config with one catch-all route to the recording upstream. */
  readonly gatewayConfig: string;
  close(): Promise<void>;
}

export async function startTargets(): Promise<Targets> {
  const upstream = new RecordingUpstream();
  await upstream.start();
  const gatewayConfig = `
_format_version: "3.0"
services:
  - name: recorder
    url: http://127.0.0.1:${upstream.port}
    routes:
      - name: everything
        paths: [/]
        strip_path: false
`;
  return { upstream, gatewayConfig, close: () => upstream.close() };
}

/** Time the upstream gets, after the client side is done, for bytes still on their way. */
const UPSTREAM_SETTLE_MS = 60;

export async function runCase(port: number, upstream: RecordingUpstream, c: Case): Promise<CaseRun> {
  upstream.reset();
  const parts = (typeof c.send === 'string' ? [c.send] : c.send).map((s) => Buffer.from(s, 'latin1'));
  const x = await exchange(port, parts, {
    expectResponses: Math.max(1, c.expect.statuses.length),
    waitMs: c.waitMs ?? 1500,
    partsAfterAnswers: c.partsBeforeAnswer !== true,
  });
  await sleep(UPSTREAM_SETTLE_MS);
  const upstreamBytes = upstream.bytes;
  return { exchange: x, upstream: upstream.requests.slice(), upstreamBytes, outcome: outcomeOf(x, upstreamBytes) };
}

/** What differs from the case's expectation; empty when it passes. */
export function verdict(c: Case, run: CaseRun): string[] {
  const problems: string[] = [];
  const e = c.expect;
  const x = run.exchange;
  const got = x.responses.map((r) => r.status);
  const statusOk =
    got.length === e.statuses.length &&
    e.statuses.every((want, i) => (typeof want === 'number' ? got[i] === want : want.includes(got[i])));
  if (!statusOk) problems.push(`statuses ${JSON.stringify(got)}, want ${JSON.stringify(e.statuses)}`);
  if (e.close) {
    if (!x.closed) problems.push('connection left open, want closed');
    const last = x.responses[x.responses.length - 1];
    // RFC 9112 §9.6: a refusal that closes says so. (A 2xx to `Connection: close` SHOULD, not MUST.)
    if (last !== undefined && last.status >= 400 && !last.close) problems.push('last answer lacks Connection: close');
  } else if (x.closed) {
    problems.push('connection closed, want it kept open');
  }
  const n = run.upstream.length;
  const [min, max] = typeof e.upstream === 'number' ? [e.upstream, e.upstream] : e.upstream;
  if (n < min || n > max) problems.push(`upstream got ${n} requests (${run.upstream.map((r) => `${r.method} ${r.target}`).join(', ')}), want ${min === max ? min : `${min}..${max}`}`);
  if (run.upstreamBytes.includes(SMUGGLED_MARKER)) problems.push('a smuggled request (or its bytes) reached the upstream');
  if (e.check !== undefined) {
    const r = e.check(run.upstream, x);
    if (r !== null) problems.push(r);
  }
  return problems;
}

export { CASES };
