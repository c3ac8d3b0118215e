import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestHead } from '../../src/plugins/api';
import { AddressList, clientAddress, clientAddressResolver, parseAddress, parseRange } from '../../src/plugins/client-address';

/** A request head with repeated headers allowed (FakeContext takes a record). */
function head(remoteAddress: string, headers: [string, string][] = []): RequestHead {
  return {
    scheme: 'http',
    method: 'GET',
    rawPath: '/',
    path: '/',
    query: '',
    host: 'localhost',
    remoteAddress,
    clientCertificate: null,
    headerNames: headers.map(([k]) => k.toLowerCase()),
    headerValues: headers.map(([, v]) => v),
    header(name: string) {
      return headers.find(([k]) => k.toLowerCase() === name)?.[1];
    },
  };
}
const xff = (...values: string[]): [string, string][] => values.map((v) => ['X-Forwarded-For', v]);

test('parseAddress: plain, mapped, bracketed, with port, with a zone id', () => {
  const cases: [string, string][] = [
    ['1.2.3.4', '1.2.3.4'],
    ['::1', '::1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:ffff:7f00:0001', '127.0.0.1'],
    ['[::1]', '::1'],
    ['[2001:db8::1]:8443', '2001:db8::1'],
    ['[::ffff:10.0.0.1]:80', '10.0.0.1'],
    ['1.2.3.4:5678', '1.2.3.4'],
    ['fe80::1%eth0', 'fe80::1'],
    ['fe80::1%en-0.5', 'fe80::1'],
    ['[fe80::1%25eth0]:80', 'fe80::1'],
  ];
  for (const [input, expected] of cases) assert.equal(parseAddress(input)?.toString(), expected, input);
});

test('parseAddress: garbage and non-canonical IPv4 forms are refused', () => {
  for (const input of [
    '', 'abc', 'unknown', '256.1.1.1', '1.2.3', '127.1', '01.2.3.4', '0x7f.0.0.1', '2130706433',
    '1.2.3.4:', '1.2.3.4:http', '[1.2.3.4]', '[::1', '[::1]x', '::ffff:01.2.3.4', 'fe80::1%', ':::', '1.2.3.4/8',
  ]) {
    assert.equal(parseAddress(input), null, JSON.stringify(input));
  }
});

test('parseRange: addresses, CIDRs, and mapped CIDRs as IPv4', () => {
  assert.deepEqual(parseRange('10.0.0.0/8')?.map(String), ['10.0.0.0', '8']);
  assert.deepEqual(parseRange('10.1.2.3')?.map(String), ['10.1.2.3', '32']);
  assert.deepEqual(parseRange('2001:db8::/32')?.map(String), ['2001:db8::', '32']);
  assert.deepEqual(parseRange('::1')?.map(String), ['::1', '128']);
  assert.deepEqual(parseRange('::ffff:10.0.0.0/104')?.map(String), ['10.0.0.0', '8']);
  assert.deepEqual(parseRange('::ffff:1.2.3.4')?.map(String), ['1.2.3.4', '32']);
  for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/x', '10.0.0.0/8/8', '10.0.0', '010.0.0.0/8', 'fe80::1%eth0', '[::1]', 'example.com', '']) {
    assert.equal(parseRange(bad), null, bad);
  }
});

test('AddressList: matches by family; a bad entry is named', () => {
  const list = AddressList.compile(['10.0.0.0/8', '192.168.1.1', '2001:db8::/32'], 'x');
  for (const yes of ['10.255.0.1', '192.168.1.1', '2001:db8:1::5', '::ffff:10.0.0.1']) assert.ok(list.contains(parseAddress(yes)!), yes);
  for (const no of ['11.0.0.1', '192.168.1.2', '2001:db9::1', '::1']) assert.ok(!list.contains(parseAddress(no)!), no);
  assert.throws(() => AddressList.compile(['10.0.0.1', 'nope'], 'config.allow'), /config\.allow\[1\]: "nope" is not an IP address or CIDR/);
});

test('no trusted proxies: the peer is the client, whatever X-Forwarded-For says', () => {
  const r = clientAddressResolver([]);
  assert.equal(r.clientAddress(head('203.0.113.9', xff('10.1.2.3'))), '203.0.113.9');
  assert.equal(r.clientAddress(head('::ffff:203.0.113.9')), '203.0.113.9');
});

test('an untrusted peer is the client even when some proxies are trusted', () => {
  const r = clientAddressResolver(['127.0.0.1']);
  assert.equal(r.clientAddress(head('203.0.113.9', xff('10.1.2.3'))), '203.0.113.9');
});

test('a trusted peer: X-Forwarded-For is walked right to left, skipping trusted hops', () => {
  const r = clientAddressResolver(['127.0.0.1', '10.0.0.0/8']);
  assert.equal(r.clientAddress(head('127.0.0.1', xff('198.51.100.7, 203.0.113.5, 10.0.0.2'))), '203.0.113.5');
  // Several header lines are one list, in arrival order.
  assert.equal(r.clientAddress(head('127.0.0.1', xff('198.51.100.7', '203.0.113.5', '10.0.0.2, 10.0.0.3'))), '203.0.113.5');
  // Spaces, empty entries, ports and brackets.
  assert.equal(r.clientAddress(head('127.0.0.1', xff(' 198.51.100.7:5555 ,, 10.0.0.2 '))), '198.51.100.7');
  assert.equal(r.clientAddress(head('127.0.0.1', xff('[2001:db8::7]:443'))), '2001:db8::7');
  // Mapped addresses count as IPv4, for the peer and the hops.
  assert.equal(r.clientAddress(head('::ffff:127.0.0.1', xff('::ffff:10.0.0.9, ::ffff:198.51.100.1, ::ffff:10.0.0.8'))), '198.51.100.1');
});

test('a trusted peer without X-Forwarded-For is the client', () => {
  const r = clientAddressResolver(['127.0.0.1']);
  assert.equal(r.clientAddress(head('127.0.0.1')), '127.0.0.1');
});

test('all hops trusted: the leftmost', () => {
  const r = clientAddressResolver(['127.0.0.1', '10.0.0.0/8']);
  assert.equal(r.clientAddress(head('127.0.0.1', xff('10.0.0.1, 10.0.0.2', '10.0.0.3'))), '10.0.0.1');
});

test('garbage stops the walk at the last good address', () => {
  const r = clientAddressResolver(['127.0.0.1', '10.0.0.0/8']);
  assert.equal(r.clientAddress(head('127.0.0.1', xff('198.51.100.7, garbage, 10.0.0.2'))), '10.0.0.2');
  assert.equal(r.clientAddress(head('127.0.0.1', xff('198.51.100.7, unknown'))), '127.0.0.1', 'rightmost is garbage: the peer');
  assert.equal(r.clientAddress(head('127.0.0.1', xff('198.51.100.7, 010.0.0.1'))), '127.0.0.1', 'no octal tricks');
});

test('IPv6 trusted proxies and clients', () => {
  const r = clientAddressResolver(['::1', 'fd00::/8']);
  assert.equal(r.clientAddress(head('::1', xff('2001:db8::1, fd00::5'))), '2001:db8::1');
  assert.equal(r.clientAddress(head('fe80::1%lo', xff('2001:db8::1'))), 'fe80::1', 'untrusted peer, zone dropped');
});

test('an unparseable peer resolves to null (the text helper gives it back raw)', () => {
  const r = clientAddressResolver(['127.0.0.1']);
  const h = head('not-an-ip', xff('1.2.3.4'));
  assert.equal(r.resolve(h), null);
  assert.equal(r.clientAddress(h), 'not-an-ip');
});

test('the resolver is compiled once per trusted list, and a bad --trusted-ips entry is named', () => {
  const list = ['127.0.0.1'];
  assert.equal(clientAddressResolver(list), clientAddressResolver(list));
  assert.equal(clientAddress(head('127.0.0.1', xff('9.9.9.9')), list), '9.9.9.9');
  assert.throws(() => clientAddressResolver(['127.0.0.1', 'proxy.internal']), /--trusted-ips\[1\]: "proxy.internal" is not an IP address or CIDR/);
});

test('a repeated peer is parsed once', () => {
  const r = clientAddressResolver([]);
  const a = r.resolve(head('203.0.113.1'));
  assert.equal(r.resolve(head('203.0.113.1')), a);
  assert.notEqual(r.resolve(head('203.0.113.2')), a);
});
