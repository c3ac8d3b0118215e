/**
 * What metrics cost (`make bench-metrics`): the same gateway with `--metrics on` and
 * `--metrics off` (1 worker each, both running for the whole benchmark) in front of the bench
 * NGINX upstream, wrk -t1 -c50 on GET /tiny. Rounds are interleaved (on, off, off, on, ...: the
 * order alternates each round), medians; the headline is throughput with metrics on as a ratio to
 * metrics off (target: at least 0.95x). `/metrics` is scraped once per round on the "on" gateway,
 * so rendering is exercised but not measured as load.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 WORKERS=1 ROUTES=1
 *   NGINX=/usr/sbin/nginx WRK=wrk OUT=bench/results/metrics-<date>.md
 *
 * ROUTES > 1 adds that many extra routes (each with its own cell), to show the cost does not grow
 * with the route count (no per-request label lookup).
 */
import { envInt } from '../peers/env';
import { freePorts } from '../peers/ports';
import type { Service } from '../peers/procs';
import type { WrkResult } from '../peers/wrk';
import { benchServiceYaml, expectOk, scrapeSeries, startGateway, TINY_ROUTE } from '../lib/floodgate';
import { benchDir, finish, log, runBench, startBenchUpstream } from '../lib/harness';
import { machineLine, medianRps, publish, resultRow } from '../lib/report';
import { runRounds, wrk } from '../lib/rounds';
import { benchSettings } from '../lib/settings';

const S = benchSettings('metrics');
const WORKERS = envInt('WORKERS', 1);
const ROUTES = Math.max(1, envInt('ROUTES', 1));

interface Contender {
  readonly id: 'on' | 'off';
  readonly port: number;
  readonly adminPort: number;
  readonly runs: WrkResult[];
  service?: Service;
}

function gatewayYaml(upstreamPort: number): string {
  const extra = Array.from({ length: ROUTES - 1 }, (_, i) => `      - name: extra-${i}\n        paths: [/extra-${i}/]\n`);
  return benchServiceYaml(`http://127.0.0.1:${upstreamPort}`, extra.join('') + TINY_ROUTE);
}

async function main(): Promise<void> {
  const dir = benchDir('metrics');
  const [upstreamPort, onPort, onAdmin, offPort, offAdmin] = await freePorts(5);
  await startBenchUpstream(S, dir, upstreamPort);
  const contenders: Contender[] = [
    { id: 'on', port: onPort, adminPort: onAdmin, runs: [] },
    { id: 'off', port: offPort, adminPort: offAdmin, runs: [] },
  ];
  for (const c of contenders) {
    c.service = await startGateway({
      name: `floodgate-metrics-${c.id}`, root: S.root, dir, file: `floodgate-${c.id}`, yaml: gatewayYaml(upstreamPort),
      workers: WORKERS, port: c.port, adminPort: c.adminPort, extraArgs: ['--metrics', c.id],
    });
  }
  for (const c of contenders) await expectOk(`metrics ${c.id}`, c.port, '/tiny');
  log(`upstream nginx :${upstreamPort}; metrics on :${onPort}, off :${offPort}; ${WORKERS} worker(s), ${ROUTES} route(s)`);

  let counted = 0;
  const minutes = await runRounds(S, {
    groups: [contenders],
    order: 'alternate',
    load: (c, seconds) => wrk(S, `http://127.0.0.1:${c.port}/tiny`, seconds),
    label: (c) => `metrics ${c.id.padEnd(3)}`,
    afterRound: async () => {
      counted = await scrapeSeries(onAdmin, 'floodgate_http_requests_total{service="bench",route="tiny",code="200"}');
    },
  });
  await finish(contenders.map((c) => c.service!), [dir]);

  const [on, off] = contenders;
  const ratio = medianRps(on.runs) / medianRps(off.runs);
  const row = (c: Contender) => resultRow(`metrics ${c.id}`, c.runs, [(medianRps(c.runs) / medianRps(off.runs)).toFixed(3)]);
  const md = `# Metrics overhead (${S.stamp})

Floodgate \`--metrics on\` vs \`--metrics off\`, ${WORKERS} worker(s) each, ${ROUTES} route(s), in front of NGINX
(\`bench/nginx/bench-upstream.conf.tmpl\`, GET /tiny). wrk -t${S.threads} -c${S.conns}, ${S.duration} s per run, ${S.warmup} s warm-up,
${S.rounds} interleaved rounds (order alternating), medians. /metrics scraped once per round (not under load).
The "on" gateway counted ${counted} requests on the measured route by the last scrape. Measured rounds took ${minutes} min.

${machineLine()}

**Throughput with metrics on / off: ${ratio.toFixed(3)}x** (target >= 0.95x).

| contender | req/s (median) | vs off | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${row(on)}
${row(off)}

Reproduce: \`make bench-metrics\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS ROUTES; see bench/metrics/main.ts).
`;
  publish(S.out, md);
}

runBench('metrics', main);
