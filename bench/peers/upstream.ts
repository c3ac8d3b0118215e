/** The one upstream every contender proxies to: NGINX with bench/nginx/bench-upstream.conf.tmpl. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNginx } from './nginx-process';
import type { Service } from './procs';

/** what GET /tiny answers */
export const TINY_BODY = 'ok\n';
/** size of GET /64k */
export const BIG_BYTES = 65536;
/** size of the POST /upload body */
export const UPLOAD_BYTES = 1 << 20;

export async function startUpstream(opts: { nginx: string; root: string; dir: string; port: number; workers: number }): Promise<Service> {
  mkdirSync(join(opts.dir, 'www'), { recursive: true });
  writeFileSync(join(opts.dir, 'www', '64k'), Buffer.alloc(BIG_BYTES, 'a'));
  return startNginx({
    name: 'upstream',
    nginx: opts.nginx,
    template: join(opts.root, 'bench', 'nginx', 'bench-upstream.conf.tmpl'),
    dir: opts.dir,
    values: { PORT: opts.port, WORKERS: opts.workers },
    readyPath: '/tiny',
  });
}
