/** Runs one NGINX from a template in its own prefix directory (checked with `nginx -t` first). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answers } from './http-check';
import { startService, waitReady, type Service } from './procs';
import { render } from './template';

export async function startNginx(opts: {
  name: string;
  nginx: string;
  template: string;
  dir: string;
  /** template values besides @PREFIX@; must include PORT */
  values: Record<string, string | number>;
  /** ready once GET readyPath on PORT answers 200 */
  readyPath: string;
}): Promise<Service> {
  mkdirSync(opts.dir, { recursive: true });
  const conf = join(opts.dir, 'nginx.conf');
  writeFileSync(conf, render(opts.template, { PREFIX: opts.dir, ...opts.values }));
  const base = ['-p', opts.dir, '-e', join(opts.dir, 'error.log'), '-c', conf];
  try {
    execFileSync(opts.nginx, ['-t', '-q', ...base], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`${opts.name}: nginx -t failed for ${conf}:\n${(e as { stderr?: Buffer }).stderr ?? e}`);
  }
  const svc = startService(opts.name, opts.nginx, [...base, '-g', 'daemon off;'], { logPrefix: join(opts.dir, 'nginx') });
  const port = Number(opts.values.PORT);
  await waitReady(svc, () => answers(port, opts.readyPath));
  return svc;
}
