/**
 * `make conformance-report`: the conformance corpus against Floodgate and, as the reference,
 * NGINX (`proxy_pass`, HTTP/1.1 keep-alive to the same recording upstream, request buffering off),
 * one worker each. Prints how each answered, in the buckets of the README's "HTTP/1.1 conformance"
 * table, and the cases where the two differ. Not a test: it asserts nothing about NGINX.
 *
 * Env: NGINX (binary, default /usr/sbin/nginx).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startGateway } from '../../helpers/gateway';
import { freePort } from '../../helpers/ports';
import type { Outcome } from './harness';
import { CASES, runCase, startTargets, verdict, type CaseRun } from './runner';

const OUTCOMES: ReadonlyArray<[Outcome, string]> = [
  ['rejected', 'rejected politely (4xx/5xx)'],
  ['normalized', 'accepted and forwarded (normalized)'],
  ['closed', 'closed without an answer'],
  ['hung', 'no answer, connection left open (hung)'],
  ['smuggled', 'smuggled or swallowed request reached the upstream'],
];

const NGINX_CONF = (prefix: string, port: number, upstreamPort: number) => `
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${prefix}/client_body;
    proxy_temp_path       ${prefix}/proxy;
    fastcgi_temp_path     ${prefix}/fastcgi;
    uwsgi_temp_path       ${prefix}/uwsgi;
    scgi_temp_path        ${prefix}/scgi;
    upstream recorder {
        server 127.0.0.1:${upstreamPort};
        keepalive 8;
    }
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://recorder;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            client_max_body_size 0;
        }
    }
}
`;

async function waitForPort(port: number, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start listening');
}

async function startNginx(binary: string, upstreamPort: number): Promise<{ port: number; stop(): Promise<void> }> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-conformance-nginx-'));
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(conf, NGINX_CONF(prefix, port, upstreamPort));
  const proc = spawn(binary, ['-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitForPort(port, proc);
  return {
    port,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      fs.rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function describe(run: CaseRun): string {
  const statuses = run.exchange.responses.map((r) => r.status).join('+') || '-';
  return `${run.outcome} (${statuses}${run.exchange.closed ? ', closed' : ''}; upstream ${run.upstream.length})`;
}

async function main(): Promise<void> {
  const targets = await startTargets();
  const runs: Record<string, CaseRun[]> = {};

  const gw = await startGateway({ config: targets.gatewayConfig, workers: 1 });
  try {
    runs.Floodgate = [];
    for (const c of CASES) runs.Floodgate.push(await runCase(gw.port, targets.upstream, c));
  } finally {
    await gw.stop();
  }

  const nginxBinary = process.env.NGINX ?? '/usr/sbin/nginx';
  if (fs.existsSync(nginxBinary)) {
    const nginx = await startNginx(nginxBinary, targets.upstream.port);
    try {
      runs.NGINX = [];
      for (const c of CASES) runs.NGINX.push(await runCase(nginx.port, targets.upstream, c));
    } finally {
      await nginx.stop();
    }
  } else {
    console.log(`(NGINX not found at ${nginxBinary}: \`make bench-tools\` installs it; Floodgate only)\n`);
  }
  await targets.close();

  const names = Object.keys(runs);
  console.log(`HTTP/1.1 conformance: ${CASES.length} cases (test/conformance/http1/cases.ts), one connection each, 1 worker each.\n`);
  console.log(`| outcome | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---').join('|')}|`);
  for (const [key, label] of OUTCOMES) {
    console.log(`| ${label} | ${names.map((n) => runs[n].filter((r) => r.outcome === key).length).join(' | ')} |`);
  }
  const passing = runs.Floodgate.filter((r, i) => verdict(CASES[i], r).length === 0).length;
  console.log(`| Floodgate cases passing their expectation | ${passing} of ${CASES.length}${names.length > 1 ? ' | |' : ' |'}`);
  const uwsCases = CASES.filter((c) => c.uws !== undefined).length;
  console.log(`\n${uwsCases} Floodgate cases are decided by uWS itself (test/conformance/http1/uws-issues/).`);

  if (runs.NGINX !== undefined) {
    console.log('\nWhere the two differ:\n');
    console.log('| case | Floodgate | NGINX |');
    console.log('|---|---|---|');
    CASES.forEach((c, i) => {
      const a = runs.Floodgate[i];
      const b = runs.NGINX[i];
      if (a.outcome !== b.outcome) console.log(`| ${c.id} | ${describe(a)} | ${describe(b)} |`);
    });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
