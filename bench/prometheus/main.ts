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
import { benchServiceYaml, TINY_ROUTE } from '../lib/floodgate';
import { runBench } from '../lib/harness';
import { measureOnOff, onOffRatio, onOffRows } from '../lib/on-off';
import { machineLine, publish } from '../lib/report';
import { benchSettings } from '../lib/settings';

const S = benchSettings('prometheus');
const WORKERS = envInt('WORKERS', 1);

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
  const r = await measureOnOff(S, {
    name: 'prometheus',
    workers: WORKERS,
    yaml: (upstreamPort, id) => gatewayYaml(upstreamPort, id === 'on'),
    series: MEASURED_SERIES,
    describe: `${WORKERS} worker(s)`,
  });
  if (r.counted === 0) throw new Error('the "on" gateway shows no kong_http_requests_total for the measured route');
  const md = `# prometheus plugin overhead (${S.stamp})

Floodgate with a global \`prometheus\` entry (status code, latency, bandwidth and upstream health
metrics on) vs without, ${WORKERS} worker(s) each, \`--metrics on\` for both, in front of NGINX
(\`bench/nginx/bench-upstream.conf.tmpl\`, GET /tiny). wrk -t${S.threads} -c${S.conns}, ${S.duration} s per run, ${S.warmup} s warm-up,
${S.rounds} interleaved rounds (order alternating), medians. /metrics scraped once per round (not under load).
The "on" gateway's kong_http_requests_total counted ${r.counted} requests on the measured route by the last scrape. Measured rounds took ${r.minutes} min.

${machineLine()}

**Throughput with the prometheus plugin on / off: ${onOffRatio(r).toFixed(3)}x**.

| contender | req/s (median) | vs off | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${onOffRows('prometheus', r)}

Reproduce: \`make bench-prometheus\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS; see bench/prometheus/main.ts).
`;
  publish(S.out, md);
}

runBench('prometheus', main);
