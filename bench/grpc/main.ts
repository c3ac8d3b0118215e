/**
 * gRPC unary calls per second against NGINX `grpc_pass` (`make bench-grpc`): Floodgate (1 worker,
 * a `protocol: grpc` service, route `protocols: [grpc, grpcs]`) and NGINX (1 worker, `listen ...
 * ssl http2` + `grpc_pass`), both terminating TLS + HTTP/2 for the client (Floodgate serves gRPC on
 * its h2 TLS listener only) and passing the calls over cleartext HTTP/2 to the same
 * @grpc/grpc-js upstream (bench/grpc/upstream.ts, an identity-serializer echo in its own process).
 * Same ECDSA P-256 certificate (openssl, made for the run), protocols and TLS 1.2 suites.
 *
 * Load: h2load -t1 -cCONNS -mSTREAMS, each request a gRPC unary call: POST /bench.Echo/Unary with a
 * prepared length-prefixed message (-d), `content-type: application/grpc` and `te: trailers`. h2load
 * counts HTTP statuses only, so before any load each contender must answer that exact request
 * with the echoed message and the trailer grpc-status 0. Interleaved rounds, medians, ratio to
 * NGINX, p50/p99 from h2load's per-request log, CPU-seconds per 10k calls per process group.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=10 STREAMS=10 H2LOAD=h2load NGINX=/usr/sbin/nginx
 *   OUT=bench/results/grpc-<date>.md
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TLS12_CIPHERS } from '../../src/tls/listener';
import { envInt, envString } from '../peers/env';
import { startNginx } from '../peers/nginx-process';
import { freePorts } from '../peers/ports';
import { readLog, startService, waitReady, type Service } from '../peers/procs';
import { makeBenchCertificate } from '../lib/certificate';
import { cpuPer10k, withGroupCpu, type CpuRun } from '../lib/cpu';
import { startGateway } from '../lib/floodgate';
import { h2Request } from '../lib/h2-check';
import { runH2load } from '../lib/h2load';
import { benchDir, finish, log, runBench } from '../lib/harness';
import { machineLine, medianRps, publish, resultRow } from '../lib/report';
import { runRounds } from '../lib/rounds';
import { benchSettings } from '../lib/settings';
import { ECHO_PATH } from './upstream';

const S = benchSettings('grpc');
const CONNS = envInt('CONNS', 10);
const STREAMS = envInt('STREAMS', 10);
const H2LOAD = envString('H2LOAD', 'h2load');
const GRPC_HEADERS = { 'content-type': 'application/grpc', te: 'trailers' };

interface Cell {
  readonly id: string;
  readonly svc: Service;
  readonly url: string;
  readonly runs: CpuRun[];
}

/** A gRPC message frame: compressed flag 0, 4-byte big-endian length, then a protobuf message with field 1 (string) = text. */
function grpcFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const message = Buffer.concat([Buffer.from([0x0a, payload.length]), payload]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** The h2load request, sent once: the echoed frame must come back with grpc-status 0. */
async function expectUnaryOk(who: string, port: number, body: Buffer): Promise<void> {
  const r = await h2Request({ port, path: ECHO_PATH, method: 'POST', headers: GRPC_HEADERS, body });
  if (r.status !== 200 || r.trailers['grpc-status'] !== '0' || !r.body.equals(body)) {
    throw new Error(`${who}: unary call got HTTP ${r.status}, grpc-status ${r.trailers['grpc-status'] ?? r.headers['grpc-status']} (${r.trailers['grpc-message'] ?? r.headers['grpc-message'] ?? ''}), body ${r.body.toString('hex')}`);
  }
}

async function main(): Promise<void> {
  const dir = benchDir('grpc');
  const [upstreamPort, fgPort, fgTls, ngPort, ngTls] = await freePorts(5);
  const upstream = startService('grpc-upstream', process.execPath, [join(S.root, 'dist', 'bench', 'grpc', 'upstream.js'), '--port', String(upstreamPort)], {
    cwd: S.root, logPrefix: join(dir, 'grpc-upstream'),
  });
  await waitReady(upstream, () => readLog(upstream.stdoutPath).includes('ready'));
  const { cert, key } = makeBenchCertificate(dir);
  const body = grpcFrame('hello from h2load');
  const bodyFile = join(dir, 'unary.bin');
  writeFileSync(bodyFile, body);

  const fg = await startGateway({
    name: 'floodgate-grpc', root: S.root, dir, file: 'floodgate', workers: 1, port: fgPort,
    yaml: `_format_version: "3.0"
services:
  - name: bench-grpc
    url: grpc://127.0.0.1:${upstreamPort}
    routes:
      - name: echo
        protocols: [grpc, grpcs]
        paths: [/bench.Echo/]
        strip_path: false
`,
    extraArgs: ['--listen-tls', `127.0.0.1:${fgTls}`, '--tls-cert', cert, '--tls-key', key, '--http2', 'on'],
  });
  const ng = await startNginx({
    name: 'nginx-grpc', nginx: S.nginx, template: join(S.root, 'bench', 'nginx', 'grpc-proxy.conf.tmpl'), dir: join(dir, 'nginx'),
    values: { PORT: ngPort, TLS_PORT: ngTls, UPSTREAM_PORT: upstreamPort, CERT: cert, KEY: key, CIPHERS: TLS12_CIPHERS },
    readyPath: '/ready',
  });
  const cells: Cell[] = [
    { id: 'nginx grpc_pass', svc: ng, url: `https://127.0.0.1:${ngTls}${ECHO_PATH}`, runs: [] },
    { id: 'floodgate grpc', svc: fg, url: `https://127.0.0.1:${fgTls}${ECHO_PATH}`, runs: [] },
    // no proxy: h2load straight at the upstream over h2c, the ceiling the two proxies share
    { id: 'direct (h2c)', svc: upstream, url: `http://127.0.0.1:${upstreamPort}${ECHO_PATH}`, runs: [] },
  ];
  await expectUnaryOk('nginx grpc_pass', ngTls, body);
  await expectUnaryOk('floodgate grpc', fgTls, body);
  log(`grpc-js upstream :${upstreamPort}; nginx :${ngTls}, floodgate :${fgTls}; h2load -c${CONNS} -m${STREAMS} POST ${ECHO_PATH}`);

  const minutes = await runRounds(S, {
    groups: [cells],
    order: 'alternate',
    load: (c, seconds) => withGroupCpu(c.svc.pgid, () => runH2load({
      h2load: H2LOAD, url: c.url, clients: CONNS, streams: STREAMS, seconds,
      logFile: join(dir, 'h2load.log'), headers: GRPC_HEADERS, bodyFile,
    })),
    label: (c) => c.id.padEnd(15),
  });
  await finish([upstream, fg, ng], [dir]);

  const base = medianRps(cells[0].runs);
  const rows = cells.map((c) => resultRow(c.id, c.runs, [(medianRps(c.runs) / base).toFixed(2), cpuPer10k(c.runs)])).join('\n');
  const md = `# gRPC unary calls against NGINX grpc_pass (${S.stamp})

Floodgate (1 worker, a \`protocol: grpc\` service) and NGINX (1 worker, \`grpc_pass\`), each terminating TLS + HTTP/2
for the client (ECDSA P-256, same TLS 1.2 suites) and calling the same @grpc/grpc-js upstream over cleartext HTTP/2
(one Node process; identity serializers, so it echoes the message bytes without protobuf work). Load: \`h2load -t1
-c${CONNS} -m${STREAMS} -D${S.duration}\`, every request a unary call (POST ${ECHO_PATH}, a ${body.length}-byte framed
message, \`content-type: application/grpc\`, \`te: trailers\`), ${S.warmup} s warm-up per contender, ${S.rounds}
interleaved rounds, medians. Both were checked first to return the echoed message with \`grpc-status: 0\`. p50/p99
over every call of a run (h2load's --log-file). CPU: the contender's process group (the upstream's is not counted).
Measured rounds took ${minutes} min.
${machineLine()}

| contender | calls/s (median) | vs NGINX grpc_pass | CPU s / 10k calls | p50 ms | p99 ms | errors | calls/s per round |
|---|---:|---:|---:|---:|---:|---:|---|
${rows}

"direct (h2c)" is h2load straight at the upstream (no proxy, no TLS; its CPU is the upstream's): the ceiling both
proxies share. The upstream is a single Node process, so when a proxy comes close to it, the upstream limits that
proxy and the ratio understates the difference. Reproduce: \`make bench-grpc\` (env: ROUNDS DURATION WARMUP
CONNS STREAMS; see bench/grpc/main.ts).
`;
  publish(S.out, md);
}

runBench('grpc', main);
