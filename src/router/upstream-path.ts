/**
 * The path sent upstream, following Kong's `path_handling = "v0"` (the route default).
 *
 * v0 joins the service path and the (possibly stripped) request path with simple string rules
 * rather than URL resolution, which is what Kong users rely on: service `/svc`, route `/r`,
 * request `/r/x` gives `/svc/x`, and request `/r` gives `/svc` (no trailing slash is invented).
 *
 * Works on the normalized (decoded) path; the caller escapes the result with `escapePath` and
 * appends the query string untouched.
 */
export function upstreamPath(
  servicePath: string | null,
  normalizedPath: string,
  matchedLength: number,
  stripPath: boolean,
): string {
  let uri = normalizedPath;
  if (stripPath) {
    if (matchedLength > 0) uri = normalizedPath.slice(matchedLength);
    if (uri.charCodeAt(0) !== 47) uri = '/' + uri;
  }
  if (servicePath === null || servicePath === '/' || servicePath === '') return uri;
  if (servicePath.charCodeAt(servicePath.length - 1) === 47) {
    return uri.charCodeAt(0) === 47 ? servicePath + uri.slice(1) : servicePath + uri;
  }
  if (uri === '/') return servicePath;
  return servicePath + uri;
}
