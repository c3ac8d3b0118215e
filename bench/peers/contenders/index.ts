/** Every contender, in the order each round runs them. */
import type { Service } from '../procs';
import { caddy } from './caddy';
import { fastGateway, fastifyProxy, httpProxy, uwsFloor } from './node-peers';
import { floodgate, floodgate100, floodgateBaseline, floodgateLegacyUws, floodgateNative, floodgateParallelGc, floodgatePinned } from './floodgate';
import { AUTH_CONTENDERS } from './floodgate-auth';
import { haproxy } from './haproxy';
import { nginx, nginx100 } from './nginx';
import type { Contender } from './types';

/**
 * "direct": no proxy, wrk straight at the upstream (the machine's ceiling and a drift canary).
 * Its "service" is the upstream itself, started once by the harness.
 */
export function directContender(upstream: Service): Contender {
  return {
    id: 'direct',
    label: 'direct to upstream',
    setup: 'no proxy: wrk against the upstream NGINX itself (ceiling / drift canary)',
    start: async () => upstream,
  };
}

export const CONTENDERS: Contender[] = [floodgate, nginx, haproxy, caddy, fastifyProxy, httpProxy, fastGateway, floodgate100, nginx100, floodgatePinned, floodgateLegacyUws, floodgateNative, floodgateBaseline, floodgateParallelGc, uwsFloor, ...AUTH_CONTENDERS];

export type { ClientRequest, Contender, StartContext } from './types';
