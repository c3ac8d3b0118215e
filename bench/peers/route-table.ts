/**
 * The 100-route table of the routes100 scenario, shared by the Floodgate and NGINX configs so both
 * route the same way: /svc-0/ ... /svc-99/, the prefix stripped before the upstream.
 *   i % 10 == 1  host route:  Host svc-<i>.bench.test and prefix /svc-<i>/       (10 routes)
 *   i % 10 == 5  regex route: ~/svc-<i>/v\d+ (so /svc-5/v2/tiny -> /tiny)        (10 routes)
 *   otherwise    plain prefix /svc-<i>/                                          (80 routes)
 * Prefixes end in "/" so that /svc-4/ never catches /svc-41/... (a Kong prefix is a string prefix).
 * The load hits /svc-57/tiny, a plain prefix: both routers first have to rule out the regex routes
 * (and Floodgate the host routes, which rank first), which is the cost this scenario shows.
 */
export type RouteKind = 'prefix' | 'host' | 'regex';

export interface BenchRoute {
  name: string;
  kind: RouteKind;
  /** /svc-<i>/ */
  prefix: string;
  host?: string;
}

export const ROUTE_COUNT = 100;
export const ROUTES100_PATH = '/svc-57/tiny';

export function routeTable(count = ROUTE_COUNT): BenchRoute[] {
  return Array.from({ length: count }, (_, i) => {
    const prefix = `/svc-${i}/`;
    const name = `svc-${i}`;
    if (i % 10 === 1) return { name, kind: 'host', prefix, host: `svc-${i}.bench.test` };
    if (i % 10 === 5) return { name, kind: 'regex', prefix };
    return { name, kind: 'prefix', prefix };
  });
}

export interface RouteProbe {
  path: string;
  host?: string;
  /** 200: the upstream's /tiny answered; 404: the proxy itself answered (no upstream header) */
  expect: 200 | 404;
  what: string;
}

/** Requests that prove every kind of route works the same on both contenders. */
export const ROUTES100_PROBES: RouteProbe[] = [
  { path: ROUTES100_PATH, expect: 200, what: 'plain prefix' },
  { path: '/svc-35/v7/tiny', expect: 200, what: 'regex route' },
  { path: '/svc-41/tiny', host: 'svc-41.bench.test', expect: 200, what: 'host route, with its host' },
  { path: '/svc-41/tiny', expect: 404, what: 'host route, without its host' },
  { path: '/svc-100/tiny', expect: 404, what: 'no such route' },
];
