/** HAProxy (bench/haproxy/proxy.cfg.tmpl): mode http, nbthread N, http-reuse always. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answers } from '../http-check';
import { startService, waitReady } from '../procs';
import { render } from '../template';
import type { Contender } from './types';

export const haproxy: Contender = {
  id: 'haproxy',
  label: 'HAProxy',
  setup: 'mode http, nbthread N, http-reuse always, keep-alive both sides, no logging',
  async start(ctx) {
    const cfg = join(ctx.dir, 'haproxy.cfg');
    const template = join(ctx.settings.root, 'bench', 'haproxy', 'proxy.cfg.tmpl');
    writeFileSync(cfg, render(template, { PORT: ctx.port, UPSTREAM_PORT: ctx.upstreamPort, WORKERS: ctx.workers }));
    try {
      execFileSync(ctx.settings.bin.haproxy, ['-c', '-q', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`haproxy -c failed for ${cfg}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
    // -db: stay in the foreground, no master process; one process with N threads
    const svc = startService('haproxy', ctx.settings.bin.haproxy, ['-db', '-f', cfg], { logPrefix: join(ctx.dir, 'haproxy') });
    await waitReady(svc, () => answers(ctx.port, '/tiny'));
    return svc;
  },
};
