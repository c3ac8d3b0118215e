/**
 * What Kong's prometheus plugin costs (`make bench-prometheus`): the same gateway without and
 * with a global `prometheus` entry (status_code_metrics, latency_metrics, bandwidth_metrics and
 * upstream_health_metrics on; per_consumer off, as no consumer authenticates here), 1 worker
 * each, both running for the whole benchmark, in front of the bench NGINX upstream, wrk -t1 -c50
 * on GET /tiny. Rounds are interleaved (on, off, off, on, ...: the order alternates each round),
 * medians; the headline is throughput with the plugin on as a ratio to off. `/metrics` is scraped
 * once per round on the "on" gateway (not under load), and must show Kong's counter.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 WORKERS=1
 *   NGINX=/usr/sbin/nginx WRK=wrk OUT=bench/results/prometheus-<date>.md
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

const S = benchSettings('prometheus');
const WORKERS = envInt('WORKERS', 1);

interface Contender {
  readonly id: 'on' | 'off';
  readonly port: number;
  readonly adminPort: number;
  readonly runs: WrkResult[];
  service?: Service;
}

function gatewayYaml(upstreamPort: number, prometheus: boolean): string {
  const plugin = `plugins:
  - name: prometheus
    config: { status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true }
`;
  return benchServiceYaml(`http://127.0.0.1:${upstreamPort}`, TINY_ROUTE, prometheus ? plugin : '');
}

/** Kong's request counter for the measured route, as the plugin renders it. */
const MEASURED_SERIES = 'kong_http_requests_total{service="bench",route="tiny",code="200",source="service",workspace="default",consumer=""}';

async function main(): Promise<void> {
  const dir = benchDir('prometheus');
  const [upstreamPort, onPort, onAdmin, offPort, offAdmin] = await freePorts(5);
  await startBenchUpstream(S, dir, upstreamPort);
  const contenders: Contender[] = [
    { id: 'on', port: onPort, adminPort: onAdmin, runs: [] },
    { id: 'off', port: offPort, adminPort: offAdmin, runs: [] },
  ];
  for (const c of contenders) {
    c.service = await startGateway({
      name: `floodgate-prometheus-${c.id}`, root: S.root, dir, file: `floodgate-${c.id}`, yaml: gatewayYaml(upstreamPort, c.id === 'on'),
      workers: WORKERS, port: c.port, adminPort: c.adminPort,
    });
  }
  for (const c of contenders) await expectOk(`prometheus ${c.id}`, c.port, '/tiny');
  log(`upstream nginx :${upstreamPort}; prometheus on :${onPort}, off :${offPort}; ${WORKERS} worker(s)`);

  let counted = 0;
  const minutes = await runRounds(S, {
    groups: [contenders],
    order: 'alternate',
    load: (c, seconds) => wrk(S, `http://127.0.0.1:${c.port}/tiny`, seconds),
    label: (c) => `prometheus ${c.id.padEnd(3)}`,
    afterRound: async () => {
      counted = await scrapeSeries(onAdmin, MEASURED_SERIES);
    },
  });
  if (counted === 0) throw new Error('the "on" gateway shows no kong_http_requests_total for the measured route');
  await finish(contenders.map((c) => c.service!), [dir]);

  const [on, off] = contenders;
  const ratio = medianRps(on.runs) / medianRps(off.runs);
  const row = (c: Contender) => resultRow(`prometheus ${c.id}`, c.runs, [(medianRps(c.runs) / medianRps(off.runs)).toFixed(3)]);
  const md = `# prometheus plugin overhead (${S.stamp})

Floodgate with a global \`prometheus\` entry (status code, latency, bandwidth and upstream health
metrics on) vs without, ${WORKERS} worker(s) each, \`--metrics on\` for both, in front of NGINX
(\`bench/nginx/bench-upstream.conf.tmpl\`, GET /tiny). wrk -t${S.threads} -c${S.conns}, ${S.duration} s per run, ${S.warmup} s warm-up,
${S.rounds} interleaved rounds (order alternating), medians. /metrics scraped once per round (not under load).
The "on" gateway's kong_http_requests_total counted ${counted} requests on the measured route by the last scrape. Measured rounds took ${minutes} min.

${machineLine()}

**Throughput with the prometheus plugin on / off: ${ratio.toFixed(3)}x**.

| contender | req/s (median) | vs off | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${row(on)}
${row(off)}

Reproduce: \`make bench-prometheus\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS; see bench/prometheus/main.ts).
`;
  publish(S.out, md);
}

runBench('prometheus', main);
