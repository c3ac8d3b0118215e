/**
 * GET /upstreams/{name}/health: every target address of the upstream with its weight, state
 * (healthy / unhealthy / dns_error / draining) and why it is in that state. The primary owns the
 * health state (balancer/health-center.ts), so it answers without asking the workers.
 */
import type { UpstreamHealthCenter } from '../balancer/health-center';
import { messageBody } from '../util/status-messages';
import type { AdminRouter } from './router';

export function registerUpstreamHealth(router: AdminRouter, health: UpstreamHealthCenter): void {
  router.add('GET', '/upstreams/:name/health', (req) => {
    const report = health.upstreamHealth(req.params.name);
    if (report === null) return { status: 404, body: messageBody('Not found'), contentType: 'application/json; charset=utf-8' };
    return { status: 200, body: { data: report.targets, ...report, targets: undefined, total: report.targets.length } };
  });
}
