/**
 * Floodgate itself: `node dist/src/cli.js start` with --workers N (worker threads, one process).
 * Ready when stderr logs "floodgate listening"; SIGTERM drains and exits.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answers } from '../http-check';
import { readLog, startService, waitReady, type Service } from '../procs';
import { routeTable } from '../route-table';
import { NODE_FLAGS } from '../../../src/cluster/node-flags';
import type { Contender, StartContext } from './types';

/** One service, one catch-all route, path passed through untouched. */
export function singleRouteYaml(upstreamPort: number): string {
  return `_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: bench
        paths: [/]
        strip_path: false
`;
}

/** The 100 routes of route-table.ts on one service, prefixes stripped (upstream sees /tiny). */
export function hundredRoutesYaml(upstreamPort: number): string {
  const routes = routeTable().map((r) => {
    const path = r.kind === 'regex' ? `~${r.prefix}v\\d+` : r.prefix;
    const lines = [`      - name: ${r.name}`, `        paths: [${JSON.stringify(path)}]`];
    if (r.host) lines.push(`        hosts: [${JSON.stringify(r.host)}]`);
    lines.push('        strip_path: true');
    return lines.join('\n');
  });
  return `_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}
    routes:
${routes.join('\n')}
`;
}

/** Writes the YAML, starts Floodgate, waits for its log line and for GET `readyPath` to answer `readyStatus`. */
export async function startFloodgate(
  ctx: StartContext,
  name: string,
  yaml: string,
  readyPath: string,
  extraArgs: readonly string[] = [],
  readyStatus = 200,
  env: Readonly<Record<string, string>> = {},
  cli = 'dist/src/cli.js',
  nodeFlags: readonly string[] = NODE_FLAGS,
): Promise<Service> {
  const config = join(ctx.dir, 'floodgate.yaml');
  writeFileSync(config, yaml);
  const args = [
    ...nodeFlags, cli, 'start', '-c', config,
    '--workers', String(ctx.workers),
    '--listen', `127.0.0.1:${ctx.port}`,
    '--access-log', 'off',
    '--drain-timeout', '2000',
    ...extraArgs,
  ];
  const svc = startService(name, ctx.settings.bin.node, args, { cwd: ctx.settings.root, logPrefix: join(ctx.dir, 'floodgate'), env: { ...process.env, ...env } });
  await waitReady(svc, () => readLog(svc.stderrPath).includes('"msg":"floodgate listening"'));
  await waitReady(svc, () => answers(ctx.port, readyPath, readyStatus));
  return svc;
}

export const floodgate: Contender = {
  id: 'floodgate',
  label: 'Floodgate',
  setup: `node ${NODE_FLAGS.join(' ')} dist/src/cli.js start --workers N --access-log off; one route "/" (strip_path false)`,
  start: (ctx) => startFloodgate(ctx, 'floodgate', singleRouteYaml(ctx.upstreamPort), '/tiny'),
};

export const floodgate100: Contender = {
  id: 'floodgate-100',
  label: 'Floodgate, 100 routes',
  setup: '100 routes /svc-0/../svc-99/ (80 prefix, 10 host, 10 regex), strip_path true',
  start: (ctx) => startFloodgate(ctx, 'floodgate-100', hundredRoutesYaml(ctx.upstreamPort), '/svc-57/tiny'),
};

/** The same as `floodgate`, with each worker thread pinned to its own CPU (--cpu-affinity auto). */
export const floodgatePinned: Contender = {
  id: 'floodgate-pinned',
  label: 'Floodgate, pinned',
  setup: 'as Floodgate, plus --cpu-affinity auto (worker i on CPU i-1)',
  start: (ctx) => startFloodgate(ctx, 'floodgate-pinned', singleRouteYaml(ctx.upstreamPort), '/tiny', ['--cpu-affinity', 'auto']),
};

/** The same Floodgate on the uWS v20.30 fallback (src/proxy/uws.ts): the upgrade's before and after. */
export const floodgateLegacyUws: Contender = {
  id: 'floodgate-uws-legacy',
  label: 'Floodgate, uWS v20.30',
  setup: 'as Floodgate, with FLOODGATE_UWS=legacy (the uWS v20.30 fallback)',
  start: (ctx) => startFloodgate(ctx, 'floodgate-uws-legacy', singleRouteYaml(ctx.upstreamPort), '/tiny', [], 200, { FLOODGATE_UWS: 'legacy' }),
};

/** The same Floodgate with the C response parser (--upstream-engine native). */
export const floodgateNative: Contender = {
  id: 'floodgate-native',
  label: 'Floodgate, native engine',
  setup: 'as Floodgate, with --upstream-engine native',
  start: (ctx) => startFloodgate(ctx, 'floodgate-native', singleRouteYaml(ctx.upstreamPort), '/tiny', ['--upstream-engine', 'native']),
};

/** The same Floodgate with V8's background GC threads (node without --single-threaded-gc). */
export const floodgateParallelGc: Contender = {
  id: 'floodgate-parallel-gc',
  label: 'Floodgate, parallel GC',
  setup: "as Floodgate, without node's --single-threaded-gc (V8's background GC threads, node-flags.ts)",
  start: (ctx) => startFloodgate(ctx, 'floodgate-parallel-gc', singleRouteYaml(ctx.upstreamPort), '/tiny', [], 200, {}, 'dist/src/cli.js', []),
};

/**
 * An older build (FLOODGATE_BASELINE_DIST: its dist/ directory, e.g. from `git worktree add` at a
 * commit and `make build`) under the same settings: a change's before and after, same run.
 */
export const floodgateBaseline: Contender = {
  id: 'floodgate-baseline',
  label: 'Floodgate, baseline build',
  setup: 'the build in FLOODGATE_BASELINE_DIST, same flags as Floodgate',
  start: (ctx) =>
    startFloodgate(ctx, 'floodgate-baseline', singleRouteYaml(ctx.upstreamPort), '/tiny', [], 200, {}, join(process.env.FLOODGATE_BASELINE_DIST ?? 'dist', 'src', 'cli.js')),
};
