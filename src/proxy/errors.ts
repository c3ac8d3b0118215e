/**
 * Every failure the data plane can answer with, as a fixed table: a stable code, the HTTP status,
 * who is at fault, whether a retry elsewhere could help, and the message in the JSON body.
 * Errors are values here, not exceptions: the proxy looks one up and answers with it.
 */
import { messageBody } from '../util/status-messages';
import { Failure } from '../upstream/failures';

export type FaultSource = 'downstream' | 'upstream' | 'internal';

export interface ProxyError {
  readonly code: string;
  readonly status: number;
  readonly source: FaultSource;
  readonly retryable: boolean;
  readonly message: string;
  /** `{"message": ...}`, serialized once here rather than per failed request. */
  readonly body: string;
  /**
   * The reply carries `Connection: close` and the connection is closed after it: a malformed
   * request head (RFC 9112 §9.6). After a framing error the next bytes cannot be trusted to start
   * a request, so reading on would let a smuggled request through.
   */
  readonly closesConnection?: boolean;
}

function def(code: string, status: number, source: FaultSource, retryable: boolean, message: string, closesConnection = false): ProxyError {
  return Object.freeze({ code, status, source, retryable, message, body: messageBody(message), closesConnection });
}

/** A malformed request: 400 (or the given status), answered and then the connection closed. */
function malformed(code: string, message: string, status = 400): ProxyError {
  return def(code, status, 'downstream', false, message, true);
}

export const Errors = {
  noRoute: def('FG_NO_ROUTE', 404, 'downstream', false, 'no Route matched with those values'),
  noService: def('FG_NO_SERVICE', 503, 'internal', false, 'no Service found with those values'),
  methodNotAllowed: def('FG_METHOD_NOT_ALLOWED', 405, 'downstream', false, 'Method not allowed'),
  badRequest: malformed('FG_BAD_REQUEST', 'Bad request'),
  badPath: malformed('FG_BAD_PATH', 'Bad request: malformed path encoding'),
  badFraming: malformed('FG_BAD_FRAMING', 'Bad request: conflicting Content-Length or Transfer-Encoding'),
  unsupportedTransferCoding: malformed('FG_TRANSFER_CODING', 'Transfer-Encoding other than chunked is not implemented', 501),
  badMethod: malformed('FG_BAD_METHOD', 'Bad request: invalid method'),
  badTarget: malformed('FG_BAD_TARGET', 'Bad request: control character in the request target'),
  pathAboveRoot: malformed('FG_PATH_ABOVE_ROOT', 'Bad request: path climbs above the root'),
  encodedNul: malformed('FG_ENCODED_NUL', 'Bad request: %00 in the path'),
  badHost: malformed('FG_BAD_HOST', 'Bad request: missing, duplicate or invalid Host header'),
  badHeaderValue: malformed('FG_BAD_HEADER_VALUE', 'Bad request: a header value holds DEL or bytes that are not UTF-8'),
  headersTooLarge: malformed('FG_HEADERS_TOO_LARGE', 'Request header fields too large', 431),
  bodyTooLarge: def('FG_BODY_TOO_LARGE', 413, 'downstream', false, 'Request size limit exceeded'),
  noHealthyTarget: def('FG_NO_TARGET', 503, 'internal', false, 'failure to get a peer from the ring-balancer'),
  upstreamRefused: def('FG_UPSTREAM_REFUSED', 502, 'upstream', true, 'An invalid response was received from the upstream server: connection refused'),
  upstreamReset: def('FG_UPSTREAM_RESET', 502, 'upstream', true, 'An invalid response was received from the upstream server: connection reset before the response'),
  upstreamDns: def('FG_UPSTREAM_DNS', 502, 'upstream', true, 'An invalid response was received from the upstream server: name resolution failed'),
  upstreamProtocol: def('FG_UPSTREAM_PROTOCOL', 502, 'upstream', false, 'An invalid response was received from the upstream server: malformed response'),
  upstreamConnectTimeout: def('FG_UPSTREAM_CONNECT_TIMEOUT', 504, 'upstream', true, 'The upstream server is timing out: connect timeout'),
  upstreamWriteTimeout: def('FG_UPSTREAM_WRITE_TIMEOUT', 504, 'upstream', false, 'The upstream server is timing out: request body not accepted within write_timeout'),
  upstreamReadTimeout: def('FG_UPSTREAM_READ_TIMEOUT', 504, 'upstream', false, 'The upstream server is timing out: no response within read_timeout'),
  upstreamUnavailable: def('FG_UPSTREAM_UNAVAILABLE', 502, 'upstream', false, 'An invalid response was received from the upstream server'),
  upstreamTls: def('FG_UPSTREAM_TLS', 502, 'upstream', true, 'An invalid response was received from the upstream server: TLS handshake failed'),
  upgradeUnsupported: def('FG_UPGRADE_UNSUPPORTED', 501, 'downstream', false, 'Protocol upgrades are not supported'),
  internal: def('FG_INTERNAL', 500, 'internal', false, 'An unexpected error occurred'),
  /** --tls-client-verify required, and the TLS connection carried no certificate (NGINX's words and status). */
  noClientCertificate: malformed('FG_NO_CLIENT_CERT', 'No required SSL certificate was sent'),
} as const;

const clientCertificateErrors = new Map<string, ProxyError>();

/**
 * --tls-client-verify: the client's certificate did not verify against the trusted CAs. NGINX
 * answers 400 "The SSL certificate error"; ours adds OpenSSL's reason (`CERT_HAS_EXPIRED`).
 * One frozen value per reason.
 */
export function clientCertificateError(reason: string): ProxyError {
  let e = clientCertificateErrors.get(reason);
  if (e === undefined) {
    e = malformed('FG_BAD_CLIENT_CERT', `The SSL certificate error: ${reason}`);
    if (clientCertificateErrors.size < 64) clientCertificateErrors.set(reason, e);
  }
  return e;
}

const protocolErrors = new Map<string, ProxyError>();
const queueErrors = new Map<string, ProxyError>();

/** A 502 naming what was wrong with the response; one frozen value per reason. */
function protocolError(reason: string): ProxyError {
  let e = protocolErrors.get(reason);
  if (e === undefined) {
    e = def('FG_UPSTREAM_PROTOCOL', 502, 'upstream', false, `An invalid response was received from the upstream server: malformed response (${reason})`);
    protocolErrors.set(reason, e);
  }
  return e;
}

/** The pool's 503 (queue full or queue timeout); its message is fixed per pool. */
function queueError(code: string, message: string): ProxyError {
  let e = queueErrors.get(message);
  if (e === undefined) {
    e = def(code, 503, 'upstream', false, message);
    queueErrors.set(message, e);
  }
  return e;
}

/** Map an upstream engine failure (src/upstream/failures.ts) to the answer the client gets. */
export function errorForFailure(failure: Failure, detail: string): ProxyError {
  switch (failure) {
    case Failure.Refused:
      return Errors.upstreamRefused;
    case Failure.Reset:
      return Errors.upstreamReset;
    case Failure.Dns:
      return Errors.upstreamDns;
    case Failure.ConnectTimeout:
      return Errors.upstreamConnectTimeout;
    case Failure.WriteTimeout:
      return Errors.upstreamWriteTimeout;
    case Failure.ReadTimeout:
      return Errors.upstreamReadTimeout;
    case Failure.Protocol:
      return protocolError(detail);
    case Failure.Tls:
      return Errors.upstreamTls;
    case Failure.QueueFull:
      return queueError('FG_UPSTREAM_QUEUE_FULL', detail);
    case Failure.QueueTimeout:
      return queueError('FG_UPSTREAM_QUEUE_TIMEOUT', detail);
    case Failure.Upgrade:
      return Errors.upgradeUnsupported;
    case Failure.BadRequest:
      return Errors.badRequest;
    case Failure.HandlerError:
      return Errors.internal;
    default:
      return Errors.upstreamUnavailable;
  }
}
