/**
 * The "what does feature X cost" pair (bench-metrics, bench-prometheus): two gateways that differ
 * only in X, each with its admin API, both running for the whole benchmark, GET /tiny in
 * alternating rounds, and one Prometheus series scraped on the "on" gateway after every round
 * (so rendering /metrics is exercised, but not under load).
 */
import { freePorts } from '../peers/ports';
import type { WrkResult } from '../peers/wrk';
import { expectOk, scrapeSeries, startGateway } from './floodgate';
import { benchDir, finish, log, startBenchUpstream } from './harness';
import { medianRps, resultRow } from './report';
import { runRounds, wrk } from './rounds';
import type { BenchSettings } from './settings';

export type OnOff = 'on' | 'off';

export interface OnOffPlan {
  /** the bench's name: temp dir, service names, progress lines and table rows ("metrics on") */
  name: string;
  workers: number;
  yaml(upstreamPort: number, id: OnOff): string;
  extraArgs?(id: OnOff): readonly string[];
  /** the series scraped on the "on" gateway after each round */
  series: string;
  /** the end of the "upstream nginx ...; on :P, off :P; " progress line */
  describe: string;
}

export interface OnOffResult {
  readonly on: WrkResult[];
  readonly off: WrkResult[];
  /** the series' value at the last scrape */
  readonly counted: number;
  readonly minutes: string;
}

export async function measureOnOff(s: BenchSettings, plan: OnOffPlan): Promise<OnOffResult> {
  const dir = benchDir(plan.name);
  const [upstreamPort, onPort, onAdmin, offPort, offAdmin] = await freePorts(5);
  await startBenchUpstream(s, dir, upstreamPort);
  const cells = [
    { id: 'on' as const, port: onPort, adminPort: onAdmin, runs: [] as WrkResult[] },
    { id: 'off' as const, port: offPort, adminPort: offAdmin, runs: [] as WrkResult[] },
  ];
  const services = [];
  for (const c of cells) {
    services.push(await startGateway({
      name: `floodgate-${plan.name}-${c.id}`, root: s.root, dir, file: `floodgate-${c.id}`, yaml: plan.yaml(upstreamPort, c.id),
      workers: plan.workers, port: c.port, adminPort: c.adminPort, extraArgs: plan.extraArgs?.(c.id),
    }));
  }
  for (const c of cells) await expectOk(`${plan.name} ${c.id}`, c.port, '/tiny');
  log(`upstream nginx :${upstreamPort}; ${plan.name} on :${onPort}, off :${offPort}; ${plan.describe}`);

  let counted = 0;
  const minutes = await runRounds(s, {
    groups: [cells],
    order: 'alternate',
    load: (c, seconds) => wrk(s, `http://127.0.0.1:${c.port}/tiny`, seconds),
    label: (c) => `${plan.name} ${c.id.padEnd(3)}`,
    afterRound: async () => {
      counted = await scrapeSeries(onAdmin, plan.series);
    },
  });
  await finish(services, [dir]);
  return { on: cells[0].runs, off: cells[1].runs, counted, minutes };
}

/** on / off median throughput. */
export function onOffRatio(r: OnOffResult): number {
  return medianRps(r.on) / medianRps(r.off);
}

/** The two table rows: `| <name> on | req/s | vs off | p50 | p99 | errors | per round |`, then off. */
export function onOffRows(name: string, r: OnOffResult): string {
  const row = (id: OnOff, runs: WrkResult[]) => resultRow(`${name} ${id}`, runs, [(medianRps(runs) / medianRps(r.off)).toFixed(3)]);
  return `${row('on', r.on)}\n${row('off', r.off)}`;
}
