/**
 * Methods a retry may repeat once the request may have reached the upstream (RFC 9110 §9.2.2):
 * the upstream engine's reuse-race replay and the proxy's retry decision both ask this.
 */
export function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}
