/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for one gateway hop.
 *
 * Incoming `traceparent` is parsed and validated: version `00` (a higher version is read by its
 * version-00 prefix, as the spec asks), 32-hex trace id and 16-hex parent id, neither all zeros,
 * 2-hex flags. A missing or invalid header starts a new trace (and drops `tracestate`, which
 * belongs to the trace we could not read). `tracestate` of a valid parent is forwarded untouched.
 *
 * The gateway's hop is two spans, as Kong's: the server span (`spanId`, child of the client's
 * span) and the upstream call (`upstreamSpanId`, child of the server span). The upstream receives
 * `traceparent` with the upstream-call span as its parent.
 */
import { newSpanId, newTraceId } from './random-ids';

export class TraceContext {
  readonly traceId: string;
  /** The caller's span id from its traceparent; '' when this hop started the trace. */
  readonly parentSpanId: string;
  /** The gateway's span for the upstream call: the parent the upstream sees. */
  readonly upstreamSpanId: string;
  /** Trace flags byte (bit 0 = sampled). */
  readonly flags: number;
  /** The caller's tracestate when its traceparent was valid; '' otherwise. */
  readonly tracestate: string;

  constructor(traceId: string, parentSpanId: string, flags: number, tracestate: string) {
    this.traceId = traceId;
    this.parentSpanId = parentSpanId;
    this.upstreamSpanId = newSpanId();
    this.flags = flags;
    this.tracestate = tracestate;
  }

  #spanId = '';

  /**
   * The gateway's server span, made on first use: only span exporters (opentelemetry) read it,
   * so a request without one never pays for the id.
   */
  get spanId(): string {
    if (this.#spanId === '') this.#spanId = newSpanId();
    return this.#spanId;
  }

  get sampled(): boolean {
    return (this.flags & 1) === 1;
  }

  /** True when the caller sent a valid traceparent (this hop continues its trace). */
  get continued(): boolean {
    return this.parentSpanId !== '';
  }

  /** The header sent upstream: same trace, our upstream-call span as parent, caller's flags. */
  upstreamTraceparent(): string {
    return '00-' + this.traceId + '-' + this.upstreamSpanId + (this.flags & 1 ? '-01' : '-00');
  }

  /** Continue the caller's trace, or start one (sampled) when the header is absent or invalid. */
  static from(traceparent: string | undefined, tracestate: string | undefined): TraceContext {
    if (traceparent !== undefined && traceparent !== '') {
      const parsed = parseTraceparent(traceparent);
      if (parsed !== null) return new TraceContext(parsed.traceId, parsed.parentId, parsed.flags, tracestate ?? '');
    }
    return new TraceContext(newTraceId(), '', 1, '');
  }
}

export interface ParsedTraceparent {
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: number;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** `version-traceid-parentid-flags`; `null` when the header must be ignored. */
export function parseTraceparent(value: string): ParsedTraceparent | null {
  const v = value.trim();
  if (v.length < 55) return null;
  const version = v.slice(0, 2);
  if (!isLowerHex(version, 0, 2) || version === 'ff') return null;
  // Version 00 is exactly 55 characters; a future version may append fields after a dash.
  if (version === '00' ? v.length !== 55 : v.length > 55 && v.charCodeAt(55) !== 45 /* - */) return null;
  if (v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) return null;
  if (!isLowerHex(v, 3, 35) || !isLowerHex(v, 36, 52) || !isLowerHex(v, 53, 55)) return null;
  const traceId = v.slice(3, 35);
  const parentId = v.slice(36, 52);
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return null;
  return { traceId, parentId, flags: parseInt(v.slice(53, 55), 16) };
}

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
