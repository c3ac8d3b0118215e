/**
 * One compile function (proxy/snapshot.ts): `floodgate check`, the primary's check and the workers
 * all compile through compileSnapshot; in a check (compileCheck) plugins validate but acquire
 * nothing: no log queue, no file, no socket (redis, a log collector, an upstream), no gate state.
 *
 * Regression: the primary's check created every plugin for real, so a check created http-log and
 * file-log queues (and retired the serving ones of the same entry on an inline worker) and
 * reconfigured a live concurrency-limit gate before the config was applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfigText, formatConfigErrors } from '../../src/config/load';
import { compileCheck } from '../../src/proxy/snapshot';
import { logQueueStats } from '../../src/logging/batch-queue';

function activeSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPWRAP' || r === 'PipeWrap').length;
}

test('a check compiles every plugin and route, and opens no socket, creates no queue and writes no file', async () => {
  // A listener that counts connections: redis, the http-log collector and the upstream point here.
  let connections = 0;
  const listener = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as net.AddressInfo).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-check-'));
  const logPath = path.join(dir, 'never.log');
  try {
    const loaded = loadConfigText(
      `
_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:${port}
    routes:
      - name: r
        paths: [/r]
        plugins:
          - name: http-log
            config: { http_endpoint: "http://127.0.0.1:${port}/logs" }
          - name: file-log
            config: { path: ${logPath} }
          - name: opentelemetry
            config: { traces_endpoint: "http://127.0.0.1:${port}/v1/traces" }
          - name: rate-limiting
            config: { minute: 5, policy: redis, redis: { host: 127.0.0.1, port: ${port} } }
          - name: concurrency-limit
            config: { max_concurrent: 1 }
`,
      'check.yaml',
    );
    if (!loaded.ok) throw new Error(formatConfigErrors(loaded.errors, 'check.yaml'));
    const socketsBefore = activeSockets();
    const queuesBefore = logQueueStats().length;
    assert.equal(compileCheck(loaded.config), null);
    // Give any lazily opened connection a chance to show up.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(connections, 0, 'nothing connected to redis, the collector or the upstream');
    assert.equal(activeSockets(), socketsBefore, 'no socket left open');
    assert.equal(logQueueStats().length, queuesBefore, 'no log queue created');
    assert.equal(fs.existsSync(logPath), false, 'file-log opened no file');
  } finally {
    listener.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a check still names the entry a plugin refuses', () => {
  const loaded = loadConfigText(
    `
_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:9
    routes: [{ name: r, paths: [/r] }]
plugins:
  - name: opentelemetry
    config: { resource_attributes: { service.name: x } }
`,
    'check.yaml',
  );
  if (!loaded.ok) {
    // The schema itself refused it: that is the check's answer too, at load.
    assert.match(formatConfigErrors(loaded.errors, 'check.yaml'), /opentelemetry|endpoint/);
    return;
  }
  assert.match(compileCheck(loaded.config) ?? '', /plugin "opentelemetry".*traces_endpoint is required/);
});
