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
import { benchServiceYaml, TINY_ROUTE } from '../lib/floodgate';
import { runBench } from '../lib/harness';
import { measureOnOff, onOffRatio, onOffRows, type OnOff } from '../lib/on-off';
import { machineLine, publish } from '../lib/report';
import { benchSettings } from '../lib/settings';

const S = benchSettings('metrics');
const WORKERS = envInt('WORKERS', 1);
const ROUTES = Math.max(1, envInt('ROUTES', 1));

function gatewayYaml(upstreamPort: number): string {
  const extra = Array.from({ length: ROUTES - 1 }, (_, i) => `      - name: extra-${i}\n        paths: [/extra-${i}/]\n`);
  return benchServiceYaml(`http://127.0.0.1:${upstreamPort}`, extra.join('') + TINY_ROUTE);
}

async function main(): Promise<void> {
  const r = await measureOnOff(S, {
    name: 'metrics',
    workers: WORKERS,
    yaml: (upstreamPort) => gatewayYaml(upstreamPort),
    extraArgs: (id: OnOff) => ['--metrics', id],
    series: 'floodgate_http_requests_total{service="bench",route="tiny",code="200"}',
    describe: `${WORKERS} worker(s), ${ROUTES} route(s)`,
  });
  const md = `# Metrics overhead (${S.stamp})

Floodgate \`--metrics on\` vs \`--metrics off\`, ${WORKERS} worker(s) each, ${ROUTES} route(s), in front of NGINX
(\`bench/nginx/bench-upstream.conf.tmpl\`, GET /tiny). wrk -t${S.threads} -c${S.conns}, ${S.duration} s per run, ${S.warmup} s warm-up,
${S.rounds} interleaved rounds (order alternating), medians. /metrics scraped once per round (not under load).
The "on" gateway counted ${r.counted} requests on the measured route by the last scrape. Measured rounds took ${r.minutes} min.

${machineLine()}

**Throughput with metrics on / off: ${onOffRatio(r).toFixed(3)}x** (target >= 0.95x).

| contender | req/s (median) | vs off | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---|
${onOffRows('metrics', r)}

Reproduce: \`make bench-metrics\` (env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS ROUTES; see bench/metrics/main.ts).
`;
  publish(S.out, md);
}

runBench('metrics', main);
