/**
 * What TLS costs (`make bench-tls`): Floodgate's HTTPS listener against NGINX terminating TLS,
 * 1 worker each, both in front of the bench NGINX upstream, the same ECDSA P-256 certificate
 * (made by openssl for the run), protocols and TLS 1.2 suites. Floodgate's plain listener (same
 * process) is the reference for what TLS itself costs.
 *
 * Two scenarios, wrk -t1 -cCONNS on GET /tiny:
 *   - keepalive: HTTPS/1.1 requests on kept-alive connections (throughput);
 *   - handshake: `Connection: close`, so every request is a new TCP + TLS connection (full
 *     handshakes: wrk does not resume sessions), i.e. new connections per second.
 * Rounds are interleaved (contender order alternating), medians; ratios to NGINX.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 NGINX=/usr/sbin/nginx WRK=wrk OUT=bench/results/tls-<date>.md
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TLS12_CIPHERS } from '../../src/tls/listener';
import { startNginx } from '../peers/nginx-process';
import { freePorts } from '../peers/ports';
import type { WrkResult } from '../peers/wrk';
import { benchServiceYaml, expectOk, startGateway, TINY_ROUTE } from '../lib/floodgate';
import { benchDir, finish, runBench, startBenchUpstream } from '../lib/harness';
import { machineLine, medianRps, publish, resultRow } from '../lib/report';
import { runRounds, wrk } from '../lib/rounds';
import { benchSettings } from '../lib/settings';

const S = benchSettings('tls');
const SCENARIOS = ['keepalive', 'handshake'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** One contender under one scenario. */
interface Cell {
  readonly id: string;
  readonly scenario: Scenario;
  readonly url: string;
  readonly runs: WrkResult[];
}

async function main(): Promise<void> {
  const dir = benchDir('tls');
  const [upstreamPort, fgPort, fgTls, fgAdmin, ngPort, ngTls] = await freePorts(6);
  await startBenchUpstream(S, dir, upstreamPort);

  const cert = join(dir, 'bench.crt');
  const key = join(dir, 'bench.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-keyout', key, '-out', cert, '-subj', '/CN=localhost'], { stdio: 'ignore' });

  const fg = await startGateway({
    name: 'floodgate-tls', root: S.root, dir, file: 'floodgate', workers: 1, port: fgPort, adminPort: fgAdmin,
    yaml: benchServiceYaml(`http://127.0.0.1:${upstreamPort}`, TINY_ROUTE),
    extraArgs: ['--listen-tls', `127.0.0.1:${fgTls}`, '--tls-cert', cert, '--tls-key', key],
  });
  await startNginx({
    name: 'nginx-tls', nginx: S.nginx, template: join(S.root, 'bench', 'nginx', 'tls-proxy.conf.tmpl'), dir: join(dir, 'nginx'),
    values: { PORT: ngPort, TLS_PORT: ngTls, UPSTREAM_PORT: upstreamPort, CERT: cert, KEY: key, CIPHERS: TLS12_CIPHERS },
    readyPath: '/tiny',
  });
  await expectOk('floodgate', fgPort, '/tiny');

  const contenders = [
    { id: 'nginx https', url: `https://127.0.0.1:${ngTls}/tiny` },
    { id: 'floodgate https', url: `https://127.0.0.1:${fgTls}/tiny` },
    { id: 'floodgate http', url: `http://127.0.0.1:${fgPort}/tiny` },
  ];
  const cells = (s: Scenario): Cell[] => contenders.map((c) => ({ ...c, scenario: s, runs: [] }));
  const groups: Record<Scenario, Cell[]> = { keepalive: cells('keepalive'), handshake: cells('handshake') };
  const minutes = await runRounds(S, {
    groups: SCENARIOS.map((s) => groups[s]),
    order: 'alternate',
    load: (c, seconds) => wrk(S, c.url, seconds, { headers: c.scenario === 'handshake' ? { Connection: 'close' } : undefined }),
    label: (c) => `${c.scenario.padEnd(9)} ${c.id.padEnd(15)}`,
  });
  await finish([fg], [dir]);

  const table = (s: Scenario) => {
    const base = medianRps(groups[s][0].runs);
    return groups[s].map((c) => resultRow(c.id, c.runs, [(medianRps(c.runs) / base).toFixed(2)])).join('\n');
  };
  const head = '| contender | req/s (median) | vs NGINX https | p50 ms | p99 ms | errors | req/s per round |\n|---|---:|---:|---:|---:|---:|---|';
  const md = `# TLS termination (${S.stamp})

Floodgate (1 worker) and NGINX (1 worker) terminating TLS in front of the bench NGINX upstream, ECDSA P-256,
TLS 1.2/1.3 with the same TLS 1.2 suites (wrk negotiates TLS 1.3). wrk -t${S.threads} -c${S.conns}, ${S.duration} s per run, ${S.warmup} s warm-up,
${S.rounds} interleaved rounds, medians. Measured rounds took ${minutes} min.
${machineLine()}

## HTTPS/1.1, kept-alive connections (GET /tiny)

${head}
${table('keepalive')}

## New connection per request (\`Connection: close\`: TCP + full TLS handshake each)

${head}
${table('handshake')}

In the second table, "errors" would be wrk read errors, not failed requests: a server that closes after a
\`Connection: close\` request without saying so in the response (uWS alone does) makes wrk write its next request on the
closing socket, see EOF and reconnect. Floodgate says \`Connection: close\` since 2026-12-03 (DownstreamResponse.announceClose).

Reproduce: \`make bench-tls\` (env: ROUNDS DURATION WARMUP CONNS THREADS; see bench/tls/main.ts).
`;
  publish(S.out, md);
}

runBench('tls', main);
