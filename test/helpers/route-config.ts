import type { RouteConfig } from '../../src/config/types';

export type RouteInput = { -readonly [K in keyof RouteConfig]?: RouteConfig[K] } & { id: string };

/** A normalized route with Kong's defaults, for router tests and benchmarks. */
export function routeConfig(input: RouteInput, order: number): RouteConfig {
  return {
    name: null,
    service: 'svc',
    protocols: ['http', 'https'],
    methods: null,
    hosts: null,
    paths: null,
    headers: null,
    stripPath: true,
    preserveHost: false,
    regexPriority: 0,
    httpsRedirectStatusCode: 426,
    requestBuffering: true,
    responseBuffering: true,
    order,
    tags: [],
    ...input,
  };
}
