/**
 * Peer benchmark (`make bench`, `make bench-quick`): Floodgate against NGINX, HAProxy, Caddy and three
 * Node proxies, all in front of the same NGINX upstream, same worker count, same wrk load,
 * interleaved rounds, medians, CPU per contender. Settings: bench/peers/settings.ts.
 *
 * Flow, per worker count N: start the contenders a scenario needs (kept running for the following
 * scenarios that need them too), verify each really proxies that scenario, warm each up, then
 * ROUNDS rounds of "every contender once". Progress goes to stderr; the markdown report goes to
 * stdout and to bench/results/ (with a .json of every run next to it).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTENDERS, directContender, type ClientRequest, type Contender } from './contenders';
import { groupCpuSeconds } from './cpu';
import { describeMachine, loadAverage } from './machine';
import { freePorts } from './ports';
import { installExitHooks, isStopping, stopAll, stopService, type Service } from './procs';
import { renderReport } from './report';
import type { ContenderRuns, ScenarioRuns } from './results';
import { scenarios as allScenarios, type Scenario } from './scenarios';
import { loadSettings, type Settings } from './settings';
import { startUpstream } from './upstream';
import { runWrk, type WrkLoad } from './wrk';

interface Running {
  contender: Contender;
  svc: Service;
  port: number;
  /** false for "direct" (the upstream itself) */
  owned: boolean;
  /** what requests through it must carry (the auth scenario's credentials); `{}` for most */
  client: ClientRequest;
}

const log = (msg: string) => process.stderr.write(`# ${msg}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Variants of plain Floodgate that join its scenarios when CONTENDERS names them. */
const FLOODGATE_VARIANTS = ['floodgate-native', 'floodgate-parallel-gc'];

/** Contender ids a scenario runs with these settings ("direct" only where asked for and meaningful). */
function lineup(sc: Scenario, s: Settings): string[] {
  const ids = s.contenders ? sc.contenders.filter((id) => s.contenders!.includes(id)) : [...sc.contenders];
  if (s.contenders?.includes('direct') && sc.id !== 'routes100') ids.unshift('direct');
  // FLOODGATE_BASELINE_DIST (an older build's dist/): that build runs beside Floodgate in every
  // scenario Floodgate runs with its plain config, for a change's before and after in one run.
  const plainFloodgate = ids.indexOf('floodgate');
  if (process.env.FLOODGATE_BASELINE_DIST && plainFloodgate >= 0 && sc.id !== 'auth-rl' && !ids.includes('floodgate-baseline')) {
    ids.splice(plainFloodgate + 1, 0, 'floodgate-baseline');
  }
  // CONTENDERS naming a variant of plain Floodgate (the native engine; V8's GC threads): it runs
  // beside Floodgate in the same scenarios (tiny, 64k, upload), not only in its own.
  for (const variant of FLOODGATE_VARIANTS) {
    if (s.contenders?.includes(variant) && plainFloodgate >= 0 && sc.id !== 'auth-rl' && !ids.includes(variant)) {
      ids.splice(plainFloodgate + 1, 0, variant);
    }
  }
  return ids;
}

function commandLine(s: Settings): string {
  const env = ['ROUNDS', 'DURATION', 'WARMUP', 'WORKERS', 'SCENARIOS', 'CONTENDERS', 'THREADS', 'CONNS', 'UPSTREAM_WORKERS', 'PAUSE_MS']
    .filter((k) => process.env[k])
    .map((k) => `${k}=${process.env[k]}`);
  return [...env, s.quick ? 'make bench-quick' : s.auth ? 'make bench-auth' : 'make bench'].join(' ');
}

function preflight(s: Settings): void {
  const need = [join(s.root, 'dist', 'src', 'cli.js'), join(s.root, 'dist', 'bench', 'peers', 'servers', 'fastify-http-proxy.js')];
  for (const f of need) if (!existsSync(f)) throw new Error(`${relative(s.root, f)} missing: run make build`);
  const tools: Record<string, string> = { nginx: s.bin.nginx, haproxy: s.bin.haproxy, wrk: s.bin.wrk };
  if (s.contenders === null || s.contenders.includes('caddy')) tools.caddy = s.bin.caddy;
  for (const [name, bin] of Object.entries(tools)) {
    const r = spawnSync(bin, ['-v'], { stdio: 'ignore' });
    if (r.error) throw new Error(`${name} (${bin}) cannot run: ${r.error.message}; run make bench-tools`);
  }
}

function estimateSeconds(s: Settings, scs: Scenario[]): number {
  const runs = scs.reduce((n, sc) => n + lineup(sc, s).length, 0) * s.workers.length;
  return runs * (s.rounds * (s.duration + s.pauseMs / 1000 + 0.2) + s.warmup + 1);
}

/** Warm-up, then ROUNDS rounds of every contender once, in the same order. */
async function measure(settings: Settings, sc: Scenario, workers: number, order: Running[]): Promise<ScenarioRuns> {
  const load = (r: Running, seconds: number): WrkLoad => ({
    wrk: settings.bin.wrk,
    threads: settings.threads,
    conns: settings.conns,
    seconds,
    url: `http://127.0.0.1:${r.port}${sc.path}`,
    script: r.client.script?.path ?? sc.script,
    scriptArgs: r.client.script?.args,
    headers: r.client.headers,
  });
  const slots: ContenderRuns[] = order.map((r) => ({ id: r.contender.id, label: r.contender.label, warmup: null, runs: [] }));
  const tag = (r: Running) => `[${workers}w] ${sc.id} ${r.contender.id}`;

  if (settings.warmup > 0) {
    for (const [i, r] of order.entries()) {
      const wrk = await runWrk(load(r, settings.warmup));
      slots[i].warmup = wrk;
      if (wrk.errors) log(`${tag(r)} warm-up: ${wrk.errors} errors`);
    }
  }
  for (let round = 1; round <= settings.rounds; round++) {
    for (const [i, r] of order.entries()) {
      await sleep(settings.pauseMs);
      const cpu0 = groupCpuSeconds(r.svc.pgid);
      const wrk = await runWrk(load(r, settings.duration));
      const cpuSeconds = groupCpuSeconds(r.svc.pgid) - cpu0;
      slots[i].runs.push({ round, wrk, cpuSeconds });
      const err = wrk.errors ? `  !! ${wrk.non2xx} non-2xx, socket errors ${JSON.stringify(wrk.socketErrors)}` : '';
      const died = r.svc.exited ? `  !! process exited (${r.svc.exitInfo})` : '';
      log(`${tag(r)} round ${round}/${settings.rounds}: ${fmt(wrk.rps)} req/s, p99 ${wrk.p99ms.toFixed(2)} ms, CPU ${((100 * cpuSeconds) / wrk.seconds).toFixed(0)}%${err}${died}`);
    }
  }
  return { scenario: sc.id, title: sc.title, workers, baseline: sc.baseline, contenders: slots };
}

async function main(): Promise<void> {
  const root = resolve(__dirname, '..', '..', '..');
  const settings = loadSettings(process.argv.slice(2), root);
  installExitHooks();
  preflight(settings);

  const scs = allScenarios(root).filter((sc) => settings.scenarios.includes(sc.id));
  const byId = new Map(CONTENDERS.map((c) => [c.id, c]));
  const tmp = mkdtempSync(join(tmpdir(), 'fg-bench-'));
  chmodSync(tmp, 0o755); // NGINX workers run as nobody when we are root: they must read www/64k
  // configs and logs of every process live here: removed on the way out, kept if the run failed
  process.on('exit', (code) => {
    if (code === 0 || isStopping()) rmSync(tmp, { recursive: true, force: true });
    else process.stderr.write(`# configs and logs kept in ${tmp}\n`);
  });
  const started = new Date();
  const loadBefore = loadAverage();
  const machine = describeMachine(settings);
  log(`${commandLine(settings)}: workers ${settings.workers.join(',')}, scenarios ${scs.map((x) => x.id).join(',')}, ${settings.rounds} rounds x ${settings.duration}s; about ${Math.ceil(estimateSeconds(settings, scs) / 60)} min; tmp ${tmp}`);

  const [upstreamPort] = await freePorts(1);
  const upstream = await startUpstream({ nginx: settings.bin.nginx, root, dir: join(tmp, 'upstream'), port: upstreamPort, workers: settings.upstreamWorkers });
  byId.set('direct', directContender(upstream));
  log(`upstream NGINX on 127.0.0.1:${upstreamPort}`);

  const results: ScenarioRuns[] = [];
  const excluded: string[] = [];

  for (const workers of settings.workers) {
    const running = new Map<string, Running>();

    const start = async (id: string): Promise<Running> => {
      const contender = byId.get(id);
      if (!contender) throw new Error(`unknown contender ${id}`);
      if (id === 'direct') return { contender, svc: upstream, port: upstreamPort, owned: false, client: {} };
      const [port] = await freePorts(1);
      const dir = join(tmp, `w${workers}-${id}`);
      mkdirSync(dir, { recursive: true });
      const ctx = { settings, workers, upstreamPort, port, dir };
      const svc = await contender.start(ctx);
      log(`[${workers}w] started ${contender.label} on :${port} (pgid ${svc.pgid})`);
      return { contender, svc, port, owned: true, client: contender.client?.(ctx) ?? {} };
    };

    for (const [i, sc] of scs.entries()) {
      // start what this scenario needs, verify it, stop what no later scenario needs
      const ids: string[] = [];
      for (const id of lineup(sc, settings)) {
        try {
          if (!running.has(id)) running.set(id, await start(id));
          const r = running.get(id)!;
          await sc.verify(r.port, r.client);
          ids.push(id);
          log(`[${workers}w] ${sc.id}: ${id} verified`);
        } catch (e) {
          const why = `${workers} worker(s), ${sc.id}, ${id}: ${(e as Error).message}`;
          excluded.push(why);
          log(`EXCLUDED ${why}`);
        }
      }
      const later = new Set(scs.slice(i + 1).flatMap((x) => lineup(x, settings)));
      for (const [id, r] of running) {
        if (!ids.includes(id) && !later.has(id)) {
          if (r.owned) await stopService(r.svc);
          running.delete(id);
        }
      }
      if (!ids.length || settings.rounds === 0) continue;

      results.push(await measure(settings, sc, workers, ids.map((id) => running.get(id)!)));
    }
    for (const r of running.values()) if (r.owned) await stopService(r.svc);
  }
  await stopService(upstream);

  if (settings.rounds === 0) {
    log(excluded.length ? `verification FAILED for ${excluded.length}:\n${excluded.join('\n')}` : 'every contender verified (ROUNDS=0: no load, no report)');
    process.exitCode = excluded.length ? 1 : 0;
    return;
  }

  const report = renderReport({
    settings,
    machine,
    scenarios: scs,
    contenders: [...byId.values()],
    results,
    excluded,
    started,
    finished: new Date(),
    loadBefore,
    loadAfter: loadAverage(),
    command: commandLine(settings),
  });
  mkdirSync(dirname(settings.out), { recursive: true });
  writeFileSync(settings.out, report);
  const json = settings.out.replace(/\.md$/, '') + '.json';
  writeFileSync(json, JSON.stringify({ settings, machine, excluded, results }, (k, v) => (k === 'raw' ? undefined : v), 1));
  process.stdout.write(report);
  log(`written: ${relative(root, settings.out)} and ${relative(root, json)}`);
}

main().catch(async (e) => {
  if (isStopping()) return; // the signal handler is already stopping everything and exiting
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  await stopAll();
  process.exit(1);
});
