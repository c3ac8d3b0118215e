/** The Node peers: bench/peers/servers/*.ts, compiled to dist/bench/peers/servers/*.js. */
import { join } from 'node:path';
import { answers } from '../http-check';
import { readLog, startService, waitReady } from '../procs';
import type { Contender } from './types';

function nodePeer(id: string, label: string, script: string, setup: string): Contender {
  return {
    id,
    label,
    setup,
    async start(ctx) {
      const file = join(ctx.settings.root, 'dist', 'bench', 'peers', 'servers', `${script}.js`);
      const args = [file, '--port', String(ctx.port), '--upstream', `http://127.0.0.1:${ctx.upstreamPort}`, '--workers', String(ctx.workers)];
      const svc = startService(id, ctx.settings.bin.node, args, { cwd: ctx.settings.root, logPrefix: join(ctx.dir, id) });
      await waitReady(svc, () => readLog(svc.stdoutPath).includes('ready'));
      await waitReady(svc, () => answers(ctx.port, '/tiny'));
      return svc;
    },
  };
}

const CLUSTER = '1 process, or node:cluster with N workers';

export const fastifyProxy = nodePeer(
  'fastify',
  '@fastify/http-proxy',
  'fastify-http-proxy',
  `fastify + @fastify/http-proxy defaults (undici pool, 128 connections); ${CLUSTER}`,
);

export const httpProxy = nodePeer(
  'http-proxy',
  'http-proxy',
  'http-proxy',
  `node:http + http-proxy, http.Agent keepAlive (maxSockets 256); ${CLUSTER}`,
);

export const fastGateway = nodePeer(
  'fast-gateway',
  'fast-gateway',
  'fast-gateway',
  `fast-gateway 3.4.7 defaults, route prefix '' to the upstream; ${CLUSTER}`,
);

export const uwsFloor = nodePeer(
  'uws-floor',
  'uWS.js floor (no gateway work)',
  'uws-floor',
  "the uWS.js build Floodgate loads + a minimal keep-alive net.Socket client (Content-Length only, no checks): Floodgate's architecture before any gateway work; N threads on one port",
);
