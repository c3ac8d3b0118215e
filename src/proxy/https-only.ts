/**
 * Kong's protocol enforcement for routes whose `protocols` allow https but not http: a request that
 * reached such a route over plain HTTP is answered before any plugin runs, with 426 "Please use
 * HTTPS protocol" (Connection: Upgrade, Upgrade: TLS/1.2, HTTP/1.1), or with a redirect when the
 * route's `https_redirect_status_code` is 301, 302, 307 or 308.
 *
 * As in Kong, the router itself ignores the scheme (a route with protocols [http] also matches
 * over HTTPS, which Kong documents); only this check after the match looks at it.
 *
 * One difference: Kong's Location is `https://HOST` + the request URI, which only works when TLS is
 * on 443. Ours adds the TLS listener's port when it is not 443, so the redirect lands on it.
 */
import type { RouteConfig } from '../config/types';
import { messageBody } from '../util/status-messages';
import type { RequestContext } from './request-context';
import type { DownstreamHead } from './request-head';

const UPGRADE_HEADERS: readonly string[] = ['connection', 'Upgrade', 'upgrade', 'TLS/1.2, HTTP/1.1'];
const BODY_426 = messageBody('Please use HTTPS protocol');

/** True when plain HTTP must not reach this route. */
export function httpsOnly(route: RouteConfig): boolean {
  const p = route.protocols;
  return p.length > 0 && !p.includes('http') && p.includes('https');
}

/** The 426 or the redirect, as the route says. */
export function answerPlainHttp(ctx: RequestContext, head: DownstreamHead, route: RouteConfig, tlsPort: number): void {
  const code = route.httpsRedirectStatusCode;
  if (code === 301 || code === 302 || code === 307 || code === 308) {
    const authority = tlsPort === 443 ? head.host : `${head.host}:${tlsPort}`;
    const location = `https://${authority}${head.rawPath}${head.query === '' ? '' : '?' + head.query}`;
    ctx.respond(code, '', 'text/plain; charset=utf-8', ['location', location]);
    return;
  }
  ctx.respond(426, BODY_426, 'application/json; charset=utf-8', UPGRADE_HEADERS);
}
