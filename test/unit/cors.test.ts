import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict, type PluginInstance } from '../../src/plugins/api';
import { compileCheck } from '../../src/proxy/snapshot';
import { loadConfigText } from '../../src/config/load';
import { OriginMatcher, MAX_ORIGIN_LENGTH } from '../../src/plugins/cors/origins';
import { re2InUse } from '../../src/util/safe-regex';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const conf = (config: string) =>
  config === ''
    ? '_format_version: "3.0"\nplugins:\n  - name: cors\n'
    : `_format_version: "3.0"
plugins:
  - name: cors
    config:
${config
  .split('\n')
  .map((l) => '      ' + l)
  .join('\n')}
`;

const plugin = (config: string) => pluginFromYaml(conf(config), 'cors').instance;
const ALL_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT';

/** A preflight: the local reply's headers as a map, or null when it was let through. */
function preflight(instance: PluginInstance, origin: string, extra: Record<string, string> = {}) {
  const ctx = new FakeContext({ method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', ...extra } });
  const verdict = instance.onRequest!(ctx);
  if (verdict === Verdict.Continue) return null;
  assert.equal(verdict, Verdict.Stop);
  assert.equal(ctx.reply!.status, 200);
  assert.equal(ctx.reply!.body, '');
  const h = ctx.reply!.headers ?? [];
  const map: Record<string, string> = {};
  for (let i = 0; i < h.length; i += 2) {
    assert.equal(map[h[i]], undefined, `header ${h[i]} given twice`);
    map[h[i]] = h[i + 1];
  }
  return map;
}

/** A proxied request: onRequest must let it through; the headers onResponse set. */
function proxied(instance: PluginInstance, headers: Record<string, string>, method = 'GET') {
  const ctx = new FakeContext({ method, headers });
  assert.equal(instance.onRequest!(ctx), Verdict.Continue);
  ctx.responseStatus = 200;
  instance.onResponse!(ctx);
  return Object.fromEntries(ctx.responseHeaders);
}

test('defaults: every origin, preflight answered with "*" and every method', () => {
  const { config, instance } = pluginFromYaml(conf(''), 'cors');
  assert.deepEqual(config.config.methods, ALL_METHODS.split(','));
  assert.equal(config.config.credentials, false);
  assert.deepEqual(preflight(instance, 'https://app.example', { 'access-control-request-headers': 'X-Token, Content-Type' }), {
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'X-Token, Content-Type',
    'access-control-allow-methods': ALL_METHODS,
  });
  assert.deepEqual(proxied(instance, { origin: 'https://app.example' }), { 'access-control-allow-origin': '*' });
});

test('preflight for an allowed origin: configured methods, headers, max_age, credentials, Vary', () => {
  const instance = plugin(
    'origins: ["https://app.example"]\nmethods: [GET, POST]\nheaders: [X-Token, Content-Type]\nmax_age: 3600\ncredentials: true',
  );
  assert.deepEqual(preflight(instance, 'https://app.example', { 'access-control-request-headers': 'X-Other' }), {
    'access-control-allow-origin': 'https://app.example',
    vary: 'Origin',
    'access-control-allow-credentials': 'true',
    'access-control-allow-headers': 'X-Token,Content-Type',
    'access-control-allow-methods': 'GET,POST',
    'access-control-max-age': '3600',
  });
});

test('preflight without Access-Control-Request-Headers and no configured headers: none sent', () => {
  const h = preflight(plugin('origins: ["https://app.example"]'), 'https://app.example');
  assert.equal(h?.['access-control-allow-headers'], undefined);
  assert.equal(h?.['access-control-allow-methods'], ALL_METHODS);
  assert.equal(h?.['access-control-max-age'], undefined);
  assert.equal(h?.['access-control-allow-credentials'], undefined);
});

test('a disallowed origin: the preflight is answered without CORS headers; a request is proxied without them', () => {
  const instance = plugin('origins: ["https://app.example"]\ncredentials: true\nexposed_headers: [X-Total]');
  assert.deepEqual(preflight(instance, 'https://evil.example'), { vary: 'Origin' });
  assert.deepEqual(proxied(instance, { origin: 'https://evil.example' }), { vary: 'Origin' });
});

test('simple requests: Allow-Origin, Credentials, Expose-Headers and Vary on the response', () => {
  const instance = plugin('origins: ["https://app.example", "https://admin.example"]\ncredentials: true\nexposed_headers: [X-Total, X-Page]');
  assert.deepEqual(proxied(instance, { origin: 'https://admin.example' }), {
    vary: 'Origin',
    'access-control-allow-origin': 'https://admin.example',
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'X-Total,X-Page',
  });
  assert.deepEqual(proxied(instance, { origin: 'https://app.example' }, 'POST')['access-control-allow-origin'], 'https://app.example');
});

test('requests without an Origin get no CORS headers', () => {
  assert.deepEqual(proxied(plugin('origins: ["https://app.example"]'), {}), {});
  assert.deepEqual(proxied(plugin(''), {}), {});
});

test('OPTIONS without Access-Control-Request-Method is not a preflight: proxied, headers added', () => {
  const instance = plugin('origins: ["https://app.example"]');
  assert.deepEqual(proxied(instance, { origin: 'https://app.example' }, 'OPTIONS'), {
    vary: 'Origin',
    'access-control-allow-origin': 'https://app.example',
  });
});

test('origins are compared normalized: default ports dropped, scheme and host case-insensitive', () => {
  const instance = plugin('origins: ["https://app.example:443", "http://api.example:8080"]');
  assert.equal(proxied(instance, { origin: 'https://app.example' })['access-control-allow-origin'], 'https://app.example');
  assert.equal(proxied(instance, { origin: 'HTTPS://APP.example:443' })['access-control-allow-origin'], 'https://app.example');
  assert.equal(proxied(instance, { origin: 'http://api.example:8080' })['access-control-allow-origin'], 'http://api.example:8080');
  assert.equal(proxied(instance, { origin: 'http://api.example' })['access-control-allow-origin'], undefined, 'other port');
  assert.equal(proxied(instance, { origin: 'http://app.example' })['access-control-allow-origin'], undefined, 'other scheme');
});

test('regex origins must match the whole origin', () => {
  const instance = plugin('origins: ["https://.*\\\\.example\\\\.com", "^http://localhost:\\\\d+$"]');
  const acao = (origin: string) => proxied(instance, { origin })['access-control-allow-origin'];
  assert.equal(acao('https://api.example.com'), 'https://api.example.com');
  assert.equal(acao('https://a.b.example.com'), 'https://a.b.example.com');
  assert.equal(acao('https://example.com'), undefined);
  assert.equal(acao('https://api.example.com.evil.net'), undefined, 'anchored at the end');
  assert.equal(acao('evil://x/https://api.example.com'), undefined, 'anchored at the start');
  assert.equal(acao('http://api.example.com'), undefined);
  assert.equal(acao('http://localhost:3000'), 'http://localhost:3000');
  assert.equal(acao('http://localhost:3000x'), undefined);
  assert.equal(preflight(instance, 'https://api.example.com')?.['access-control-allow-origin'], 'https://api.example.com');
});

test("a regex without ':' is matched against the host alone (Kong's by_host)", () => {
  const instance = plugin('origins: ["(.*)\\\\.example\\\\.org"]');
  assert.equal(proxied(instance, { origin: 'http://x.example.org:8080' })['access-control-allow-origin'], 'http://x.example.org:8080');
  assert.equal(proxied(instance, { origin: 'https://y.example.org' })['access-control-allow-origin'], 'https://y.example.org');
  assert.equal(proxied(instance, { origin: 'https://example.org' })['access-control-allow-origin'], undefined);
});

test('"*" with credentials echoes the origin, with Vary and Allow-Credentials', () => {
  const instance = plugin('origins: ["*"]\ncredentials: true');
  assert.deepEqual(proxied(instance, { origin: 'https://any.example' }), {
    vary: 'Origin',
    'access-control-allow-origin': 'https://any.example',
    'access-control-allow-credentials': 'true',
  });
  const h = preflight(instance, 'https://any.example');
  assert.equal(h?.['access-control-allow-origin'], 'https://any.example');
  assert.equal(h?.['access-control-allow-credentials'], 'true');
  assert.equal(h?.vary, 'Origin');
});

test('"*" anywhere in the list allows every origin', () => {
  const instance = plugin('origins: ["https://app.example", "*"]');
  assert.deepEqual(proxied(instance, { origin: 'https://other.example' }), { 'access-control-allow-origin': '*' });
});

test('preflight_continue: the preflight is proxied and its answer left alone', () => {
  const instance = plugin('origins: ["https://app.example"]\npreflight_continue: true');
  assert.equal(preflight(instance, 'https://app.example'), null);
  const ctx = new FakeContext({ method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } });
  instance.onResponse!(ctx);
  assert.equal(ctx.responseHeaders.size, 0);
  // Non-preflight requests still get their headers.
  assert.equal(proxied(instance, { origin: 'https://app.example' })['access-control-allow-origin'], 'https://app.example');
});

test('private_network: answered only when asked for', () => {
  const instance = plugin('private_network: true');
  assert.equal(preflight(instance, 'https://a.example', { 'access-control-request-private-network': 'true' })?.['access-control-allow-private-network'], 'true');
  assert.equal(preflight(instance, 'https://a.example')?.['access-control-allow-private-network'], undefined);
  assert.equal(
    preflight(plugin(''), 'https://a.example', { 'access-control-request-private-network': 'true' })?.['access-control-allow-private-network'],
    undefined,
    'off by default',
  );
});

test('an origin longer than any real one is refused without running the regexes', () => {
  const instance = plugin('origins: ["https://.*"]');
  const long = 'https://' + 'a'.repeat(MAX_ORIGIN_LENGTH);
  assert.equal(proxied(instance, { origin: long })['access-control-allow-origin'], undefined);
  assert.equal(proxied(instance, { origin: 'https://a.example' })['access-control-allow-origin'], 'https://a.example');
});

test('origin regexes run on RE2 (linear-time matching)', () => {
  // The native build is part of `npm ci`; the backtracking fallback is covered by cors-fallback.test.ts.
  assert.equal(re2InUse, true);
});

test('a regex runs once per distinct origin (decisions are cached)', () => {
  const matcher = OriginMatcher.compile(['https://[a-z]+\\.example\\.com']);
  const proto = (require('re2') as { prototype: { test(this: { source: string }, s: string): boolean } }).prototype;
  const original = proto.test;
  let runs = 0;
  proto.test = function (this: { source: string }, s: string) {
    if (this.source.includes('example')) runs++;
    return original.call(this, s);
  };
  try {
    for (let i = 0; i < 5; i++) assert.equal(matcher.match('https://api.example.com'), 'https://api.example.com');
    for (let i = 0; i < 5; i++) assert.equal(matcher.match('https://evil.example.net'), null);
  } finally {
    proto.test = original;
  }
  assert.equal(runs, 2);
});

test('patterns that backtrack catastrophically are accepted on RE2 and answer correctly', () => {
  const instance = plugin('origins: ["https://(a+)+\\\\.example\\\\.com", "https://(a|aa)*c", "https://.*.*.*x"]');
  const acao = (origin: string) => proxied(instance, { origin })['access-control-allow-origin'];
  assert.equal(acao('https://aaa.example.com'), 'https://aaa.example.com');
  assert.equal(acao('https://aaac'), 'https://aaac');
  assert.equal(acao('https://abcx'), 'https://abcx');
  // Worst cases for a backtracking engine: a long run of "a" that almost matches.
  const run = 'a'.repeat(MAX_ORIGIN_LENGTH - 'https://'.length - 1);
  assert.equal(acao(`https://${run}.example.co`), undefined);
  assert.equal(acao(`https://${run}`), undefined);
  assert.equal(acao(`https://${run}c`), `https://${run}c`);
});

test('config: patterns RE2 cannot run are refused, naming the entry and the feature', () => {
  assert.throws(() => plugin('origins: ["(https)://\\\\1"]'), /config\.origins\[0\]: regex "\(https\):\/\/\\1" uses a backreference, which linear-time matching \(RE2\) does not support/);
  assert.throws(() => plugin('origins: ["https://app.example", "https://(?<h>a)\\\\k<h>"]'), /config\.origins\[1\]: regex .* uses a backreference/);
  assert.throws(() => plugin('origins: ["https://(?!evil).*"]'), /config\.origins\[0\]: regex "https:\/\/\(\?!evil\)\.\*" uses a lookaround/);
  assert.throws(() => plugin('origins: ["https://(?<=x)y"]'), /uses a lookaround/);
  // Common shapes stay accepted.
  plugin('origins: ["https?://([a-z0-9-]+\\\\.)?example\\\\.com(:\\\\d+)?", "https://(www|api)\\\\.example\\\\.com", "(.*)\\\\.example\\\\.org"]');
});

test('config: an invalid regex is refused, and becomes a config error with the plugin id', () => {
  assert.throws(() => plugin('origins: ["https://[a"]'), /config\.origins\[0\]: "https:\/\/\[a" is neither a plain origin nor a valid regex/);
  const result = loadConfigText(conf('origins: ["(https)://\\\\1"]'), 'inline.yaml');
  assert.ok(result.ok);
  assert.match(compileCheck(result.config) ?? '', /^plugin "cors" \([^)]+\): config\.origins\[0\]: regex "\(https\):\/\/\\1" uses a backreference/);
});

test('config: schema errors carry their line', () => {
  assert.throws(() => plugin('methods: [GET, FETCH]'), /inline\.yaml:\d+:.*methods/);
  assert.throws(() => plugin('max_age: -1'), /inline\.yaml:\d+:.*max_age/);
  assert.throws(() => plugin('origin: ["*"]'), /unknown field "origin"/);
});
