/**
 * What logging and tracing cost through the real gateway (1 worker each), as a ratio to the
 * same gateway with the access log off, all contenders started at once and measured interleaved
 * (A B C D E, A B C D E, ...), medians of ROUNDS rounds:
 *
 *   off            --access-log off (trace context and request id still on: they are core)
 *   no-ids         --access-log off --request-id-header off
 *   no-trace       --access-log off --trace-context off
 *   access-log     --access-log FILE
 *   access-1pct    --access-log FILE --access-log-sample 0.01
 *   file-log       file-log plugin (and no access log)
 *   http-log+otel  http-log (batches of 100) and opentelemetry to a local collector that answers 200
 *
 * Upstream: the Node echo upstream in its own process. Load: autocannon in this process.
 *
 *   make bench-logging          (env: ROUNDS=5 DURATION=5 CONNS=50 WARMUP=2)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { freePort } from '../../test/helpers/ports';
import { NODE_FLAGS } from '../../src/cluster/node-flags';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION = Number(process.env.DURATION ?? 5);
const CONNS = Number(process.env.CONNS ?? 50);
const WARMUP = Number(process.env.WARMUP ?? 2);
const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'src/cli.js');
const ECHO = path.join(ROOT, 'src/dev/echo-upstream.js');

interface Contender {
  readonly name: string;
  readonly args: string[];
  readonly plugins: string;
  port?: number;
  proc?: ChildProcess;
  readonly rps: number[];
  readonly p99: number[];
}

function waitForLine(proc: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${text}`)), 20_000);
    const onData = (c: Buffer) => {
      text += c.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
  });
}

function runFor(url: string, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNS, duration, pipelining: 1, timeout: 10 }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

const run = (url: string) => runFor(url, DURATION);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-bench-logging-'));
  // A collector that accepts everything, as a healthy log backend would.
  let received = 0;
  const collector = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      received++;
      res.end();
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const collectorPort = (collector.address() as AddressInfo).port;

  const upPort = await freePort();
  const upstream = spawn(process.execPath, [ECHO, '--port', String(upPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(upstream, /listening|:\d+/, 'echo upstream');

  const contenders: Contender[] = [
    { name: 'off', args: ['--access-log', 'off'], plugins: '', rps: [], p99: [] },
    { name: 'no-ids', args: ['--access-log', 'off', '--request-id-header', 'off'], plugins: '', rps: [], p99: [] },
    { name: 'no-trace', args: ['--access-log', 'off', '--trace-context', 'off'], plugins: '', rps: [], p99: [] },
    { name: 'access-log', args: ['--access-log', path.join(dir, 'access.log')], plugins: '', rps: [], p99: [] },
    { name: 'access-1pct', args: ['--access-log', path.join(dir, 'access-sampled.log'), '--access-log-sample', '0.01'], plugins: '', rps: [], p99: [] },
    {
      name: 'file-log',
      args: ['--access-log', 'off'],
      plugins: `plugins:\n  - name: file-log\n    config: { path: ${path.join(dir, 'file.log')} }\n`,
      rps: [],
      p99: [],
    },
    {
      name: 'http-log+otel',
      args: ['--access-log', 'off'],
      plugins: `plugins:
  - name: http-log
    config: { http_endpoint: "http://127.0.0.1:${collectorPort}/logs", queue: { max_batch_size: 100, max_coalescing_delay: 0.5 } }
  - name: opentelemetry
    config: { traces_endpoint: "http://127.0.0.1:${collectorPort}/v1/traces" }
`,
      rps: [],
      p99: [],
    },
  ];

  for (const c of contenders) {
    c.port = await freePort();
    const cfg = path.join(dir, `${c.name}.yaml`);
    fs.writeFileSync(cfg, `_format_version: "3.0"\nservices:\n  - name: echo\n    url: http://127.0.0.1:${upPort}\n    routes:\n      - paths: [/]\n${c.plugins}`);
    c.proc = spawn(process.execPath, [...NODE_FLAGS, CLI, 'start', '-c', cfg, '--listen', `127.0.0.1:${c.port}`, '--workers', '1', '--admin-listen', 'off', ...c.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await waitForLine(c.proc, /floodgate listening/, c.name);
  }

  try {
    // JIT warm-up for every contender before anything is measured.
    for (const c of contenders) await runFor(`http://127.0.0.1:${c.port}/bench`, WARMUP);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of contenders) {
        const r = await run(`http://127.0.0.1:${c.port}/bench`);
        c.rps.push(r.requests.average);
        c.p99.push(r.latency.p99);
        process.stdout.write(`round ${round} ${c.name.padEnd(14)} ${Math.round(r.requests.average)} req/s  p99 ${r.latency.p99} ms  errors ${r.errors} non2xx ${r.non2xx}\n`);
      }
    }
  } finally {
    for (const c of contenders) c.proc?.kill('SIGTERM');
    upstream.kill('SIGTERM');
    collector.close();
  }

  const base = median(contenders[0].rps);
  process.stdout.write(`\n${ROUNDS} rounds x ${DURATION} s, ${CONNS} connections, 1 worker; medians\n\n`);
  process.stdout.write('| contender | req/s | ratio to off | p99 ms |\n|---|---|---|---|\n');
  for (const c of contenders) {
    process.stdout.write(`| ${c.name} | ${Math.round(median(c.rps))} | ${(median(c.rps) / base).toFixed(3)} | ${median(c.p99)} |\n`);
  }
  process.stdout.write(`\ncollector received ${received} requests (http-log batches + OTLP exports)\n`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
