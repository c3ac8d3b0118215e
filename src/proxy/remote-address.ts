/**
 * The client's address as text, from uWS, once per connection.
 *
 * uWS.js v20.57's getRemoteAddress() calls getpeername(2) every time: one of the five syscalls of
 * a proxied keep-alive request, worth ~8 % of a tiny GET's throughput here (README
 * "Performance"). uWS gives JavaScript no connection identity, so the addon reads one
 * (`nativeUwsSocketKey`: the connection's native socket pointer, which every response object of
 * that connection carries) and `PeerAddresses` keeps each connection's text by it:
 *
 * - uWS's connection filter calls `onFilter(res, +1)` when a connection opens, before its first
 *   request is read: the entry is (re)set to "not read yet". A freed socket's memory can come back
 *   as a later connection's, so this reset is what keeps a new client from inheriting an old one's
 *   address; -1 drops the entry.
 * - A request reads its connection's entry; the first one fills it from uWS.
 * - A connection that was never announced (an app without the filter, the v20.30 fallback, no
 *   addon) is asked every time, as before. So is a WebSocket upgrade's: `forget` drops the entry
 *   first, because uWS moves an upgraded socket and does not call the filter for it.
 *
 * The text: for the common IPv4 case the four bytes are formatted here from a table (a third of
 * uWS's inet_ntop + decode, bench/micro/pipeline.ts "remote address"). IPv6 (and IPv4-mapped
 * IPv6 on a dual-stack listener) keeps uWS's text, so the spelling is inet_ntop's either way.
 */
import { nativeUwsSocketKey } from '../util/native';
import type { HttpResponse } from './uws';

const OCTETS: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
const textDecoder = new TextDecoder();

/** What uWS says this request's client is (one getpeername). */
export function remoteAddressText(res: HttpResponse): string {
  const raw = new Uint8Array(res.getRemoteAddress());
  if (raw.length === 4) return OCTETS[raw[0]] + '.' + OCTETS[raw[1]] + '.' + OCTETS[raw[2]] + '.' + OCTETS[raw[3]];
  return textDecoder.decode(res.getRemoteAddressAsText());
}

/** An announced connection whose address no request has read yet. */
const NOT_READ = '';

export class PeerAddresses {
  readonly #byConnection = new Map<number, string>();
  readonly #keyOf: (res: object) => number;

  private constructor(keyOf: (res: object) => number) {
    this.#keyOf = keyOf;
  }

  /** Null without the addon's socket key: every request then asks uWS. */
  static create(keyOf: ((res: object) => number) | null = nativeUwsSocketKey): PeerAddresses | null {
    return keyOf === null ? null : new PeerAddresses(keyOf);
  }

  /** Connections with an entry (open ones, on a build with the filter). */
  get size(): number {
    return this.#byConnection.size;
  }

  /** uWS's connection filter: +1 when a connection opens, -1 when it closes. */
  onFilter = (res: HttpResponse, count: number): void => {
    const key = this.#keyOf(res);
    if (key === 0) return;
    if (count > 0) this.#byConnection.set(key, NOT_READ);
    else this.#byConnection.delete(key);
  };

  /** The client address of the connection `res` belongs to. */
  addressOf(res: HttpResponse): string {
    const key = this.#keyOf(res);
    const known = this.#byConnection.get(key);
    if (known === undefined) return remoteAddressText(res);
    if (known !== NOT_READ) return known;
    const text = remoteAddressText(res);
    this.#byConnection.set(key, text);
    return text;
  }

  /** The connection stops being HTTP (WebSocket upgrade): uWS will not report its close. */
  forget(res: HttpResponse): void {
    const key = this.#keyOf(res);
    if (key !== 0) this.#byConnection.delete(key);
  }
}
