/**
 * The admin endpoints and what they read. Each endpoint reads the Supervisor's state; none of them
 * talks to a worker's hot path directly (metrics and in-flight counts come by message, once per
 * scrape).
 */
import type { Logger } from 'pino';
import type { Supervisor } from '../cluster/primary';
import { loadConfigText } from '../config/load';
import { redactConfig } from '../config/redact';
import { CONTENT_TYPE as METRICS_CONTENT_TYPE } from '../metrics/exposition';
import { routesView, servicesView, upstreamsView } from './compiled-view';
import { configTextFromBody } from './config-body';
import { AdminRouter, type AdminReply, type AdminRequest } from './router';
import { registerUpstreamHealth } from './upstream-health';
import { nodeInfo } from './node-info';
import { uwsBuild } from '../proxy/uws';

function packageVersion(): string {
  return (require('../../../package.json') as { version: string }).version;
}

export function adminRoutes(supervisor: Supervisor, logger?: Logger): AdminRouter {
  const router = new AdminRouter();
  // Kong's GET /: node id, version, available and enabled plugins.
  router.add('GET', '/', () => ({ status: 200, body: nodeInfo(supervisor, packageVersion(), uwsBuild) }));
  // Liveness: the primary answers, so the process is up.
  router.add('GET', '/healthz', () => ({ status: 200, body: { status: 'ok' } }));
  // Readiness: every worker listens and the node is not draining. A load balancer stops sending
  // new connections as soon as this turns 503 on SIGTERM.
  router.add('GET', '/ready', () => {
    const state = supervisor.readiness();
    return { status: state.ready ? 200 : 503, body: state };
  });
  router.add('GET', '/status', async () => ({ status: 200, body: await supervisor.status() }));
  router.add('GET', '/metrics', async () => ({ status: 200, body: await supervisor.metricsText(), contentType: METRICS_CONTENT_TYPE }));
  router.add('GET', '/config', () => ({
    status: 200,
    body: { configVersion: supervisor.configVersion, config: redactConfig(supervisor.config) },
  }));
  router.add('POST', '/config', (req) => postConfig(supervisor, req, logger));
  router.add('GET', '/routes', () => ({ status: 200, body: routesView(supervisor.config) }));
  router.add('GET', '/services', () => ({ status: 200, body: servicesView(supervisor.config) }));
  router.add('GET', '/upstreams', () => ({ status: 200, body: upstreamsView(supervisor.config) }));
  registerUpstreamHealth(router, supervisor.upstreamHealth);
  return router;
}

/**
 * Kong DB-less semantics: the body replaces the whole config. Validated by the same loader as the
 * file and compile-checked, then applied to every worker through the SIGHUP path; the answer
 * (201) comes once every worker runs it. A bad config gets 400 with each error's entity, field and
 * line, and the running config keeps serving. The file on disk is not rewritten: a later SIGHUP
 * (or restart) goes back to it.
 */
async function postConfig(supervisor: Supervisor, req: AdminRequest, logger: Logger | undefined): Promise<AdminReply> {
  const contentType = req.headers['content-type'];
  const body = configTextFromBody(req.body, Array.isArray(contentType) ? contentType[0] : contentType);
  if (!body.ok) {
    supervisor.noteRejectedConfig();
    return { status: 400, body: { message: body.message } };
  }
  const loaded = loadConfigText(body.text, 'POST /config');
  if (!loaded.ok) {
    supervisor.noteRejectedConfig();
    // Loader errors never quote a credential secret (config/secret-scrub.ts).
    logger?.warn({ errors: loaded.errors }, `POST /config rejected; still serving version ${supervisor.configVersion}`);
    return { status: 400, body: { message: 'declarative config is invalid', errors: loaded.errors } };
  }
  const applied = await supervisor.applyLoaded(loaded.config);
  if (!applied.ok) {
    logger?.warn({ errors: applied.errors }, `POST /config rejected; still serving version ${supervisor.configVersion}`);
    return { status: 400, body: { message: 'declarative config is invalid', errors: applied.errors } };
  }
  logger?.info({ configVersion: applied.version, failedWorkers: applied.failedWorkers.length, warnings: loaded.warnings.length }, 'config replaced through POST /config');
  if (loaded.warnings.length > 0) logger?.warn({ warnings: loaded.warnings }, 'POST /config loaded with warnings');
  if (applied.failedWorkers.length > 0) {
    return { status: 500, body: { message: `config version ${applied.version} failed to apply on workers ${applied.failedWorkers.join(', ')}; they keep the previous one`, configVersion: applied.version } };
  }
  // Deprecated Kong fields and pre-3.0 migrations load, and are listed so the caller can fix them.
  return { status: 201, body: { message: 'config applied', configVersion: applied.version, warnings: loaded.warnings } };
}
