/**
 * Why an upstream exchange failed, as small integers: the engine never throws on the data path,
 * it reports one of these to the exchange's handler, and the proxy maps it to its error table
 * (proxy/errors.ts). Parse failures carry a reason from `ParseError`.
 */
export const enum Failure {
  /** The upstream refused the TCP connection. */
  Refused = 1,
  /** The connection was reset or closed before the response was complete. */
  Reset = 2,
  /** The target's name did not resolve. */
  Dns = 3,
  ConnectTimeout = 4,
  WriteTimeout = 5,
  ReadTimeout = 6,
  /** The response broke RFC 9112; `detail` says how (a ParseError reason). */
  Protocol = 7,
  /** TLS handshake or certificate verification failed. */
  Tls = 8,
  /** max_connections are busy and the pending queue is full. */
  QueueFull = 9,
  /** No connection became free within the queue timeout. */
  QueueTimeout = 10,
  /** The upstream answered 101 Switching Protocols: upgrades are not proxied. */
  Upgrade = 11,
  /** The request head cannot be sent (a control character in a header, a bad path). */
  BadRequest = 12,
  /** The pool was closed (its target left the config) while the request waited. */
  Closed = 13,
  /** The exchange's own handler threw while taking the response (a plugin bug). */
  HandlerError = 14,
}

/** Strict-parser rejections (RFC 9112), each with the reason the 502 body gives. */
export const enum ParseError {
  None = 0,
  BadStatusLine,
  UnsupportedVersion,
  ContentLengthAndTransferEncoding,
  ConflictingContentLength,
  BadContentLength,
  BadChunkSize,
  ChunkSizeOverflow,
  BadChunkExtension,
  BadChunkFraming,
  BareCR,
  BareLF,
  Nul,
  ObsFold,
  NoColon,
  BadHeaderName,
  BadHeaderValue,
  HeadTooLarge,
  TrailersTooLarge,
  IncompleteHead,
  IncompleteBody,
  ExtraBytes,
}

export const PARSE_ERROR_REASONS: readonly string[] = [
  '',
  'malformed status line',
  'unsupported HTTP version',
  'both Content-Length and Transfer-Encoding',
  'conflicting Content-Length values',
  'invalid Content-Length',
  'invalid chunk size',
  'chunk size overflow',
  'invalid chunk extension',
  'invalid chunked framing',
  'bare CR in the response head',
  'bare LF in the response head',
  'NUL byte in the response',
  'obsolete header line folding',
  'header line without a colon',
  'invalid header name',
  'invalid header value',
  'response head too large',
  'response trailers too large',
  'connection closed inside the response head',
  'connection closed before the end of the body',
  'bytes beyond the response framing',
];

/** The engine's errors for socket error codes (ECONNREFUSED...). */
export function failureForSocketError(err: Error): Failure {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return Failure.Refused;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return Failure.Dns;
    case 'ETIMEDOUT':
      return Failure.ConnectTimeout;
    default:
      if (typeof code === 'string' && (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')) {
        return Failure.Tls;
      }
      return Failure.Reset;
  }
}
