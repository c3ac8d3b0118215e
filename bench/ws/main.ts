/**
 * WebSocket echo messages per second against NGINX (`make bench-ws`): Floodgate (1 worker, plain
 * listener, one route to the upstream) and NGINX (1 worker, proxy_http_version 1.1 with the
 * Upgrade/Connection headers) proxying the same `ws` echo upstream (bench/ws/upstream.ts, its own
 * process). The load generator (bench/ws/load.ts) runs in a child process, so it shares no thread
 * with a contender: CONNS connections, each keeping INFLIGHT binary messages of MSG_BYTES in flight.
 * "direct" (the load straight at the upstream) shows the ceiling the two share. Interleaved rounds
 * (order alternating), medians; ratio to NGINX, round-trip p50/p99, CPU-seconds per 10k messages.
 *
 *   ROUNDS=5 DURATION=5 WARMUP=1 CONNS=50 INFLIGHT=4 MSG_BYTES=64 NGINX=/usr/sbin/nginx
 *   OUT=bench/results/ws-<date>.md
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from './ws-package';
import { envInt } from '../peers/env';
import { startNginx } from '../peers/nginx-process';
import { freePorts } from '../peers/ports';
import { readLog, startService, trackHelper, waitReady, type Service } from '../peers/procs';
import type { WrkResult } from '../peers/wrk';
import { cpuPer10k, withGroupCpu, type CpuRun } from '../lib/cpu';
import { benchServiceYaml, startGateway } from '../lib/floodgate';
import { benchDir, finish, log, runBench } from '../lib/harness';
import { machineLine, medianRps, publish, resultRow } from '../lib/report';
import { runRounds } from '../lib/rounds';
import { benchSettings } from '../lib/settings';
import type { WsLoadResult } from './load';

const S = benchSettings('ws');
const CONNS = envInt('CONNS', 50);
const INFLIGHT = envInt('INFLIGHT', 4);
const MSG_BYTES = envInt('MSG_BYTES', 64);

interface Cell {
  readonly id: string;
  readonly svc: Service;
  readonly url: string;
  readonly runs: CpuRun[];
}

/** One load run in a child process, as a wrk-shaped result (requests = messages echoed). */
function runWsLoad(url: string, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const args = [join(S.root, 'dist', 'bench', 'ws', 'load.js'), '--url', url, '--conns', String(CONNS), '--inflight', String(INFLIGHT), '--bytes', String(MSG_BYTES), '--seconds', String(seconds)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackHelper(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`ws load ${url} exited ${signal ?? code}: ${err}`));
      const r = JSON.parse(out) as WsLoadResult;
      resolve({
        requests: r.messages,
        seconds: r.seconds,
        rps: r.messages / r.seconds,
        p50ms: r.p50ms,
        p99ms: r.p99ms,
        non2xx: 0,
        socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 },
        errors: r.errors,
        raw: r.problems.join('\n'),
      });
    });
  });
}

/** Before any load: a text and a binary message through `url` come back unchanged. */
async function expectEcho(who: string, url: string): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    for (const [data, binary] of [['hello', false], [Buffer.alloc(MSG_BYTES, 'w'), true]] as const) {
      const echo = new Promise<[Buffer, boolean]>((resolve, reject) => {
        ws.once('message', (d: Buffer, isBinary) => resolve([d, isBinary]));
        ws.once('close', (code) => reject(new Error(`closed (${code})`)));
      });
      ws.send(data, { binary });
      const [got, isBinary] = await echo;
      if (isBinary !== binary || !got.equals(Buffer.from(data))) throw new Error(`echo of ${binary ? 'binary' : 'text'} differs: ${got.toString('hex').slice(0, 40)}`);
    }
  } catch (e) {
    throw new Error(`${who}: WebSocket echo through ${url}: ${(e as Error).message}`);
  } finally {
    ws.terminate();
  }
}

async function main(): Promise<void> {
  const dir = benchDir('ws');
  const [upstreamPort, fgPort, ngPort] = await freePorts(3);
  const upstream = startService('ws-upstream', process.execPath, [join(S.root, 'dist', 'bench', 'ws', 'upstream.js'), '--port', String(upstreamPort)], {
    cwd: S.root, logPrefix: join(dir, 'ws-upstream'),
  });
  await waitReady(upstream, () => readLog(upstream.stdoutPath).includes('ready'));
  const fg = await startGateway({
    name: 'floodgate-ws', root: S.root, dir, file: 'floodgate', workers: 1, port: fgPort,
    yaml: benchServiceYaml(`http://127.0.0.1:${upstreamPort}`, `      - name: echo
        paths: [/echo]
        strip_path: false
`),
  });
  const ng = await startNginx({
    name: 'nginx-ws', nginx: S.nginx, template: join(S.root, 'bench', 'nginx', 'ws-proxy.conf.tmpl'), dir: join(dir, 'nginx'),
    values: { PORT: ngPort, UPSTREAM_PORT: upstreamPort },
    readyPath: '/ready',
  });
  const cells: Cell[] = [
    { id: 'nginx', svc: ng, url: `ws://127.0.0.1:${ngPort}/echo`, runs: [] },
    { id: 'floodgate', svc: fg, url: `ws://127.0.0.1:${fgPort}/echo`, runs: [] },
    { id: 'direct', svc: upstream, url: `ws://127.0.0.1:${upstreamPort}/echo`, runs: [] },
  ];
  for (const c of cells) await expectEcho(c.id, c.url);
  log(`ws upstream :${upstreamPort}; nginx :${ngPort}, floodgate :${fgPort}; ${CONNS} connections x ${INFLIGHT} in flight, ${MSG_BYTES}-byte messages`);

  const minutes = await runRounds(S, {
    groups: [cells],
    order: 'alternate',
    load: (c, seconds) => withGroupCpu(c.svc.pgid, () => runWsLoad(c.url, seconds)),
    label: (c) => c.id.padEnd(9),
  });
  await finish([upstream, fg, ng], [dir]);

  const base = medianRps(cells[0].runs);
  const rows = cells.map((c) => resultRow(c.id, c.runs, [(medianRps(c.runs) / base).toFixed(2), cpuPer10k(c.runs)])).join('\n');
  const problems = cells.flatMap((c) => c.runs.filter((r) => r.errors).map((r) => `- ${c.id}: ${r.raw.replace(/\n/g, '; ')}`));
  const md = `# WebSocket echo against NGINX (${S.stamp})

Floodgate (1 worker, plain listener, one route) and NGINX (1 worker, \`proxy_http_version 1.1\`, Upgrade/Connection
passed on) proxying the same \`ws\` echo upstream (one Node process, no permessage-deflate). Load: a Node \`ws\` client in
its own process, ${CONNS} connections each keeping ${INFLIGHT} binary ${MSG_BYTES}-byte messages in flight (a new one as each echo
returns), ${S.duration} s per run, ${S.warmup} s warm-up per contender, ${S.rounds} interleaved rounds, medians. A message/s is one echo:
one message each way through the proxy. Round trip: send to echo, per message. CPU: the contender's process group
("direct": the upstream's). Each was checked first to echo a text and a binary message unchanged. Measured rounds
took ${minutes} min.
${machineLine()}

| contender | messages/s (median) | vs NGINX | CPU s / 10k messages | round trip p50 ms | p99 ms | errors | messages/s per round |
|---|---:|---:|---:|---:|---:|---:|---|
${rows}

"direct" is the load straight at the upstream: the ceiling both proxies share (the client and the upstream are single
Node processes; when a proxy comes close to it, the ratio understates the difference).
${problems.length ? `\nErrors:\n${problems.join('\n')}\n` : ''}
Reproduce: \`make bench-ws\` (env: ROUNDS DURATION WARMUP CONNS INFLIGHT MSG_BYTES; see bench/ws/main.ts).
`;
  publish(S.out, md);
}

runBench('ws', main);
