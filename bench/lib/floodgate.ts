/** One Floodgate contender for the single-gateway benches: config written, started, ready. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLog, startService, waitReady, type Service } from '../peers/procs';

export interface GatewayOptions {
  /** the service name in errors */
  name: string;
  /** repository root (the cwd, where dist/src/cli.js lives) */
  root: string;
  /** where the config and logs go: <dir>/<file>.yaml, <dir>/<file>.stderr.log */
  dir: string;
  file: string;
  yaml: string;
  workers: number;
  port: number;
  /** --admin-listen 127.0.0.1:<adminPort>; without it, --admin-listen off */
  adminPort?: number;
  /** more CLI flags (--metrics off, --listen-tls ...) */
  extraArgs?: readonly string[];
}

/**
 * `node dist/src/cli.js start --access-log off --drain-timeout 2000`, ready once it logs that it
 * listens (and, with an admin port, that the admin API listens).
 */
export async function startGateway(o: GatewayOptions): Promise<Service> {
  const config = join(o.dir, `${o.file}.yaml`);
  writeFileSync(config, o.yaml);
  const svc = startService(o.name, process.execPath, [
    'dist/src/cli.js', 'start', '-c', config,
    '--workers', String(o.workers),
    '--listen', `127.0.0.1:${o.port}`,
    '--admin-listen', o.adminPort === undefined ? 'off' : `127.0.0.1:${o.adminPort}`,
    '--access-log', 'off',
    '--drain-timeout', '2000',
    ...(o.extraArgs ?? []),
  ], { cwd: o.root, logPrefix: join(o.dir, o.file) });
  const logged = (line: string) => readLog(svc.stderrPath).includes(`"msg":"${line}"`);
  await waitReady(svc, () => logged('floodgate listening') && (o.adminPort === undefined || logged('admin API listening')));
  return svc;
}
