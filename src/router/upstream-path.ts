/**
 * The path sent upstream, following Kong's `path_handling = "v0"` (the route default).
 *
 * v0 joins the service path (the "base", `/` when the service has none) and what is left of the
 * request path with string rules rather than URL resolution. What decides the result:
 *   - with strip_path, the postfix is the request path after the matched route path (after the
 *     leading `/` for a route without paths);
 *   - an empty postfix keeps the request's trailing slash: service `/s`, route `/r`, request
 *     `/r/` gives `/s/`, request `/r` gives `/s` (no slash is invented);
 *   - a base ending in `/` never produces `//`, and with an empty postfix it keeps its own
 *     trailing slash only when the request had one;
 *   - without strip_path the whole request path is appended to the base.
 *
 * Works on the normalized (decoded) path; the caller escapes the result with `escapePath` and
 * appends the query string untouched.
 */
const SLASH = 47;

export function upstreamPath(
  servicePath: string | null,
  normalizedPath: string,
  matchedLength: number,
  stripPath: boolean,
): string {
  const base = servicePath === null || servicePath === '' ? '/' : servicePath;
  const baseEndsInSlash = base.charCodeAt(base.length - 1) === SLASH;
  if (!stripPath) {
    if (baseEndsInSlash) return base + normalizedPath.slice(1);
    return normalizedPath === '/' ? base : base + normalizedPath;
  }
  const postfix = normalizedPath.slice(matchedLength > 0 ? matchedLength : 1);
  const requestEndsInSlash = normalizedPath.length > 1 && normalizedPath.charCodeAt(normalizedPath.length - 1) === SLASH;
  if (baseEndsInSlash) {
    if (postfix === '') {
      if (base === '/') return '/';
      return requestEndsInSlash ? base : base.slice(0, -1);
    }
    return postfix.charCodeAt(0) === SLASH ? base.slice(0, -1) + postfix : base + postfix;
  }
  if (postfix === '') return requestEndsInSlash ? base + '/' : base;
  return postfix.charCodeAt(0) === SLASH ? base + postfix : base + '/' + postfix;
}
