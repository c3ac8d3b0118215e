/**
 * The admin endpoints and what they read. Each endpoint reads the Supervisor's state; none of them
 * talks to a worker's hot path directly.
 */
import type { Supervisor } from '../cluster/primary';
import { AdminRouter } from './router';
import { registerUpstreamHealth } from './upstream-health';

export function adminRoutes(supervisor: Supervisor): AdminRouter {
  const router = new AdminRouter();
  // Liveness: the primary answers, so the process is up.
  router.add('GET', '/healthz', () => ({ status: 200, body: { status: 'ok' } }));
  // Readiness: every worker listens and the node is not draining. A load balancer stops sending
  // new connections as soon as this turns 503 on SIGTERM.
  router.add('GET', '/ready', () => {
    const state = supervisor.readiness();
    return { status: state.ready ? 200 : 503, body: state };
  });
  router.add('GET', '/status', () => ({ status: 200, body: supervisor.status() }));
  registerUpstreamHealth(router, supervisor.upstreamHealth);
  return router;
}
