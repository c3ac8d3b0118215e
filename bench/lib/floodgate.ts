/** One Floodgate contender for the single-gateway benches: its config, its start, and the checks made on it. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answers, fetchOnce } from '../peers/http-check';
import { readLog, startService, waitReady, type Service } from '../peers/procs';
import { NODE_FLAGS } from '../../src/cluster/node-flags';

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
  /**
   * Ready once GET readyPath answers 200, instead of once the start lines are logged (for a
   * gateway started with --log-level warn, which logs neither).
   */
  readyPath?: string;
}

/**
 * `node dist/src/cli.js start --access-log off --drain-timeout 2000`, ready once it logs that it
 * listens (and, with an admin port, that the admin API listens), or once GET `readyPath` answers 200.
 */
export async function startGateway(o: GatewayOptions): Promise<Service> {
  const config = join(o.dir, `${o.file}.yaml`);
  writeFileSync(config, o.yaml);
  const svc = startService(o.name, process.execPath, [
    ...NODE_FLAGS, 'dist/src/cli.js', 'start', '-c', config,
    '--workers', String(o.workers),
    '--listen', `127.0.0.1:${o.port}`,
    '--admin-listen', o.adminPort === undefined ? 'off' : `127.0.0.1:${o.adminPort}`,
    '--access-log', 'off',
    '--drain-timeout', '2000',
    ...(o.extraArgs ?? []),
  ], { cwd: o.root, logPrefix: join(o.dir, o.file) });
  const logged = (line: string) => readLog(svc.stderrPath).includes(`"msg":"${line}"`);
  if (o.readyPath !== undefined) await waitReady(svc, () => answers(o.port, o.readyPath!));
  else await waitReady(svc, () => logged('floodgate listening') && (o.adminPort === undefined || logged('admin API listening')));
  return svc;
}

/**
 * The config every single-gateway bench starts from: one service `bench` proxying to `url`,
 * with `routes` (YAML lines indented for the service's `routes:` list) and `tail` (top-level
 * YAML after the services, e.g. global plugins).
 */
export function benchServiceYaml(url: string, routes: string, tail = ''): string {
  return `_format_version: "3.0"
services:
  - name: bench
    url: ${url}
    routes:
${routes}${tail}`;
}

/** The route most benches measure: GET /tiny passed through untouched. */
export const TINY_ROUTE = `      - name: tiny
        paths: [/tiny]
        strip_path: false
`;

/** Before any load: GET `path` must answer 200, or the bench stops naming `who`. */
export async function expectOk(who: string, port: number, path: string): Promise<void> {
  const r = await fetchOnce({ port, path });
  if (r.status !== 200) throw new Error(`${who}: GET ${path} got ${r.status} ${r.body}`);
}

/** The value of one Prometheus series (`name{labels}`, exactly as rendered) on the admin API's /metrics; 0 when absent. */
export async function scrapeSeries(adminPort: number, series: string): Promise<number> {
  const res = await fetchOnce({ port: adminPort, path: '/metrics' });
  if (res.status !== 200) throw new Error(`/metrics on :${adminPort}: ${res.status}`);
  const line = res.body.toString().split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
