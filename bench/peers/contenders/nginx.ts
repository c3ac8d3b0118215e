/** NGINX as a reverse proxy (bench/nginx/bench-proxy.conf.tmpl): worker_processes N, keepalive pool. */
import { join } from 'node:path';
import { startNginx } from '../nginx-process';
import { routeTable } from '../route-table';
import type { Contender, StartContext } from './types';

const PROXY = 'proxy_pass http://bench_upstream';

function catchAll(port: number): string {
  return `    server {
        listen 127.0.0.1:${port} reuseport backlog=4096;
        location / {
            ${PROXY};
        }
    }`;
}

/**
 * The 100 routes of route-table.ts: prefix and regex locations in the default server (regex
 * locations are tried after the longest prefix, as in Floodgate's ranking), one server block per host.
 */
function hundredRoutes(port: number): string {
  const routes = routeTable();
  const main: string[] = [];
  const hosts: string[] = [];
  for (const r of routes) {
    if (r.kind === 'prefix') main.push(`        location ${r.prefix} { ${PROXY}/; }`);
    if (r.kind === 'regex') main.push(`        location ~ ^${r.prefix}v[0-9]+(/.*)?$ { ${PROXY}$1$is_args$args; }`);
    if (r.kind === 'host') {
      hosts.push(`    server {
        listen 127.0.0.1:${port};
        server_name ${r.host};
        location ${r.prefix} { ${PROXY}/; }
    }`);
    }
  }
  return `    server {
        listen 127.0.0.1:${port} default_server reuseport backlog=4096;
${main.join('\n')}
        location / { return 404; }
    }
${hosts.join('\n')}`;
}

function start(ctx: StartContext, name: string, locations: string, readyPath: string) {
  return startNginx({
    name,
    nginx: ctx.settings.bin.nginx,
    template: join(ctx.settings.root, 'bench', 'nginx', 'bench-proxy.conf.tmpl'),
    dir: ctx.dir,
    values: { PORT: ctx.port, UPSTREAM_PORT: ctx.upstreamPort, WORKERS: ctx.workers, LOCATIONS: locations },
    readyPath,
  });
}

export const nginx: Contender = {
  id: 'nginx',
  label: 'NGINX',
  setup: 'worker_processes N, proxy_pass to upstream{} keepalive 64, HTTP/1.1, Connection "", access_log off',
  start: (ctx) => start(ctx, 'nginx', catchAll(ctx.port), '/tiny'),
};

export const nginx100: Contender = {
  id: 'nginx-100',
  label: 'NGINX, 100 locations',
  setup: 'same routes as Floodgate: 80 prefix + 10 regex locations, 10 server_name blocks, prefix stripped',
  start: (ctx) => start(ctx, 'nginx-100', hundredRoutes(ctx.port), '/svc-57/tiny'),
};
