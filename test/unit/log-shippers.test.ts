/**
 * tcp-log, udp-log, syslog and statsd built from inline YAML through their real schemas, fed with
 * a fake context, their queues flushed to real receivers on loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PluginInstance } from '../../src/plugins/api';
import type { LogRecord } from '../../src/logging/serializer';
import { formatConfigErrors, loadConfigText } from '../../src/config/load';
import { packLines, StatsdFormatter } from '../../src/plugins/statsd/lines';
import type { StatsdConfig } from '../../src/plugins/statsd/schema';
import { bsdTimestamp } from '../../src/plugins/syslog/transport';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';
import { selfSignedCert, startStreamReceiver, startUdpReceiver, type StreamReceiver, type UdpReceiver } from '../helpers/log-receivers';

type Queued = PluginInstance & { queue: { flush(): Promise<void>; pending: number } };

let entry = 0;
function plugin(name: string, config: string): Queued {
  entry++;
  const yaml = `_format_version: "3.0"\nplugins:\n  - name: ${name}\n    config: ${config}\n`;
  return pluginFromYaml(yaml, name, { pluginId: `p${entry}` }).instance as Queued;
}

function normalized(name: string, config: string): Record<string, unknown> {
  const r = loadConfigText(`_format_version: "3.0"\nplugins:\n  - name: ${name}\n    config: ${config}\n`, 'gateway.yaml');
  if (!r.ok) throw new Error(formatConfigErrors(r.errors, 'gateway.yaml'));
  return r.config.plugins[0].config;
}

function configErrors(name: string, config: string): string {
  const r = loadConfigText(`_format_version: "3.0"\nplugins:\n  - name: ${name}\n    config: ${config}\n`, 'gateway.yaml');
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return formatConfigErrors(!r.ok ? r.errors : [], 'gateway.yaml');
}

/** Give up after 100 ms instead of 10 s, so a test of giving up stays short. */
function shortRetries(q: object): void {
  const original = (q as { options: object }).options;
  Object.assign(q, { options: { ...original, maxRetryTimeMs: 100, initialRetryDelayMs: 10 } });
}

function request(status: number, path = '/things'): FakeContext {
  const ctx = new FakeContext({ path, headers: { 'user-agent': 'unit' } });
  ctx.responseStatus = status;
  return ctx;
}

let udp: UdpReceiver;
let tcp: StreamReceiver;
before(async () => {
  udp = await startUdpReceiver();
  tcp = await startStreamReceiver();
});
after(async () => {
  await udp.close();
  await tcp.close();
});

test('tcp-log: Kong JSON lines over one kept-alive connection; a dropped connection is reopened', async () => {
  const p = plugin('tcp-log', `{ host: 127.0.0.1, port: ${tcp.port}, keepalive: 60000 }`);
  const before = tcp.messages.length;
  const connectsBefore = tcp.connections();
  p.onLog!(request(200, '/a'));
  p.onLog!(request(404, '/b'));
  await p.queue.flush();
  p.onLog!(request(500, '/c'));
  await p.queue.flush();
  await tcp.waitFor((m) => m.length >= before + 3);
  const lines = tcp.messages.slice(before).map((l) => JSON.parse(l) as LogRecord);
  assert.deepEqual(lines.map((l) => [l.request.uri, l.response.status]), [['/a', 200], ['/b', 404], ['/c', 500]]);
  assert.equal(tcp.connections() - connectsBefore, 1, 'one connection for all three lines');
  tcp.dropConnections();
  await new Promise((r) => setTimeout(r, 50));
  p.onLog!(request(201, '/d'));
  await p.queue.flush();
  await tcp.waitFor((m) => m.some((l) => l.includes('"/d"')));
  assert.equal(tcp.connections() - connectsBefore, 2);
});

test('tcp-log over TLS, with tls_sni', async () => {
  const tlsReceiver = await startStreamReceiver({ tls: selfSignedCert() });
  try {
    const p = plugin('tcp-log', `{ host: 127.0.0.1, port: ${tlsReceiver.port}, tls: true, tls_sni: localhost }`);
    p.onLog!(request(200, '/secure'));
    await p.queue.flush();
    await tlsReceiver.waitFor((m) => m.length === 1);
    assert.equal((JSON.parse(tlsReceiver.messages[0]) as LogRecord).request.uri, '/secure');
  } finally {
    await tlsReceiver.close();
  }
});

test('tcp-log: an unreachable receiver costs the entries after retries, never the caller', async () => {
  const closed = await startStreamReceiver();
  const port = closed.port;
  await closed.close();
  const p = plugin('tcp-log', `{ host: 127.0.0.1, port: ${port}, timeout: 200 }`);
  const q = p.queue as unknown as { flush(): Promise<void>; counters: { failed: number; retried: number } };
  shortRetries(q);
  p.onLog!(request(200));
  await q.flush();
  assert.equal(q.counters.failed, 1);
  assert.ok(q.counters.retried > 0);
});

test('udp-log: one JSON datagram per request, no newline', async () => {
  const p = plugin('udp-log', `{ host: 127.0.0.1, port: ${udp.port} }`);
  const before = udp.messages.length;
  p.onLog!(request(200, '/u1'));
  p.onLog!(request(502, '/u2'));
  await p.queue.flush();
  await udp.waitFor((m) => m.length >= before + 2);
  const got = udp.messages.slice(before);
  assert.ok(got.every((d) => !d.endsWith('\n')));
  assert.deepEqual(got.map((d) => (JSON.parse(d) as LogRecord).response.status), [200, 502]);
});

test('syslog over UDP: facility and severity by status class, log_level filter, RFC 3164 line', async () => {
  const p = plugin('syslog', `{ protocol: udp, host: 127.0.0.1, port: ${udp.port}, facility: local3, log_level: warning, successful_severity: info, client_errors_severity: warning, server_errors_severity: crit }`);
  const before = udp.messages.length;
  p.onLog!(request(200, '/ok'));
  p.onLog!(request(404, '/missing'));
  p.onLog!(request(503, '/broken'));
  await p.queue.flush();
  await udp.waitFor((m) => m.length >= before + 2);
  await new Promise((r) => setTimeout(r, 50));
  const got = udp.messages.slice(before);
  assert.equal(got.length, 2, 'info is below log_level warning and is not sent');
  // local3 = 19: 19 * 8 + warning 4 = 156, + crit 2 = 154.
  const m1 = /^<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) kong: (\{.*\})$/.exec(got[0]);
  assert.ok(m1, got[0]);
  assert.equal(m1[1], '156');
  assert.equal(m1[3], os.hostname());
  assert.equal((JSON.parse(m1[4]) as LogRecord).request.uri, '/missing');
  assert.match(got[1], /^<154>/);
  assert.equal(bsdTimestamp(new Date(2026, 0, 5, 7, 8, 9)), 'Jan  5 07:08:09');
});

test('syslog over TCP: newline-framed lines', async () => {
  const p = plugin('syslog', `{ protocol: tcp, host: 127.0.0.1, port: ${tcp.port}, facility: daemon }`);
  p.onLog!(request(200, '/tcp-syslog'));
  await p.queue.flush();
  await tcp.waitFor((m) => m.some((l) => l.includes('/tcp-syslog')));
  // daemon = 3: 3 * 8 + info 6 = 30.
  assert.match(tcp.messages.find((l) => l.includes('/tcp-syslog'))!, /^<30>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ kong: \{/);
});

test('syslog to the local socket (as Kong): written by logger to a unix socket', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-syslog-'));
  // Node can listen on a unix stream socket only; logger writes to either kind, as syslog(3) does.
  const local = await startStreamReceiver({ unixPath: path.join(dir, 'log.sock') });
  try {
    const p = plugin('syslog', `{ socket_path: ${path.join(dir, 'log.sock')}, facility: local0, server_errors_severity: err }`);
    p.onLog!(request(200, '/local-ok'));
    p.onLog!(request(500, '/local-fail'));
    await p.queue.flush();
    await local.waitFor((m) => m.length >= 2);
    const byUri = new Map(local.messages.map((l) => [(JSON.parse(l.slice(l.indexOf('{'))) as LogRecord).request.uri, l]));
    // local0 = 16: 128 + info 6 = 134, + err 3 = 131.
    assert.match(byUri.get('/local-ok')!, /^<134>.* kong: \{/);
    assert.match(byUri.get('/local-fail')!, /^<131>.* kong: \{/);
  } finally {
    await local.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('syslog to a missing local socket: logger says why, the queue retries then gives up', async () => {
  const p = plugin('syslog', `{ socket_path: /nonexistent/floodgate-test.sock }`);
  const q = p.queue as unknown as { flush(): Promise<void>; counters: { failed: number; retried: number } };
  shortRetries(q);
  p.onLog!(request(200));
  await q.flush();
  assert.equal(q.counters.failed, 1);
});

const record = (over: Partial<LogRecord> = {}): LogRecord => ({
  ...new FakeContext().serializeLog(),
  request: { id: 'r', method: 'GET', uri: '/x', url: 'http://h/x', size: 120, querystring: {}, headers: {} },
  response: { status: 200, size: 512, headers: {} },
  latencies: { request: 12.4, proxy: 10.2, kong: 2.2, receive: 1 },
  route: { id: 'route-id', name: 'route-name', paths: null },
  service: { id: 'svc-id', name: 'billing.v2', host: 'billing.internal', port: 80, protocol: 'http', path: null },
  consumer: { id: 'cons-id', username: 'alice', custom_id: 'c-42' },
  ...over,
});

test('statsd lines: Kong names for every default metric', () => {
  const conf = normalized('statsd', '{}') as unknown as StatsdConfig;
  const lines: string[] = [];
  new StatsdFormatter(conf, 'gw.example.com').linesOf(record(), lines);
  assert.deepEqual(lines, [
    'kong.service.billing_v2.request.count:1|c',
    'kong.service.billing_v2.latency:12|ms',
    'kong.service.billing_v2.request.size:120|c',
    'kong.service.billing_v2.status.200:1|c',
    'kong.service.billing_v2.response.size:512|c',
    'kong.service.billing_v2.user.uniques:c-42|s',
    'kong.service.billing_v2.user.c-42.request.count:1|c',
    'kong.service.billing_v2.upstream_latency:10|ms',
    'kong.service.billing_v2.kong_latency:2|ms',
    'kong.service.billing_v2.user.c-42.status.200:1|c',
    'kong.service.billing_v2.workspace.default.status.200:1|c',
    'kong.route.route-id.user.c-42.status.200:1|c',
  ]);
  const unmatched: string[] = [];
  new StatsdFormatter(conf, 'gw').linesOf(record({ service: null, consumer: null, route: null }), unmatched);
  assert.equal(unmatched[0], 'kong.global.unmatched.request.count:1|c');
  assert.ok(!unmatched.some((l) => l.includes('.user.')), 'no consumer, no per-user metrics');
});

test('statsd lines: identifiers, prefix, hostname_in_prefix, sample_rate', () => {
  const conf = normalized('statsd', `{ prefix: edge, hostname_in_prefix: true, consumer_identifier_default: username, metrics: [ ` +
    '{ name: request_count, stat_type: counter, sample_rate: 0.5, service_identifier: service_id }, ' +
    '{ name: status_count_per_user, stat_type: counter, sample_rate: 1, consumer_identifier: consumer_id }, ' +
    '{ name: request_per_user, stat_type: counter, sample_rate: 1 }, { name: latency, stat_type: histogram } ] }') as unknown as StatsdConfig;
  const lines: string[] = [];
  new StatsdFormatter(conf, 'gw.example.com', () => 0.1).linesOf(record(), lines);
  assert.deepEqual(lines, [
    'edge.node.gw_example_com.service.svc-id.request.count:1|c|@0.5',
    'edge.node.gw_example_com.service.billing_v2.user.cons-id.status.200:1|c',
    'edge.node.gw_example_com.service.billing_v2.user.alice.request.count:1|c',
    'edge.node.gw_example_com.service.billing_v2.latency:12|h',
  ]);
  const skipped: string[] = [];
  new StatsdFormatter(conf, 'gw', () => 0.9).linesOf(record(), skipped);
  assert.ok(!skipped.some((l) => l.includes('request.count:1|c|@0.5')), 'a 0.5 sample is dropped when the draw misses');
});

test('statsd lines: every tag_style', () => {
  const expected: Record<string, string> = {
    dogstatsd: 'kong.request.count:1|c|#service:billing.v2,route:route-name,workspace:default,consumer:c-42,node:gw,status:200',
    influxdb: 'kong.request.count,service=billing.v2,route=route-name,workspace=default,consumer=c-42,node=gw,status=200:1|c',
    librato: 'kong.request.count#service=billing.v2,route=route-name,workspace=default,consumer=c-42,node=gw,status=200:1|c',
    signalfx: 'kong.request.count[service=billing.v2,route=route-name,workspace=default,consumer=c-42,node=gw,status=200]:1|c',
  };
  for (const [style, line] of Object.entries(expected)) {
    const conf = normalized('statsd', `{ tag_style: ${style} }`) as unknown as StatsdConfig;
    const lines: string[] = [];
    new StatsdFormatter(conf, 'gw', () => 0).linesOf(record(), lines);
    assert.equal(lines[0], line);
    assert.equal(lines.length, 6, `${style}: only the per-request values, as Kong`);
  }
});

test('statsd packs lines into udp_packet_size datagrams', () => {
  assert.deepEqual(packLines(['aaaa', 'bbbb', 'cccc'], 9), ['aaaa\nbbbb', 'cccc']);
  assert.deepEqual(packLines(['aaaa', 'bbbb'], 0), ['aaaa', 'bbbb']);
});

test('statsd to a real UDP receiver: allow_status_codes filters, udp_packet_size packs', async () => {
  const p = plugin('statsd', `{ host: 127.0.0.1, port: ${udp.port}, allow_status_codes: ["200-299"], udp_packet_size: 1000, metrics: [ { name: request_count, stat_type: counter, sample_rate: 1 }, { name: status_count, stat_type: counter, sample_rate: 1 } ] }`);
  const before = udp.messages.length;
  p.onLog!(request(204));
  p.onLog!(request(500));
  await p.queue.flush();
  await udp.waitFor((m) => m.length > before);
  await new Promise((r) => setTimeout(r, 50));
  const got = udp.messages.slice(before);
  assert.deepEqual(got, ['kong.global.unmatched.request.count:1|c\nkong.global.unmatched.status.204:1|c']);
});

test('statsd over TCP: newline-terminated lines', async () => {
  const p = plugin('statsd', `{ host: 127.0.0.1, port: ${tcp.port}, use_tcp: true, metrics: [ { name: response_size, stat_type: gauge, sample_rate: 1 } ] }`);
  p.onLog!(request(200));
  await p.queue.flush();
  await tcp.waitFor((m) => m.includes('kong.global.unmatched.response.size:0|g'));
});

test('config errors name the field', () => {
  assert.match(configErrors('statsd', '{ metrics: [ { name: request_count, stat_type: counter } ] }'), /metrics\[0\]\.sample_rate.*required when stat_type is counter/);
  assert.match(configErrors('statsd', '{ metrics: [ { name: cpu, stat_type: counter, sample_rate: 1 } ] }'), /metrics/);
  assert.match(configErrors('statsd', '{ allow_status_codes: ["2xx"] }'), /status range/);
  assert.match(configErrors('statsd', '{ tag_style: prometheus }'), /tag_style/);
  assert.match(configErrors('syslog', '{ facility: local9 }'), /facility/);
  assert.match(configErrors('syslog', '{ protocol: tcp }'), /"config\.host": host is required when protocol is tcp/);
  assert.match(configErrors('tcp-log', '{ host: 127.0.0.1 }'), /port/);
  assert.match(configErrors('udp-log', '{ host: "http://x", port: 9 }'), /host name or an IP address/);
  assert.match(configErrors('tcp-log', '{ host: h, port: 1, custom_fields_by_lua: { x: "return 1" } }'), /runs Lua, which Floodgate cannot run/);
});
