/**
 * tcp-log, udp-log, syslog and statsd through a real 2-worker gateway, a real upstream, and real
 * receivers on loopback (TCP, UDP, a syslog server over UDP and TCP, a statsd UDP socket): what
 * arrives is Kong's format, from both workers, and a dead receiver costs log lines, not requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import type { LogRecord } from '../../src/logging/serializer';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';
import { startStreamReceiver, startUdpReceiver, type StreamReceiver, type UdpReceiver } from '../helpers/log-receivers';
import { freePort } from '../helpers/ports';

let up: EchoUpstream;
let tcp: StreamReceiver;
let udp: UdpReceiver;
let syslogUdp: UdpReceiver;
let syslogTcp: StreamReceiver;
let statsd: UdpReceiver;
let gw: Gateway;
let deadPort: number;
let localSyslog: StreamReceiver;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-shippers-'));
const localSocket = path.join(dir, 'log.sock');

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'shipper-up');
  [tcp, udp, syslogUdp, syslogTcp, statsd] = await Promise.all([startStreamReceiver(), startUdpReceiver(), startUdpReceiver(), startStreamReceiver(), startUdpReceiver()]);
  deadPort = await freePort();
  // Node listens on unix stream sockets only; logger writes to either kind, as syslog(3) does.
  localSyslog = await startStreamReceiver({ unixPath: localSocket });
  gw = await startGateway({
    workers: 2,
    config: `_format_version: "3.0"
consumers:
  - username: bob
    custom_id: bob-42
    keyauth_credentials:
      - key: bob-key
services:
  - name: shop.api
    url: http://127.0.0.1:${up.port}/base
    routes:
      - name: tcp-route
        paths: [/tcp]
        plugins:
          - name: tcp-log
            config: { host: 127.0.0.1, port: ${tcp.port} }
      - name: udp-route
        paths: [/udp]
        plugins:
          - name: udp-log
            config: { host: 127.0.0.1, port: ${udp.port} }
      - name: syslog-route
        paths: [/syslog]
        plugins:
          - name: syslog
            config: { protocol: udp, host: 127.0.0.1, port: ${syslogUdp.port}, facility: local4, client_errors_severity: warning, server_errors_severity: err }
      - name: syslog-tcp-route
        paths: [/syslog-tcp]
        plugins:
          - name: syslog
            config: { protocol: tcp, host: 127.0.0.1, port: ${syslogTcp.port}, log_level: err, server_errors_severity: crit }
      - name: syslog-local-route
        paths: [/syslog-local]
        plugins:
          - name: syslog
            config: { socket_path: ${localSocket}, facility: local1 }
      - name: statsd-route
        paths: [/statsd]
        plugins:
          - name: key-auth
          - name: statsd
            config: { host: 127.0.0.1, port: ${statsd.port}, queue: { max_batch_size: 20, max_coalescing_delay: 0.05 } }
      - name: dead-route
        paths: [/dead]
        plugins:
          - name: tcp-log
            config: { host: 127.0.0.1, port: ${deadPort}, timeout: 200 }
`,
  });
});

after(async () => {
  await gw.stop();
  await Promise.all([tcp.close(), udp.close(), syslogUdp.close(), syslogTcp.close(), statsd.close(), localSyslog.close(), up.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('tcp-log: one Kong JSON line per request, from both workers, over at most one connection each', async () => {
  const n = 20;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => get(gw.url(`/tcp/item/${i}?q=${i}`))));
  assert.ok(results.every((r) => r.status === 200));
  await tcp.waitFor((m) => m.length >= n);
  const recs = tcp.messages.map((l) => JSON.parse(l) as LogRecord);
  assert.deepEqual(recs.map((r) => r.request.uri).sort(), Array.from({ length: n }, (_, i) => `/tcp/item/${i}?q=${i}`).sort());
  const one = recs[0];
  assert.equal(one.response.status, 200);
  assert.equal(one.service!.name, 'shop.api');
  assert.equal(one.route!.name, 'tcp-route');
  assert.match(one.upstream_uri, /^\/base\/item\/\d+\?q=\d+$/);
  assert.ok(tcp.connections() <= 2, `one kept-alive connection per worker, got ${tcp.connections()}`);
});

test('udp-log: one JSON datagram per request', async () => {
  await Promise.all(Array.from({ length: 10 }, (_, i) => get(gw.url(`/udp/${i}`), { headers: { 'x-echo-status': i % 2 === 0 ? '200' : '404' } })));
  await udp.waitFor((m) => m.length >= 10);
  const statuses = udp.messages.map((d) => (JSON.parse(d) as LogRecord).response.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 404, 404, 404, 404, 404]);
});

test('syslog: priority by status class to a UDP server; log_level filters what goes to the TCP one', async () => {
  for (const status of ['200', '404', '503']) {
    await get(gw.url('/syslog/' + status), { headers: { 'x-echo-status': status } });
    await get(gw.url('/syslog-tcp/' + status), { headers: { 'x-echo-status': status } });
  }
  await syslogUdp.waitFor((m) => m.length >= 3);
  const priorities = new Map(syslogUdp.messages.map((l) => [(JSON.parse(l.slice(l.indexOf('{'))) as LogRecord).response.status, Number(/^<(\d+)>/.exec(l)![1])]));
  // local4 = 20: 160 + info 6, warning 4, err 3.
  assert.deepEqual([...priorities].sort(), [[200, 166], [404, 164], [503, 163]]);
  assert.ok(syslogUdp.messages.every((l) => / kong: \{/.test(l)));
  // The TCP entry has log_level err: only the 5xx (crit) line passes. user = 1: 8 + crit 2 = 10.
  await syslogTcp.waitFor((m) => m.length >= 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(syslogTcp.messages.length, 1);
  assert.match(syslogTcp.messages[0], /^<10>.* kong: \{.*"status":503/);
});

test('syslog to the local socket from the worker threads, as Kong writes it', async () => {
  await Promise.all(Array.from({ length: 6 }, (_, i) => get(gw.url(`/syslog-local/${i}`))));
  await localSyslog.waitFor((m) => m.length >= 6);
  // local1 = 17: 136 + info 6 = 142; logger's local format: <PRI>timestamp tag: message.
  for (const line of localSyslog.messages) assert.match(line, /^<142>\w{3} [ \d]\d \d\d:\d\d:\d\d kong: \{.*"uri":"\/syslog-local\/\d"/);
});

test('statsd: Kong metric names per service and consumer, from both workers', async () => {
  const n = 12;
  await Promise.all(Array.from({ length: n }, () => get(gw.url('/statsd/x'), { headers: { apikey: 'bob-key' } })));
  const lines = () => statsd.messages.flatMap((d) => d.split('\n'));
  // The per-route metric is the last of Kong's default list: once all n arrived, every line has.
  await statsd.waitFor(() => lines().filter((l) => /^kong\.route\.statsd-route\.user\.bob-42\.status\.200:1\|c$/.test(l)).length >= n);
  assert.equal(lines().filter((l) => l === 'kong.service.shop_api.request.count:1|c').length, n);
  const all = lines();
  const count = (prefix: string) => all.filter((l) => l.startsWith(prefix)).length;
  assert.equal(count('kong.service.shop_api.status.200:1|c'), n);
  assert.equal(count('kong.service.shop_api.user.uniques:bob-42|s'), n);
  assert.equal(count('kong.service.shop_api.user.bob-42.request.count:1|c'), n);
  assert.equal(count('kong.service.shop_api.user.bob-42.status.200:1|c'), n);
  assert.equal(count('kong.service.shop_api.workspace.default.status.200:1|c'), n);
  assert.equal(all.filter((l) => /^kong\.route\.statsd-route\.user\.bob-42\.status\.200:1\|c$/.test(l)).length, n);
  assert.ok(all.some((l) => /^kong\.service\.shop_api\.latency:\d+\|ms$/.test(l)));
  assert.ok(all.some((l) => /^kong\.service\.shop_api\.upstream_latency:\d+\|ms$/.test(l)));
  assert.ok(all.some((l) => /^kong\.service\.shop_api\.kong_latency:\d+\|ms$/.test(l)));
  assert.ok(all.some((l) => /^kong\.service\.shop_api\.request\.size:\d+\|c$/.test(l)));
  assert.ok(all.some((l) => /^kong\.service\.shop_api\.response\.size:\d+\|c$/.test(l)));
});

test('a dead tcp-log receiver costs log lines, never requests', async () => {
  const results = await Promise.all(Array.from({ length: 10 }, () => get(gw.url('/dead'))));
  assert.ok(results.every((r) => r.status === 200));
  await gw.waitForLog(/tcp-log send failed; retrying/);
});
