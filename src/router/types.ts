/**
 * The router's contract with the proxy. Implemented in router/router.ts.
 */
import type { RouteConfig } from '../config/types';

/** What the router needs from a request. The proxy's RequestHead satisfies it. */
export interface MatchRequest {
  /** Upper-case method. */
  readonly method: string;
  /** Host header without the port, lower-cased ('' when absent). */
  readonly host: string;
  /** Port from the Host header, or the listener's port when the header has none. */
  readonly hostPort: number;
  /** Normalized path (router/normalize.ts), no query. */
  readonly path: string;
  /** Flat header pairs with lower-case names; duplicates kept. */
  readonly headerNames: readonly string[];
  readonly headerValues: readonly string[];
}

/**
 * Filled in by `Router.match` on success. The proxy keeps one per request context and the
 * router overwrites its fields, so matching allocates nothing on the common (non-regex) path.
 */
export class MatchResult {
  /** The matched route's config. */
  route: RouteConfig | null = null;
  /** Number of leading characters of the normalized path matched by the route's path (0 when the route has no paths). */
  matchedLength = 0;
  /** Named captures of a regex path, or `null`. */
  captures: Record<string, string> | null = null;

  reset(): void {
    this.route = null;
    this.matchedLength = 0;
    this.captures = null;
  }
}

export interface Router {
  /** Returns true and fills `out` when a route matches; false (and `out.route === null`) otherwise. */
  match(req: MatchRequest, out: MatchResult): boolean;
  /** The compiled table in priority order, for `floodgate check` and the admin API. */
  describe(): RouteTableRow[];
}

export interface RouteTableRow {
  /** Rank in evaluation order (0 = tried first). */
  readonly rank: number;
  readonly routeId: string;
  readonly routeName: string | null;
  readonly serviceId: string | null;
  readonly methods: readonly string[] | null;
  readonly hosts: readonly string[] | null;
  /** The paths of this part only (a multi-path route is split into parts). */
  readonly paths: readonly string[] | null;
  readonly headers: Readonly<Record<string, readonly string[]>> | null;
  /** The priority as a decimal string (it may exceed 2^53). */
  readonly priority: string;
}
