import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildUpstreamHeaders, ForwardedParts } from '../../src/proxy/upstream-request';
import { DownstreamHead } from '../../src/proxy/request-head';
import { collectHeadersInto } from '../../src/proxy/server';
import { headerValueOnWire } from '../../src/upstream/exchange';

function head(path: string, names: string[], values: string[]): DownstreamHead {
  const h = new DownstreamHead();
  h.method = 'GET';
  h.rawPath = path;
  h.path = path;
  h.remoteAddress = '192.0.2.7';
  collectHeadersInto(h, names, values);
  h.parseHost(8000);
  return h;
}

const parts = new ForwardedParts('http', 8000, 'x-request-id');
const latin1Bytes = (s: string) => [...Buffer.from(s, 'latin1')];

test('client values above U+007F go upstream as their UTF-8 bytes; plugin additions, already in wire form, are not encoded twice', () => {
  // uWS hands over `café` decoded from UTF-8; a plugin's value arrives through setUpstreamHeader's wire form.
  const h = head('/', ['host', 'x-name'], ['gw.test', 'café']);
  const pluginValue = headerValueOnWire('名前')!;
  const out = buildUpstreamHeaders(h, 'up', 0, null, '', parts, null, ['x-plugin', pluginValue]);
  const value = (name: string) => out[out.indexOf(name) + 1];
  assert.deepEqual(latin1Bytes(value('x-name')), [...Buffer.from('café', 'utf8')]);
  assert.deepEqual(latin1Bytes(value('x-plugin')), [...Buffer.from('名前', 'utf8')]);
});

test('a path with characters above U+007F: X-Forwarded-Path carries its UTF-8 bytes, even without such a header', () => {
  const h = head('/café/名', ['host'], ['gw.test']);
  const out = buildUpstreamHeaders(h, 'up', 0, null, '', parts, null, null);
  assert.deepEqual(latin1Bytes(out[out.indexOf('x-forwarded-path') + 1]), [...Buffer.from('/café/名', 'utf8')]);
});

test('plain ASCII requests are left as they are', () => {
  const h = head('/a', ['host', 'accept'], ['gw.test', 'text/plain']);
  const out = buildUpstreamHeaders(h, 'up', 0, null, 'id-1', parts, null, null);
  assert.equal(out[out.indexOf('accept') + 1], 'text/plain');
  assert.equal(out[out.indexOf('x-request-id') + 1], 'id-1');
  assert.equal(out[out.indexOf('x-forwarded-path') + 1], '/a');
});

test('a stripped prefix holding a decoded control character goes percent-encoded, never raw', () => {
  const h = head('/a%0Ab/rest', ['host'], ['gw.test']);
  h.path = '/a\nb/rest';
  const out = buildUpstreamHeaders(h, 'up', 4, null, '', parts, null, null);
  assert.equal(out[out.indexOf('x-forwarded-prefix') + 1], '/a%0Ab');
});

test('plugin additions replace, never duplicate: a gateway-owned name the client also sent, Host at the head of the list, a client header, a new one', () => {
  const h = head('/a', ['host', 'x-consumer-id', 'accept', 'x-forwarded-host'], ['gw.test', 'spoofed', 'text/plain', 'evil.test']);
  const additions = ['x-consumer-id', 'c-1', 'host', 'rewritten.test', 'accept', 'application/json', 'x-forwarded-host', 'plugin.test', 'x-new', 'v'];
  const out = buildUpstreamHeaders(h, 'up', 0, null, '', parts, null, additions);
  const values = (name: string) => out.flatMap((n, i) => (i % 2 === 0 && n === name ? [out[i + 1]] : []));
  assert.deepEqual(values('x-consumer-id'), ['c-1']);
  assert.deepEqual(values('host'), ['rewritten.test']);
  assert.equal(out[0], 'host', 'Host stays first');
  assert.deepEqual(values('accept'), ['application/json']);
  assert.deepEqual(values('x-forwarded-host'), ['plugin.test']);
  assert.deepEqual(values('x-new'), ['v']);
});
