/**
 * Process model: reload under load, bad reloads, bad configs at start, worker crash and respawn,
 * graceful drain, and the CLI's check/version commands.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startGateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '../../src/cli.js');

let up: EchoUpstream;

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'up');
});
after(async () => {
  await up.close();
  await agent.close();
});

function configWith(routeName: string, prefix: string): string {
  return `_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:${up.port}/svc
    routes:
      - name: stable
        paths: [/stable]
      - name: ${routeName}
        paths: [${prefix}]
`;
}

describe('start', () => {
  test('started with NODE_FLAGS (as deploy/floodgate.service does), it logs that its workers collect on their own threads', async () => {
    const gw = await startGateway({ config: configWith('v0', '/v0'), workers: 1 });
    try {
      const line = await gw.waitForLog(/floodgate listening/, 10_000, 0);
      assert.equal(JSON.parse(line).gcThreads, 'single');
      const res = await get(gw.url('/v0/x'));
      assert.equal(res.status, 200);
    } finally {
      await gw.stop();
    }
  });
});

describe('reload', () => {
  test('SIGHUP under steady load drops no request, and each reload takes effect', async () => {
    const gw = await startGateway({ config: configWith('v0', '/v0'), workers: 2 });
    try {
      let ok = 0;
      const failures: string[] = [];
      let stop = false;
      const client = async () => {
        while (!stop) {
          try {
            const res = await request(gw.url('/stable/x'), { dispatcher: agent });
            const body = await res.body.text();
            if (res.statusCode === 200 && JSON.parse(body).url === '/svc/x') ok++;
            else failures.push(`${res.statusCode} ${body.slice(0, 80)}`);
          } catch (err) {
            failures.push(String(err));
          }
        }
      };
      const clients = Array.from({ length: 8 }, client);
      for (let i = 1; i <= 5; i++) {
        await new Promise((r) => setTimeout(r, 150));
        await gw.reload(configWith(`v${i}`, `/v${i}`));
        assert.equal((await get(gw.url(`/v${i}/a`))).status, 200, `route of reload ${i} is live`);
        assert.equal((await get(gw.url(`/v${i - 1}/a`))).status, 404, `route of reload ${i - 1} is gone`);
      }
      stop = true;
      await Promise.all(clients);
      assert.deepEqual(failures, []);
      assert.ok(ok > 100, `the client kept sending during the reloads (${ok} requests)`);
    } finally {
      await gw.stop();
    }
  });

  test('an invalid config is rejected with its location and the old one keeps serving', async () => {
    const gw = await startGateway({ config: configWith('v0', '/v0'), workers: 2 });
    try {
      const from = gw.logs.length;
      await gw.reload(configWith('v1', '/v1').replace('paths: [/v1]', 'paths: [/v1]\n        strip_pathz: true'));
      const line = gw.logs.slice(from).find((l) => l.includes('config reload rejected'));
      assert.ok(line, 'the rejection is logged');
      assert.match(line!, /strip_pathz/);
      assert.match(line!, /:10:/, 'names the line of the bad field');
      assert.equal((await get(gw.url('/v0/a'))).status, 200, 'the old config still serves');
      assert.equal((await get(gw.url('/v1/a'))).status, 404);

      await gw.reload('_format_version: "3.0"\nservices: [ {name: x\n');
      assert.equal((await get(gw.url('/v0/a'))).status, 200, 'still serving after a YAML syntax error');
    } finally {
      await gw.stop();
    }
  });
});

describe('bad config at start', () => {
  test('nothing starts, and the error names the entity, field and line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-bad-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, `_format_version: "3.0"\nservices:\n  - name: a\n    url: http://127.0.0.1:1\nroutes:\n  - name: r\n    service: missing-service\n    paths: [/x]\n`);
    const err = await run(process.execPath, [CLI, 'start', '-c', file, '--listen', '127.0.0.1:65000']).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    assert.ok(err, 'start must fail');
    assert.equal(err!.code, 1);
    assert.match(err!.stderr, /missing-service/);
    assert.match(err!.stderr, /:7:/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('workers', () => {
  test('a crashed worker is replaced while the other keeps serving, and the process survives it', async () => {
    const gw = await startGateway({ config: configWith('v0', '/v0'), workers: 2, env: { FLOODGATE_FAULT_INJECTION: '1' } });
    const client = new Agent();
    const status = async (p: string, headers: Record<string, string> = {}) => {
      try {
        const res = await request(gw.url(p), { dispatcher: client, headers });
        await res.body.text();
        return res.statusCode;
      } catch (err) {
        await new Promise((r) => setTimeout(r, 200));
        throw new Error(`request to ${p} failed: ${err}; gateway ${gw.exitInfo() ?? 'still running'}\n${gw.logs.join('\n')}`);
      }
    };
    // The crash is asked for on a raw keep-alive connection, which then stays open and idle: the
    // crashed worker must close it (App.close(), uWS v20.57) rather than wait for it to time out.
    const held = net.connect(gw.port, '127.0.0.1');
    const heldClosed = new Promise<number>((resolve) => held.once('close', () => resolve(Date.now())));
    held.on('error', () => {});
    try {
      const from = gw.logs.length;
      held.write('GET /stable/x HTTP/1.1\r\nHost: gw\r\nX-Floodgate-Fault: crash-worker\r\n\r\n');
      const first = await new Promise<string>((resolve) => held.once('data', (d) => resolve(d.toString('latin1'))));
      assert.match(first, /^HTTP\/1\.1 200 /);
      await gw.waitForLog(/worker failed; respawning/, 10_000, from);
      // Once the crashed worker has closed its listen socket, every new connection is served by
      // the other one. (A connection that reached its accept queue before that is reset by the
      // kernel: SO_REUSEPORT gives a closing listener's queue to no one.)
      await gw.waitForLog(/retiring worker stopped accepting/, 10_000, from);
      for (let i = 0; i < 10; i++) assert.equal(await status(`/stable/y${i}`, { connection: 'close' }), 200);
      await gw.waitForLog(/worker respawned and listening/, 10_000, from);
      assert.equal(await status('/stable/z'), 200);
      // It leaves at once, where on v20.30 it waited for uWS's 10 s idle timeout, and its idle
      // connection is closed by the server. The process survives its exit.
      await gw.waitForLog(/retired worker exited/, 5_000, from);
      const closedAt = await Promise.race([heldClosed, new Promise<number>((r) => setTimeout(() => r(-1), 2_000))]);
      assert.notEqual(closedAt, -1, 'the idle connection to the crashed worker was closed');
      await client.close();
      assert.equal((await get(gw.url('/stable/after'))).status, 200);
      assert.equal(gw.proc.exitCode, null, 'the gateway is still running');
    } finally {
      held.destroy();
      await gw.stop();
    }
  });

  test('SIGTERM drains: in-flight requests finish, then the process exits 0', async () => {
    const gw = await startGateway({ config: configWith('v0', '/v0'), workers: 2, args: ['--drain-timeout', '5000'] });
    const slow = get(gw.url('/stable/slow'), { headers: { 'x-echo-delay-ms': '1000' } });
    await new Promise((r) => setTimeout(r, 200));
    const code = gw.stop('SIGTERM');
    const res = await slow;
    assert.equal(res.status, 200, 'the in-flight request completed');
    assert.equal(res.json().url, '/svc/slow');
    assert.equal(await code, 0);
  });

  test('SIGTERM with a request outliving the deadline still exits 0 after the deadline', async () => {
    const gw = await startGateway({ config: configWith('v0', '/v0'), workers: 1, args: ['--drain-timeout', '300'] });
    const slow = get(gw.url('/stable/slow'), { headers: { 'x-echo-delay-ms': '3000' } }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    assert.equal(await gw.stop('SIGTERM'), 0);
    assert.ok(Date.now() - started < 2900, 'did not wait for the slow request');
    await slow;
  });
});

describe('single-thread mode', () => {
  test('--workers 0 serves on the main thread, reloads, and exits 0 on SIGTERM', async () => {
    const gw = await startGateway({ config: configWith('v0', '/v0'), workers: 0 });
    assert.equal((await get(gw.url('/v0/a'))).status, 200);
    await gw.reload(configWith('v1', '/v1'));
    assert.equal((await get(gw.url('/v1/a'))).status, 200);
    assert.equal((await get(gw.url('/v0/a'))).status, 404);
    assert.equal(await gw.stop('SIGTERM'), 0);
  });
});

describe('cli', () => {
  test('check prints the compiled route table in priority order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-check-'));
    const file = path.join(dir, 'g.yaml');
    fs.writeFileSync(file, configWith('longer', '/stable/longer'));
    const { stdout } = await run(process.execPath, [CLI, 'check', file]);
    assert.match(stdout, /OK \(1 services, 2 routes/);
    const longer = stdout.indexOf('longer');
    const stable = stdout.indexOf('stable ');
    assert.ok(longer !== -1 && stable !== -1 && longer < stable, 'the longer prefix ranks first');
    fs.rmSync(dir, { recursive: true });
  });

  test('check fails with the location of an error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-check-'));
    const file = path.join(dir, 'g.yaml');
    fs.writeFileSync(file, '_format_version: "3.0"\nservices:\n  - name: a\n    url: http://x\n    retries: many\n');
    const err = await run(process.execPath, [CLI, 'check', file]).then(() => null, (e: { code: number; stderr: string }) => e);
    assert.equal(err?.code, 1);
    assert.match(err!.stderr, /retries/);
    assert.match(err!.stderr, /:5:/);
    fs.rmSync(dir, { recursive: true });
  });

  test('version prints the package version', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'version']);
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8'));
    assert.match(stdout, new RegExp(`floodgate ${pkg.version.replace(/\./g, '\\.')}`));
  });

  test('an unknown or malformed flag prints one line and the usage, and exits 2 without a stack trace', async () => {
    for (const args of [['start', '-c', 'x.yaml', '--no-such-flag'], ['start', '-c', 'x.yaml', '--workers'], ['start', '-c', 'x.yaml', '--metrics-consumer-labels=yes']]) {
      const err = await run(process.execPath, [CLI, ...args]).then(() => null, (e: { code: number; stderr: string }) => e);
      assert.ok(err !== null, `${args.join(' ')} must fail`);
      assert.equal(err.code, 2, args.join(' '));
      const [first, blank, usage] = err.stderr.split('\n');
      assert.match(first, /^floodgate: /);
      assert.equal(blank, '');
      assert.match(usage, /^Usage:/);
      assert.doesNotMatch(err.stderr, /ERR_PARSE_ARGS|    at /);
    }
  });
});
