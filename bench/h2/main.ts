/**
 * HTTP/2 against NGINX (`make bench-h2`): Floodgate's TLS listener speaking h2 (ALPN) and NGINX
 * `listen ... ssl http2`, 1 worker each, both in front of the same bench NGINX upstream over
 * HTTP/1.1 keep-alive, the same ECDSA P-256 certificate (made by openssl for the run), protocols
 * and TLS 1.2 suites. Load: h2load (nghttp2-client) -t1 -cCONNS -mSTREAMS, GET /tiny. Rounds are
 * interleaved (order alternating), medians; ratio to NGINX, p50/p99 from h2load's per-request log,
 * CPU-seconds per 10k requests of each contender's process group.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=10 STREAMS=10 H2LOAD=h2load NGINX=/usr/sbin/nginx
 *   OUT=bench/results/h2-<date>.md
 */
import { join } from 'node:path';
import { TLS12_CIPHERS } from '../../src/tls/listener';
import { envInt, envString } from '../peers/env';
import { startNginx } from '../peers/nginx-process';
import { freePorts } from '../peers/ports';
import type { Service } from '../peers/procs';
import { TINY_BODY } from '../peers/upstream';
import { makeBenchCertificate } from '../lib/certificate';
import { cpuPer10k, withGroupCpu, type CpuRun } from '../lib/cpu';
import { benchServiceYaml, startGateway, TINY_ROUTE } from '../lib/floodgate';
import { h2Request } from '../lib/h2-check';
import { runH2load } from '../lib/h2load';
import { benchDir, finish, log, runBench, startBenchUpstream } from '../lib/harness';
import { machineLine, medianRps, publish, resultRow } from '../lib/report';
import { runRounds } from '../lib/rounds';
import { benchSettings } from '../lib/settings';

const S = benchSettings('h2');
const CONNS = envInt('CONNS', 10);
const STREAMS = envInt('STREAMS', 10);
const H2LOAD = envString('H2LOAD', 'h2load');

interface Cell {
  readonly id: string;
  readonly svc: Service;
  readonly port: number;
  readonly runs: CpuRun[];
}

/** GET /tiny over h2 must be the upstream's answer. */
async function expectH2Tiny(who: string, port: number): Promise<void> {
  const r = await h2Request({ port, path: '/tiny' });
  if (r.status !== 200 || r.body.toString() !== TINY_BODY || r.headers['x-bench-upstream'] === undefined) {
    throw new Error(`${who}: h2 GET /tiny got ${r.status} ${JSON.stringify(r.body.toString())} (upstream header ${r.headers['x-bench-upstream'] ?? 'missing'})`);
  }
}

async function main(): Promise<void> {
  const dir = benchDir('h2');
  const [upstreamPort, fgPort, fgTls, ngPort, ngTls] = await freePorts(5);
  await startBenchUpstream(S, dir, upstreamPort);
  const { cert, key } = makeBenchCertificate(dir);

  const fg = await startGateway({
    name: 'floodgate-h2', root: S.root, dir, file: 'floodgate', workers: 1, port: fgPort,
    yaml: benchServiceYaml(`http://127.0.0.1:${upstreamPort}`, TINY_ROUTE),
    extraArgs: ['--listen-tls', `127.0.0.1:${fgTls}`, '--tls-cert', cert, '--tls-key', key, '--http2', 'on'],
  });
  const ng = await startNginx({
    name: 'nginx-h2', nginx: S.nginx, template: join(S.root, 'bench', 'nginx', 'h2-proxy.conf.tmpl'), dir: join(dir, 'nginx'),
    values: { PORT: ngPort, TLS_PORT: ngTls, UPSTREAM_PORT: upstreamPort, CERT: cert, KEY: key, CIPHERS: TLS12_CIPHERS },
    readyPath: '/tiny',
  });
  const cells: Cell[] = [
    { id: 'nginx h2', svc: ng, port: ngTls, runs: [] },
    { id: 'floodgate h2', svc: fg, port: fgTls, runs: [] },
  ];
  for (const c of cells) await expectH2Tiny(c.id, c.port);
  log(`upstream nginx :${upstreamPort}; nginx h2 :${ngTls}, floodgate h2 :${fgTls}; h2load -c${CONNS} -m${STREAMS}`);

  const minutes = await runRounds(S, {
    groups: [cells],
    order: 'alternate',
    load: (c, seconds) => withGroupCpu(c.svc.pgid, () => runH2load({
      h2load: H2LOAD, url: `https://127.0.0.1:${c.port}/tiny`, clients: CONNS, streams: STREAMS, seconds, logFile: join(dir, 'h2load.log'),
    })),
    label: (c) => c.id.padEnd(12),
  });
  await finish([fg, ng], [dir]);

  const base = medianRps(cells[0].runs);
  const rows = cells.map((c) => resultRow(c.id, c.runs, [(medianRps(c.runs) / base).toFixed(2), cpuPer10k(c.runs)])).join('\n');
  const md = `# HTTP/2 against NGINX (${S.stamp})

Floodgate (1 worker, \`--listen-tls\`, h2 by ALPN) and NGINX (1 worker, \`listen ... ssl http2\`) in front of the bench
NGINX upstream (HTTP/1.1 keep-alive), ECDSA P-256, TLS 1.2/1.3 with the same TLS 1.2 suites. Load: \`h2load -t1
-c${CONNS} -m${STREAMS} -D${S.duration}\` GET /tiny (3-byte answer), ${S.warmup} s warm-up per contender, ${S.rounds} interleaved
rounds, medians. p50/p99 over every request of a run (h2load's --log-file). CPU: the contender's process group
(NGINX master + worker; Floodgate's primary + worker thread). Measured rounds took ${minutes} min.
${machineLine()}

| contender | req/s (median) | vs NGINX h2 | CPU s / 10k req | p50 ms | p99 ms | errors | req/s per round |
|---|---:|---:|---:|---:|---:|---:|---|
${rows}

Reproduce: \`make bench-h2\` (env: ROUNDS DURATION WARMUP CONNS STREAMS; see bench/h2/main.ts).
`;
  publish(S.out, md);
}

runBench('h2', main);
