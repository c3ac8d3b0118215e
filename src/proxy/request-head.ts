/**
 * The downstream request head, copied synchronously out of uWS's HttpRequest (which dies at the
 * handler's first `await`). One fixed shape for every request; plugins and the router read this,
 * never uWS.
 */
import type { ClientCertificate, RequestHead } from '../plugins/api';
import type { ProxyError } from './errors';
import type { MatchRequest } from '../router/types';
import { TransferCoding } from './request-validation';

export class DownstreamHead implements RequestHead, MatchRequest {
  /** 'https' for a request that came through the TLS listener. */
  scheme: 'http' | 'https' = 'http';
  method = '';
  rawPath = '';
  path = '';
  query = '';
  /** Host header as sent (with port), '' when absent. */
  hostHeader = '';
  host = '';
  hostPort = 0;
  remoteAddress = '';
  headerNames: string[] = [];
  headerValues: string[] = [];
  /** Request line + header bytes, as counted for the 431 limit. */
  headBytes = 0;
  /** -1 when absent; -2 when present but invalid or given twice with different values. */
  contentLength = -1;
  /** Transfer-Encoding was present (uWS decodes chunked bodies for us). */
  hasTransferEncoding = false;
  /** What the Transfer-Encoding fields say: only exactly `chunked` is forwarded. */
  transferCoding: TransferCoding = TransferCoding.None;
  /** How many Host fields arrived (HTTP/1.1 wants exactly one). */
  hostCount = 0;
  /** A header value holds bytes at or above 0x80: sent upstream as its UTF-8 bytes (request-context). */
  nonAsciiValues = false;
  /** A header value cannot be forwarded byte for byte (DEL, or bytes uWS could not decode). */
  badHeaderValue = false;
  /**
   * The Connection fields' values, lower-cased and joined with ', ' ('' when absent): the close
   * option, and the names of more hop-by-hop headers.
   */
  connection = '';
  /** How many Connection fields the request had (uWS's close test reads only the first). */
  connectionFields = 0;
  /**
   * uWS will close the connection after this response without saying so: its test for `close`
   * is the first Connection value being 5 bytes long. DownstreamResponse.announceClose.
   */
  uwsClosesSilently = false;
  xForwardedFor = '';
  via = '';
  /** W3C trace headers as received ('' when absent), captured during the copy. */
  traceparent = '';
  tracestate = '';
  /**
   * mTLS (--tls-client-verify, set by the TLS front per connection): the verified certificate
   * (its `forwardedHeader` goes upstream as x-forwarded-client-cert), and the 400 a connection
   * without a required or with an unverified certificate gets instead of being served.
   */
  clientCertificate: (ClientCertificate & { readonly forwardedHeader: string }) | null = null;
  clientCertificateRefusal: ProxyError | null = null;

  header(name: string): string | undefined {
    const names = this.headerNames;
    for (let i = 0; i < names.length; i++) if (names[i] === name) return this.headerValues[i];
    return undefined;
  }

  /** Split `hostHeader` into host and port; IPv6 literals keep their brackets. */
  parseHost(defaultPort: number): void {
    const h = this.hostHeader;
    let end = h.length;
    let port = defaultPort;
    const colon = h.lastIndexOf(':');
    if (colon !== -1 && h.indexOf(']', colon) === -1 && (h.charCodeAt(0) === 91 /* [ */ || h.indexOf(':') === colon)) {
      const p = Number(h.slice(colon + 1));
      if (Number.isInteger(p) && p > 0 && p < 65536) port = p;
      end = colon;
    }
    this.host = end === h.length ? h.toLowerCase() : h.slice(0, end).toLowerCase();
    this.hostPort = port;
  }
}
