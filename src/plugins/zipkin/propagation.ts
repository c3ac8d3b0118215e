/**
 * Trace-context propagation formats, as Kong 3.9's zipkin plugin reads and writes them
 * (kong/observability/tracing/propagation): b3 (multi-header), b3-single, w3c, jaeger, ot, aws,
 * datadog and gcp. Written from the formats' specifications and Kong's observable behaviour.
 *
 * Ids are lower-case hex strings. An extracted trace id is widened to 16 bytes (32 hex, zero
 * padded on the left) as Kong does, and its original byte length is kept: an injector that allows
 * that length writes it back at that length, otherwise at its own first allowed length.
 */
import type { RequestHead } from '../api';

export type Format = 'b3' | 'b3-single' | 'w3c' | 'jaeger' | 'ot' | 'aws' | 'datadog' | 'gcp';
/** Formats that can be read (b3 covers both b3 forms). */
export type ExtractFormat = Exclude<Format, 'b3-single'>;

export const INJECT_FORMATS: readonly Format[] = ['b3', 'b3-single', 'w3c', 'jaeger', 'ot', 'aws', 'datadog', 'gcp'];
/** Kong's order when header_type picks the formats. */
export const EXTRACT_FORMATS: readonly ExtractFormat[] = ['b3', 'w3c', 'jaeger', 'ot', 'datadog', 'aws', 'gcp'];

/** What a request's headers said about its trace. Every field is optional, as in Kong. */
export interface Extracted {
  traceId: string | null;
  spanId: string | null;
  parentId: string | null;
  /** B3 and Jaeger share the span between client and server: the server reuses spanId. */
  reuseSpanId: boolean;
  shouldSample: boolean | null;
  /** B3 debug flag ("1"). */
  flags: string | null;
  /** The b3 context came from the single `b3` header. */
  singleHeader: boolean;
  baggage: [string, string][] | null;
  /** Byte length of the trace id as received (before widening). */
  traceIdOriginalSize: number;
}

/** What is written upstream: the proxy span's ids. */
export interface InjectContext {
  traceId: string;
  spanId: string;
  parentId: string | null;
  /** null: no decision to pass on (Kong then writes "0" or omits the flag, per format). */
  shouldSample: boolean | null;
  flags: string | null;
  baggage: [string, string][] | null;
  traceIdOriginalSize: number;
}

const HEX = /^[0-9a-fA-F]+$/;
const DEC = /^\s*(\d+)\s*$/;

function emptyExtracted(): Extracted {
  return { traceId: null, spanId: null, parentId: null, reuseSpanId: false, shouldSample: null, flags: null, singleHeader: false, baggage: null, traceIdOriginalSize: 0 };
}

/** Left-pad with zero bytes or keep the low-order bytes, as Kong's to_id_size does. */
export function toIdSize(hex: string, bytes: number): string {
  const chars = bytes * 2;
  if (hex.length === chars) return hex;
  if (hex.length > chars) return hex.slice(hex.length - chars);
  return '0'.repeat(chars - hex.length) + hex;
}

function evenHex(hex: string): string {
  const lower = hex.toLowerCase();
  return lower.length % 2 === 0 ? lower : '0' + lower;
}

function isZero(hex: string): boolean {
  for (let i = 0; i < hex.length; i++) if (hex.charCodeAt(i) !== 48) return false;
  return true;
}

function decToHex(dec: string): string | null {
  try {
    const n = BigInt(dec);
    if (n >= 1n << 128n) return null;
    return evenHex(n.toString(16));
  } catch {
    return null;
  }
}

function hexToDec(hex: string): string {
  return BigInt('0x' + hex).toString(10);
}

function baggageOf(head: RequestHead, prefix: string): [string, string][] | null {
  let out: [string, string][] | null = null;
  const names = head.headerNames;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name.length > prefix.length && name.startsWith(prefix)) {
      let value = head.headerValues[i];
      try {
        value = decodeURIComponent(value);
      } catch {
        // keep the raw value, as ngx.unescape_uri would leave a bad escape alone
      }
      (out ??= []).push([name.slice(prefix.length), value]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- extractors

const B3_SINGLE = /^([0-9a-fA-F]+)-([0-9a-fA-F]{16})-?([01d]?)-?([0-9a-fA-F]*)$/;

function readB3(head: RequestHead): Extracted | null {
  let single = head.header('b3');
  if (single === undefined) {
    const ts = head.header('tracestate');
    if (ts !== undefined && ts.startsWith('b3=')) single = ts.slice(3);
  }
  const sampledH = head.header('x-b3-sampled');
  const flagsH = head.header('x-b3-flags');
  const traceH = head.header('x-b3-traceid');
  const spanH = head.header('x-b3-spanid');
  const parentH = head.header('x-b3-parentspanid');
  if (single === undefined && sampledH === undefined && flagsH === undefined && traceH === undefined && spanH === undefined && parentH === undefined) return null;
  const out = emptyExtracted();
  out.reuseSpanId = true;
  let traceId: string | null = null;
  let spanId: string | null = null;
  let parentId: string | null = null;
  if (single !== undefined) {
    out.singleHeader = true;
    if (single === '1' || single === 'd') {
      out.shouldSample = true;
      if (single === 'd') out.flags = '1';
    } else if (single === '0') {
      out.shouldSample = false;
    } else {
      const m = B3_SINGLE.exec(single);
      if (m !== null && (m[1].length === 16 || m[1].length === 32) && (m[4] === '' || m[4].length === 16)) {
        if (m[3] === '1' || m[3] === 'd') {
          out.shouldSample = true;
          if (m[3] === 'd') out.flags = '1';
        } else if (m[3] === '0') out.shouldSample = false;
        traceId = m[1];
        spanId = m[2];
        parentId = m[4] === '' ? null : m[4];
      }
    }
  }
  let multiSample: boolean | null = null;
  if (sampledH === '1' || sampledH === 'true') multiSample = true;
  else if (sampledH === '0' || sampledH === 'false') multiSample = false;
  if (flagsH === '1') multiSample = true;
  if (out.shouldSample === null) out.shouldSample = multiSample;
  if (out.flags === null && flagsH !== undefined) out.flags = flagsH;
  const validTrace = traceH === undefined || ((traceH.length === 16 || traceH.length === 32) && HEX.test(traceH));
  const validSpan = spanH === undefined || (spanH.length === 16 && HEX.test(spanH));
  const validParent = parentH === undefined || (parentH.length === 16 && HEX.test(parentH));
  if (validTrace && validSpan && validParent) {
    traceId ??= traceH ?? null;
    spanId ??= spanH ?? null;
    parentId ??= parentH ?? null;
  }
  if (traceId === null) {
    spanId = null;
    parentId = null;
  }
  out.traceId = traceId;
  out.spanId = spanId;
  out.parentId = parentId;
  return out;
}

const W3C = /^([0-9a-fA-F]+)-([0-9a-fA-F]+)-([0-9a-fA-F]+)-([0-9a-fA-F]+)$/;

function readW3c(head: RequestHead): Extracted | null {
  const tp = head.header('traceparent');
  if (tp === undefined || tp === '') return null;
  const m = W3C.exec(tp);
  if (m === null || m[1] !== '00' || m[2].length !== 32 || isZero(m[2]) || m[3].length !== 16 || isZero(m[3]) || m[4].length !== 2) return null;
  const out = emptyExtracted();
  out.traceId = m[2];
  out.spanId = m[3];
  out.shouldSample = (parseInt(m[4], 16) & 1) === 1;
  return out;
}

const JAEGER = /^([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+)$/;

function readJaeger(head: RequestHead): Extracted | null {
  const h = head.header('uber-trace-id');
  if (h === undefined || h === '') return null;
  const m = JAEGER.exec(h);
  if (m === null || m[1].length > 32 || isZero(m[1]) || m[2].length > 16 || isZero(m[2]) || (m[4].length !== 1 && m[4].length !== 2)) return null;
  const out = emptyExtracted();
  out.reuseSpanId = true;
  out.traceId = evenHex(m[1]);
  out.spanId = evenHex(m[2]);
  out.parentId = isZero(m[3]) ? null : evenHex(m[3]);
  out.shouldSample = (parseInt(m[4], 16) & 1) === 1;
  out.baggage = baggageOf(head, 'uberctx-');
  return out;
}

function readOt(head: RequestHead): Extracted | null {
  const sampled = head.header('ot-tracer-sampled');
  const traceH = head.header('ot-tracer-traceid');
  const spanH = head.header('ot-tracer-spanid');
  if (sampled === undefined && traceH === undefined && spanH === undefined) return null;
  const out = emptyExtracted();
  if (sampled === '1' || sampled === 'true') out.shouldSample = true;
  else if (sampled === '0' || sampled === 'false') out.shouldSample = false;
  const validTrace = traceH === undefined || ((traceH.length === 16 || traceH.length === 32) && HEX.test(traceH));
  const validSpan = spanH === undefined || (spanH.length === 16 && HEX.test(spanH));
  if (traceH !== undefined && validTrace && validSpan) {
    out.traceId = traceH;
    out.spanId = spanH ?? null;
  }
  out.baggage = baggageOf(head, 'ot-baggage-');
  return out;
}

function readAws(head: RequestHead): Extracted | null {
  const h = head.header('x-amzn-trace-id');
  if (h === undefined) return null;
  const out = emptyExtracted();
  for (const pair of h.split(';')) {
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (key === 'Root') {
      const parts = value.split('-');
      if (value.length !== 35 || parts.length !== 3 || parts[0] !== '1' || parts[1].length !== 8 || parts[2].length !== 24 || !HEX.test(parts[1] + parts[2])) return null;
      out.traceId = parts[1] + parts[2];
    } else if (key === 'Parent') {
      if (value.length !== 16 || !HEX.test(value)) return null;
      out.spanId = value;
    } else if (key === 'Sampled') {
      if (value !== '0' && value !== '1') return null;
      out.shouldSample = value === '1';
    }
  }
  return out;
}

function readDatadog(head: RequestHead): Extracted | null {
  const prio = head.header('x-datadog-sampling-priority');
  const traceH = head.header('x-datadog-trace-id');
  const parentH = head.header('x-datadog-parent-id');
  if (prio === undefined && traceH === undefined && parentH === undefined) return null;
  const out = emptyExtracted();
  if (prio === '1' || prio === '2') out.shouldSample = true;
  else if (prio === '0' || prio === '-1') out.shouldSample = false;
  else if (prio !== undefined) return null;
  const t = traceH === undefined ? null : DEC.exec(traceH);
  const p = parentH === undefined ? null : DEC.exec(parentH);
  if (t !== null) {
    out.traceId = decToHex(t[1]);
    if (p !== null && out.traceId !== null) out.spanId = decToHex(p[1]);
  }
  return out;
}

const GCP = /^([0-9a-f]{32})\/([0-9]{1,20})(?:;o=([0-9]))?$/;

function readGcp(head: RequestHead): Extracted | null {
  const h = head.header('x-cloud-trace-context');
  if (h === undefined) return null;
  const m = GCP.exec(h);
  if (m === null) return null;
  const out = emptyExtracted();
  out.traceId = m[1];
  out.spanId = decToHex(m[2]);
  out.shouldSample = m[3] === '1';
  return out;
}

const READERS: Record<ExtractFormat, (head: RequestHead) => Extracted | null> = {
  b3: readB3,
  w3c: readW3c,
  jaeger: readJaeger,
  ot: readOt,
  aws: readAws,
  datadog: readDatadog,
  gcp: readGcp,
};

/**
 * The first format in `order` whose headers carry something (ids, a sampling decision or flags).
 * Kong stops at the first format with any of its headers present, even one carrying nothing
 * usable (a lone `tracestate` counts as b3 there); Floodgate moves on to the next format instead,
 * so a W3C request with a tracestate keeps its trace.
 */
export function extract(head: RequestHead, order: readonly ExtractFormat[]): { format: ExtractFormat; ctx: Extracted } | null {
  for (const format of order) {
    const ctx = READERS[format](head);
    if (ctx === null) continue;
    if (ctx.traceId === null && ctx.shouldSample === null && ctx.flags === null) continue;
    if (ctx.traceId !== null) {
      ctx.traceIdOriginalSize = evenHex(ctx.traceId).length / 2;
      ctx.traceId = toIdSize(evenHex(ctx.traceId), 16);
    }
    if (ctx.spanId !== null) ctx.spanId = toIdSize(evenHex(ctx.spanId), 8);
    if (ctx.parentId !== null) ctx.parentId = toIdSize(evenHex(ctx.parentId), 8);
    return { format, ctx };
  }
  return null;
}

// ---------------------------------------------------------------- injectors

/** Trace id lengths (bytes) each format allows, the first being its default. */
const TRACE_ID_SIZES: Record<Format, readonly number[]> = {
  b3: [16, 8],
  'b3-single': [16, 8],
  w3c: [16],
  jaeger: [16, 8],
  ot: [8, 16],
  aws: [16],
  datadog: [8],
  gcp: [16],
};

function escapeBaggage(v: string): string {
  return encodeURIComponent(v);
}

/** Headers (flat name, value pairs) that carry `c` in `format`. */
export function inject(format: Format, c: InjectContext): string[] {
  const sizes = TRACE_ID_SIZES[format];
  const traceId = toIdSize(c.traceId, sizes.includes(c.traceIdOriginalSize) ? c.traceIdOriginalSize : sizes[0]);
  const spanId = toIdSize(c.spanId, 8);
  const parentId = c.parentId === null ? null : toIdSize(c.parentId, 8);
  const out: string[] = [];
  switch (format) {
    case 'b3':
      out.push('x-b3-traceid', traceId, 'x-b3-spanid', spanId);
      if (parentId !== null) out.push('x-b3-parentspanid', parentId);
      if (c.flags !== null) out.push('x-b3-flags', c.flags);
      else out.push('x-b3-sampled', c.shouldSample === true ? '1' : '0');
      break;
    case 'b3-single': {
      const sampled = c.flags === '1' ? 'd' : c.shouldSample === true ? '1' : c.shouldSample === false ? '0' : '';
      out.push('b3', traceId + '-' + spanId + (sampled === '' ? '' : '-' + sampled) + (parentId === null ? '' : '-' + parentId));
      break;
    }
    case 'w3c':
      out.push('traceparent', '00-' + traceId + '-' + spanId + (c.shouldSample === true ? '-01' : '-00'));
      break;
    case 'jaeger':
      out.push('uber-trace-id', traceId + ':' + spanId + ':' + (parentId ?? '0') + ':' + (c.shouldSample === true ? '01' : '00'));
      if (c.baggage !== null) for (const [k, v] of c.baggage) out.push('uberctx-' + k, escapeBaggage(v));
      break;
    case 'ot':
      out.push('ot-tracer-traceid', traceId, 'ot-tracer-spanid', spanId);
      if (c.shouldSample !== null) out.push('ot-tracer-sampled', c.shouldSample ? '1' : '0');
      if (c.baggage !== null) for (const [k, v] of c.baggage) out.push('ot-baggage-' + k, escapeBaggage(v));
      break;
    case 'aws':
      out.push('x-amzn-trace-id', 'Root=1-' + traceId.slice(0, 8) + '-' + traceId.slice(8) + ';Parent=' + spanId + ';Sampled=' + (c.shouldSample === true ? '1' : '0'));
      break;
    case 'datadog':
      out.push('x-datadog-trace-id', hexToDec(traceId), 'x-datadog-parent-id', hexToDec(spanId));
      if (c.shouldSample !== null) out.push('x-datadog-sampling-priority', c.shouldSample ? '1' : '0');
      break;
    case 'gcp':
      out.push('x-cloud-trace-context', traceId + '/' + hexToDec(spanId) + ';o=' + (c.shouldSample === true ? '1' : '0'));
      break;
  }
  return out;
}
