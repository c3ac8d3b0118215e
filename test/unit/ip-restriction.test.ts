import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { compileCheck } from '../../src/proxy/snapshot';
import { loadConfigText } from '../../src/config/load';
import { ConsumerDirectory } from '../../src/plugins/consumer-directory';
import { getPluginDefinition } from '../../src/plugins/registry';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const conf = (config: string) => `_format_version: "3.0"
plugins:
  - name: ip-restriction
    config:
${config
  .split('\n')
  .map((l) => '      ' + l)
  .join('\n')}
`;

const plugin = (config: string) => pluginFromYaml(conf(config), 'ip-restriction').instance;

/** Run onRequest for a peer address (and headers); the reply, or null when it passed. */
function run(instance: ReturnType<typeof plugin>, remoteAddress: string, headers: Record<string, string> = {}) {
  const ctx = new FakeContext({ remoteAddress, headers });
  const verdict = instance.onRequest!(ctx);
  if (verdict === Verdict.Continue) {
    assert.equal(ctx.reply, null);
    return null;
  }
  assert.equal(verdict, Verdict.Stop);
  assert.ok(ctx.reply !== null);
  return { status: ctx.reply.status, body: JSON.parse(ctx.reply.body), contentType: ctx.reply.contentType };
}

test("deny: a listed address gets 403 with Kong 3's message naming the address", () => {
  const ip = plugin('deny: [127.0.0.1]');
  assert.deepEqual(run(ip, '127.0.0.1'), {
    status: 403,
    body: { message: 'IP address not allowed: 127.0.0.1' },
    contentType: 'application/json; charset=utf-8',
  });
  assert.equal(run(ip, '127.0.0.2'), null);
});

test('allow: only listed addresses pass', () => {
  const ip = plugin('allow: [10.0.0.0/8, 192.168.1.7]');
  assert.equal(run(ip, '10.1.2.3'), null);
  assert.equal(run(ip, '192.168.1.7'), null);
  assert.equal(run(ip, '192.168.1.8')?.status, 403);
  assert.equal(run(ip, '11.0.0.1')?.body.message, 'IP address not allowed: 11.0.0.1');
});

test('allow and deny: deny is checked first', () => {
  const ip = plugin('allow: [10.0.0.0/8]\ndeny: [10.0.0.5, 10.9.0.0/16]');
  assert.equal(run(ip, '10.0.0.5')?.status, 403);
  assert.equal(run(ip, '10.9.200.1')?.status, 403);
  assert.equal(run(ip, '10.0.0.6'), null);
  assert.equal(run(ip, '172.16.0.1')?.status, 403, 'not in allow');
});

test('IPv6 addresses and CIDRs', () => {
  const ip = plugin('deny: ["2001:db8::/32", "::1"]');
  assert.equal(run(ip, '2001:db8:abcd::1')?.body.message, 'IP address not allowed: 2001:db8:abcd::1');
  assert.equal(run(ip, '::1')?.status, 403);
  assert.equal(run(ip, '2001:db9::1'), null);
  assert.equal(run(ip, '10.0.0.1'), null, 'IPv4 never matches IPv6 rules');
  const allow = plugin('allow: ["fd00::/8"]');
  assert.equal(run(allow, 'fd12::1'), null);
  assert.equal(run(allow, 'fe80::1%eth0')?.body.message, 'IP address not allowed: fe80::1');
});

test('IPv4-mapped addresses are matched as IPv4, on both sides', () => {
  const ip = plugin('deny: [10.0.0.0/8, "::ffff:192.168.0.0/112"]');
  assert.equal(run(ip, '::ffff:10.1.2.3')?.body.message, 'IP address not allowed: 10.1.2.3');
  assert.equal(run(ip, '0000:0000:0000:0000:0000:ffff:0a01:0203')?.status, 403);
  assert.equal(run(ip, '192.168.3.4')?.status, 403, 'a mapped CIDR in config is an IPv4 rule');
  assert.equal(run(ip, '::ffff:192.169.0.1'), null);
});

test('custom status and message', () => {
  const ip = plugin('deny: [127.0.0.1]\nstatus: 401\nmessage: go away');
  assert.deepEqual(run(ip, '127.0.0.1'), { status: 401, body: { message: 'go away' }, contentType: 'application/json; charset=utf-8' });
});

test('X-Forwarded-For is ignored without trusted proxies', () => {
  const ip = plugin('deny: [10.0.0.0/8]');
  assert.equal(run(ip, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3' }), null);
  const allow = plugin('allow: [10.0.0.0/8]');
  assert.equal(run(allow, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3' })?.status, 403, 'a client cannot spoof its way in');
});

test('with --trusted-ips, the address from X-Forwarded-For is the one checked', () => {
  const { config } = pluginFromYaml(conf('deny: [10.0.0.0/8]'), 'ip-restriction');
  const def = getPluginDefinition('ip-restriction')!;
  const ip = def.create(config.config, { consumers: ConsumerDirectory.empty(), trustedIps: ['127.0.0.1', '172.16.0.0/12'] });
  assert.equal(run(ip, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3' })?.body.message, 'IP address not allowed: 10.1.2.3');
  assert.equal(run(ip, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3, 172.16.5.5' })?.status, 403, 'trusted hops are skipped');
  assert.equal(run(ip, '127.0.0.1', { 'x-forwarded-for': '198.51.100.1' }), null);
  assert.equal(run(ip, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3, 198.51.100.1' }), null, 'the first untrusted hop from the right');
  assert.equal(run(ip, '198.51.100.9', { 'x-forwarded-for': '10.1.2.3' }), null, 'an untrusted peer is believed about nothing');
  assert.equal(run(ip, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3, bogus' }), null, 'garbage: the peer, which is not denied');
});

test('a peer address that cannot be parsed is refused as Kong refuses unix sockets', () => {
  const ip = plugin('allow: [0.0.0.0/0]');
  assert.deepEqual(run(ip, ''), {
    status: 403,
    body: { message: 'Cannot identify the client IP address, unix domain sockets are not supported.' },
    contentType: 'application/json; charset=utf-8',
  });
});

test('config: neither allow nor deny (or both empty) is an error', () => {
  assert.throws(() => pluginFromYaml('_format_version: "3.0"\nplugins:\n  - name: ip-restriction\n', 'ip-restriction'), /at least one of allow or deny/);
  assert.throws(() => plugin('allow: []\ndeny: []'), /at least one of allow or deny/);
  assert.equal(run(plugin('allow: []\ndeny: [1.2.3.4]'), '5.6.7.8'), null, 'an empty allow is no allow list, as in Kong');
});

test('config: a bad entry is refused, naming it', () => {
  assert.throws(() => plugin('allow: [10.0.0.300]'), /config\.allow\[0\]: "10\.0\.0\.300" is not an IP address or CIDR/);
  assert.throws(() => plugin('deny: [10.0.0.0/8, "10.0.0.0/33"]'), /config\.deny\[1\]: "10\.0\.0\.0\/33"/);
  assert.throws(() => plugin('deny: ["2001:db8::/129"]'), /config\.deny\[0\]/);
  assert.throws(() => plugin('deny: [example.com]'), /config\.deny\[0\]: "example\.com"/);
  assert.throws(() => plugin('deny: ["010.0.0.1"]'), /config\.deny\[0\]/, 'no octal forms');
});

test('config: a bad entry becomes a config error with the plugin id through the compile check', () => {
  const result = loadConfigText(conf('deny: [127.0.0.1, nope]'), 'inline.yaml');
  assert.ok(result.ok);
  assert.match(compileCheck(result.config) ?? '', /^plugin "ip-restriction" \([^)]+\): config\.deny\[1\]: "nope" is not an IP address or CIDR$/);
});

test('config: schema errors carry their line', () => {
  assert.throws(() => plugin('deny: [1.2.3.4]\nstatus: 700'), /inline\.yaml:\d+:.*status/);
  assert.throws(() => plugin('deny: 1.2.3.4'), /inline\.yaml:\d+:.*deny/);
  assert.throws(() => plugin('deny: [1.2.3.4]\nwhitelist: [1.2.3.4]'), /unknown field "whitelist"/);
});
