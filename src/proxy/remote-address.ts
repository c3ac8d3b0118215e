/**
 * The client's address as text, from uWS. uWS's own getRemoteAddressAsText formats with
 * inet_ntop (an snprintf per IPv4 address) and hands back an ArrayBuffer to decode; for the
 * common IPv4 case the four bytes are formatted here from a table instead, which costs a third
 * of that (bench/micro/pipeline.ts, "remote address"). IPv6 (and IPv4-mapped IPv6 on a
 * dual-stack listener) keeps uWS's text, so the spelling is inet_ntop's either way.
 */
import type { HttpResponse } from './uws';

const OCTETS: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
const textDecoder = new TextDecoder();

export function remoteAddressText(res: HttpResponse): string {
  const raw = new Uint8Array(res.getRemoteAddress());
  if (raw.length === 4) return OCTETS[raw[0]] + '.' + OCTETS[raw[1]] + '.' + OCTETS[raw[2]] + '.' + OCTETS[raw[3]];
  return textDecoder.decode(res.getRemoteAddressAsText());
}
