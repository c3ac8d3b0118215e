/**
 * Caddy (the Go peer; Debian package `caddy`): `reverse_proxy` to the upstream with keep-alive
 * connections, no access log (Caddy logs none unless a `log` directive asks), `admin off`, no
 * automatic HTTPS. The per-core comparison sets GOMAXPROCS = N, so the Go runtime runs Go code on
 * at most N threads, as the others get N workers or threads.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answers } from '../http-check';
import { startService, waitReady } from '../procs';
import type { Contender, StartContext } from './types';

/** Keep-alive to the upstream as NGINX's `keepalive 64` + HAProxy's reuse: idle connections kept, never closed between requests. */
export function caddyfile(port: number, upstreamPort: number): string {
  return `{
	admin off
	auto_https off
	grace_period 2s
}

:${port} {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:${upstreamPort} {
		transport http {
			keepalive 75s
			keepalive_idle_conns 256
			keepalive_idle_conns_per_host 256
		}
	}
}
`;
}

/** Caddy keeps its data and autosaved config under XDG dirs: the contender's scratch dir, never ~. */
function caddyEnv(ctx: StartContext): NodeJS.ProcessEnv {
  return { ...process.env, GOMAXPROCS: String(ctx.workers), HOME: ctx.dir, XDG_DATA_HOME: ctx.dir, XDG_CONFIG_HOME: ctx.dir };
}

export const caddy: Contender = {
  id: 'caddy',
  label: 'Caddy',
  setup: 'reverse_proxy, keep-alive to the upstream (75 s, 256 idle connections), admin off, auto_https off, no access log, GOMAXPROCS=N',
  async start(ctx) {
    const file = join(ctx.dir, 'Caddyfile');
    writeFileSync(file, caddyfile(ctx.port, ctx.upstreamPort));
    const args = ['--config', file, '--adapter', 'caddyfile'];
    try {
      execFileSync(ctx.settings.bin.caddy, ['validate', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: caddyEnv(ctx) });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`caddy validate failed for ${file}:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
    const svc = startService('caddy', ctx.settings.bin.caddy, ['run', ...args], { logPrefix: join(ctx.dir, 'caddy'), env: caddyEnv(ctx) });
    await waitReady(svc, () => answers(ctx.port, '/tiny'));
    return svc;
  },
};
