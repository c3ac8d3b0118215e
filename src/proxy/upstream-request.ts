/**
 * The header list of the request sent upstream, built once per request (a retry reuses it):
 * the client's headers minus hop-by-hop and proxy-rebuilt ones, Kong's X-Forwarded-* set, the
 * trace context and request id, then the plugins' additions.
 *
 * What does not depend on the request is decided once per listener (ForwardedParts): the proto,
 * the port string, the Via token, the request-id header. Request header names are classified by
 * the byte table in headers.ts, so a forwarded name costs one array read, not a hash lookup.
 */
import type { TraceContext } from '../tracing/trace-context';
import { connectionTokens, isDroppedRequestHeader } from './headers';
import { hasControlCharacter, headerValueOnWire } from '../upstream/exchange';
import { escapePath } from '../router/normalize';
import type { DownstreamHead } from './request-head';

/** The per-listener parts of X-Forwarded-* and Via, fixed when the server starts. */
export class ForwardedParts {
  readonly proto: string;
  readonly port: string;
  /** Our own Via token, and the suffix appended to a client's Via. */
  readonly via: string;
  readonly viaSuffix: string;
  /** --request-id-header, lower-case; '' = none. */
  readonly requestIdHeader: string;

  constructor(proto: 'http' | 'https', port: number, requestIdHeader: string) {
    this.proto = proto;
    this.port = String(port);
    this.via = '1.1 floodgate';
    this.viaSuffix = ', ' + this.via;
    this.requestIdHeader = requestIdHeader;
  }
}

/**
 * `host`: the Host header to send (the target's, or the client's with preserve_host);
 * `strippedPrefix`: how many bytes of the path strip_path removed (0: none);
 * `removals`/`additions`: the plugins' edits before dispatch (lower-case names; additions flat).
 */
export function buildUpstreamHeaders(
  head: DownstreamHead,
  host: string,
  strippedPrefix: number,
  trace: TraceContext | null,
  requestId: string,
  parts: ForwardedParts,
  removals: readonly string[] | null,
  additions: readonly string[] | null,
): string[] {
  const names = head.headerNames;
  const values = head.headerValues;
  const extraHopByHop = connectionTokens(head.connection);
  const out: string[] = ['host', host];
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (isDroppedRequestHeader(name)) continue;
    if (extraHopByHop !== null && extraHopByHop.includes(name)) continue;
    if (removals !== null && removals.includes(name)) continue;
    out.push(name, values[i]);
  }
  const client = head.remoteAddress;
  out.push(
    'x-forwarded-for', head.xForwardedFor === '' ? client : head.xForwardedFor + ', ' + client,
    'x-forwarded-proto', parts.proto,
    'x-forwarded-host', head.host,
    'x-forwarded-port', parts.port,
    'x-forwarded-path', head.rawPath,
    'x-real-ip', client,
    'via', head.via === '' ? parts.via : head.via + parts.viaSuffix,
  );
  // Kong tells the upstream which prefix strip_path removed.
  if (strippedPrefix > 0) out.push('x-forwarded-prefix', forwardedPrefix(head.path.slice(0, strippedPrefix)));
  // Trace context and request id before plugin additions, so a plugin may still override them.
  if (trace !== null) {
    // The client's own traceparent (and, for a restarted trace, its tracestate: W3C 3.3.1) is
    // replaced; without one, a push instead of a scan of the list.
    if (head.traceparent === '') out.push('traceparent', trace.upstreamTraceparent());
    else setFlat(out, 'traceparent', trace.upstreamTraceparent());
    if (!trace.continued && head.tracestate !== '') removeFlat(out, 'tracestate');
  }
  if (requestId !== '') setFlat(out, parts.requestIdHeader, requestId);
  // The engine writes header strings as latin1 and trusts this list (exchange.prepare
  // `validated`): a value with bytes >= 0x80, which uWS decoded as UTF-8 (a client header, or the
  // raw path in X-Forwarded-Path), goes out as those same UTF-8 bytes (`café` stays c3 a9), as
  // NGINX passes them. Plugin additions are already in wire form (setUpstreamHeader): after this.
  if (head.nonAsciiValues || NON_ASCII.test(head.rawPath) || (strippedPrefix > 0 && NON_ASCII.test(head.path))) utf8EncodeWideValues(out);
  // mTLS: the verified client certificate as Envoy's XFCC (a client's own copy was dropped above),
  // in wire form; a subject with a control character in it is not sent at all.
  if (head.clientCertificate !== null && head.clientCertificate.forwardedHeader !== '') {
    const xfcc = headerValueOnWire(head.clientCertificate.forwardedHeader);
    if (xfcc !== null) out.push('x-forwarded-client-cert', xfcc);
  }
  if (additions !== null) for (let i = 0; i < additions.length; i += 2) setFlat(out, additions[i], additions[i + 1]);
  return out;
}

function setFlat(out: string[], name: string, value: string): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] === name) {
      out[i + 1] = value;
      return;
    }
  }
  out.push(name, value);
}

function removeFlat(out: string[], name: string): void {
  for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === name) out.splice(i, 2);
}

/**
 * The prefix strip_path removed, as X-Forwarded-Prefix. It comes from the normalized (decoded)
 * path, where a regex route may have matched a decoded `%0A`: such a prefix goes percent-encoded,
 * as the upstream target does, never as a raw control character.
 */
function forwardedPrefix(prefix: string): string {
  return hasControlCharacter(prefix) ? escapePath(prefix) : prefix;
}

/** Re-encode values holding characters above U+007F as latin1 strings of their UTF-8 bytes. */
function utf8EncodeWideValues(flat: string[]): void {
  for (let i = 1; i < flat.length; i += 2) {
    if (NON_ASCII.test(flat[i])) flat[i] = Buffer.from(flat[i], 'utf8').toString('latin1');
  }
}

const NON_ASCII = /[^\x00-\x7f]/;
