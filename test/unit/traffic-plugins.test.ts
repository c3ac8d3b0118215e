/** request-size-limiting, response-ratelimiting, bot-detection and redirect, built from YAML. */
import { WorkerResources } from '../../src/plugins/resources';
import { RATE_LIMIT_RUNTIME } from '../../src/ratelimit/runtime';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { createRateLimitMemory, MIN_SLOTS, SharedCounterTable } from '../../src/ratelimit/shared-table';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';

const yaml = (name: string, config: string) => `_format_version: "3.0"
plugins:
  - name: ${name}
    config:
${config
  .trim()
  .split('\n')
  .map((l) => '      ' + l)
  .join('\n')}
`;

// ---------------------------------------------------------------- request-size-limiting

const sizeLimit = (config: string) => pluginFromYaml(yaml('request-size-limiting', config), 'request-size-limiting');

test('request-size-limiting defaults: 128 megabytes, no Content-Length required', () => {
  const { config } = sizeLimit('size_unit: megabytes');
  assert.deepEqual(config.config, { allowed_payload_size: 128, size_unit: 'megabytes', require_content_length: false });
});

test('request-size-limiting: Content-Length over the limit gets 413 with Kong\'s message, 417 with Expect', async () => {
  const { instance } = sizeLimit('allowed_payload_size: 10\nsize_unit: bytes');
  const ok = new FakeContext({ method: 'POST', headers: { 'content-length': '10' } });
  assert.equal(instance.onRequest!(ok), Verdict.Continue);
  const big = new FakeContext({ method: 'POST', headers: { 'content-length': '11' } });
  assert.equal(instance.onRequest!(big), Verdict.Stop);
  assert.equal(big.reply?.status, 413);
  assert.deepEqual(JSON.parse(big.reply!.body), { message: 'Request size limit exceeded' });
  const expect = new FakeContext({ method: 'POST', headers: { 'content-length': '11', expect: '100-Continue' } });
  instance.onRequest!(expect);
  assert.equal(expect.reply?.status, 417);
  const { instance: kb } = sizeLimit('allowed_payload_size: 1\nsize_unit: kilobytes');
  assert.equal(kb.onRequest!(new FakeContext({ headers: { 'content-length': '1024' } })), Verdict.Continue);
  assert.equal(kb.onRequest!(new FakeContext({ headers: { 'content-length': '1025' } })), Verdict.Stop);
});

test('request-size-limiting: a chunked body is measured as it is read', async () => {
  const { instance } = sizeLimit('allowed_payload_size: 10\nsize_unit: bytes');
  const small = new FakeContext({ method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
  small.requestBody = Buffer.alloc(10);
  assert.equal(await instance.onRequest!(small), Verdict.Continue);
  const big = new FakeContext({ method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
  big.requestBody = Buffer.alloc(11);
  assert.equal(await instance.onRequest!(big), Verdict.Stop);
  assert.equal(big.reply?.status, 413);
});

test('request-size-limiting: require_content_length refuses a body-less length with 411', () => {
  const { instance } = sizeLimit('require_content_length: true');
  const ctx = new FakeContext({ method: 'POST' });
  assert.equal(instance.onRequest!(ctx), Verdict.Stop);
  assert.equal(ctx.reply?.status, 411);
  assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'A valid Content-Length header is required' });
  assert.notEqual(instance.onRequest!(new FakeContext({ method: 'POST', headers: { 'transfer-encoding': 'chunked' } })), Verdict.Stop);
});

// ---------------------------------------------------------------- response-ratelimiting

function rrl(config: string, clock = { now: 1_700_000_000_000 }) {
  const rateLimit = { table: new SharedCounterTable(createRateLimitMemory(MIN_SLOTS)), now: () => clock.now, log: { warn() {}, info() {} } };
  return { ...pluginFromYaml(yaml('response-ratelimiting', config), 'response-ratelimiting', { resources: new WorkerResources().set(RATE_LIMIT_RUNTIME, rateLimit) }), clock };
}

function respond(instance: ReturnType<typeof rrl>['instance'], limitHeader: string | null, req: FakeRequest = {}): FakeContext {
  const ctx = new FakeContext(req);
  const v = instance.onRequest!(ctx);
  if (v === Verdict.Continue) {
    ctx.responseStatus = 200;
    ctx.upstreamResponse = limitHeader === null ? [] : ['x-kong-limit', limitHeader];
    instance.onResponse!(ctx);
  }
  instance.onLog!(ctx);
  return ctx;
}

test('response-ratelimiting counts the units the upstream reports, per limit name', () => {
  const { instance } = rrl('limits: { videos: { minute: 3 }, images: { minute: 10, hour: 100 } }');
  const first = respond(instance, 'videos=2, images=1, unknown=5');
  assert.equal(first.responseHeaders.get('x-ratelimit-remaining-videos'), '3');
  assert.equal(first.responseHeaders.get('x-ratelimit-limit-videos-minute'), '3');
  assert.equal(first.responseHeaders.get('x-ratelimit-remaining-videos-minute'), '1');
  assert.equal(first.responseHeaders.get('x-ratelimit-remaining-images-hour'), '99');
  assert.ok(first.removedResponseHeaders.has('x-kong-limit'), 'the upstream\'s header is not shown to the client');
  const second = respond(instance, 'videos=1');
  assert.equal(second.responseHeaders.get('x-ratelimit-remaining-videos-minute'), '0');
  assert.equal(second.reply, null);
  // Used up: a response that would spend more videos is replaced by 429; one that does not passes.
  const third = respond(instance, 'videos=1');
  assert.equal(third.reply?.status, 429);
  assert.equal(third.reply?.body, '');
  const imagesOnly = respond(instance, 'images=1');
  assert.equal(imagesOnly.reply, null);
});

test('response-ratelimiting: block_on_first_violation refuses before the upstream, naming the limit', () => {
  const { instance, clock } = rrl('block_on_first_violation: true\nlimits: { videos: { minute: 1 } }');
  respond(instance, 'videos=1');
  const ctx = new FakeContext();
  assert.equal(instance.onRequest!(ctx), Verdict.Stop);
  assert.equal(ctx.reply?.status, 429);
  assert.deepEqual(JSON.parse(ctx.reply!.body), { message: "API rate limit exceeded for 'videos'" });
  clock.now += 60_000;
  assert.equal(instance.onRequest!(new FakeContext()), Verdict.Continue, 'a new minute starts over');
});

test('response-ratelimiting: limit_by ip counts clients apart; hide_client_headers hides the headers', () => {
  const { instance } = rrl('limit_by: ip\nhide_client_headers: true\nlimits: { v: { second: 1 } }');
  respond(instance, 'v=1', { remoteAddress: '10.0.0.1' });
  assert.equal(respond(instance, 'v=1', { remoteAddress: '10.0.0.1' }).reply?.status, 429);
  const other = respond(instance, 'v=1', { remoteAddress: '10.0.0.2' });
  assert.equal(other.reply, null);
  assert.equal(other.responseHeaders.has('x-ratelimit-limit-v-second'), false);
});

test('response-ratelimiting config errors are Kong\'s', () => {
  assert.throws(() => rrl('limits: { v: { minute: 10, second: 20 } }'), /the limit for minute\(10\.0\) cannot be lower than the limit for second\(20\.0\)/);
  assert.throws(() => rrl('limits: { v: {} }'), /at least one of/);
  assert.throws(() => rrl('limits: {}'), /limits/);
  assert.throws(() => rrl('policy: redis\nlimits: { v: { second: 1 } }'), /policy "redis" is not supported/);
});

// ---------------------------------------------------------------- bot-detection

const bots = (config: string) => pluginFromYaml(yaml('bot-detection', config), 'bot-detection').instance;

test('bot-detection: Kong\'s built-in rules refuse known bots with 403 Forbidden; browsers pass', () => {
  const plugin = bots('allow: []');
  for (const ua of ['Googlebot/2.1 (+http://www.google.com/bot.html)', 'curl-like Twitterbot/1.0', 'python-requests Python-urllib/3.11', 'Mozilla/5.0 (compatible; bingbot/2.0)']) {
    const ctx = new FakeContext({ headers: { 'user-agent': ua } });
    assert.equal(plugin.onRequest!(ctx), Verdict.Stop, ua);
    assert.equal(ctx.reply?.status, 403);
    assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'Forbidden' });
  }
  const browser = new FakeContext({ headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36' } });
  assert.equal(plugin.onRequest!(browser), Verdict.Continue);
  assert.equal(plugin.onRequest!(new FakeContext()), Verdict.Continue, 'no User-Agent: allowed');
});

test('bot-detection: allow wins over the rules, deny adds to them; two User-Agents get 400', () => {
  const plugin = bots('allow: ["Googlebot"]\ndeny: ["^MyScanner"]');
  assert.equal(plugin.onRequest!(new FakeContext({ headers: { 'user-agent': 'Googlebot/2.1' } })), Verdict.Continue);
  const denied = new FakeContext({ headers: { 'user-agent': '  MyScanner 1.0' } });
  assert.equal(plugin.onRequest!(denied), Verdict.Stop, 'the agent is trimmed before matching');
  const two = new FakeContext();
  (two.request.headerNames as string[]).push('user-agent', 'user-agent');
  (two.request.headerValues as string[]).push('a', 'b');
  assert.equal(plugin.onRequest!(two), Verdict.Stop);
  assert.equal(two.reply?.status, 400);
  assert.deepEqual(JSON.parse(two.reply!.body), { message: 'Only one User-Agent header allowed' });
});

test('bot-detection: a regex RE2 cannot run is a load error naming the entry', () => {
  assert.throws(() => bots('deny: ["(a)\\\\1"]'), /deny\.0|deny.*backreference/s);
});

// ---------------------------------------------------------------- redirect

const redirect = (config: string) => pluginFromYaml(yaml('redirect', config), 'redirect');

test('redirect: 301 to the location with body "redirecting" by default', () => {
  const { instance, config } = redirect('location: https://example.com/new');
  assert.equal(config.config.status_code, 301);
  assert.equal(config.config.keep_incoming_path, false);
  const ctx = new FakeContext({ path: '/old', query: 'a=1' });
  assert.equal(instance.onRequest!(ctx), Verdict.Stop);
  assert.equal(ctx.reply?.status, 301);
  assert.equal(ctx.reply?.body, 'redirecting');
  assert.deepEqual(ctx.reply?.headers, ['Location', 'https://example.com/new']);
});

test('redirect: keep_incoming_path keeps the request\'s path and query on the location\'s origin', () => {
  const { instance } = redirect('location: https://example.com:8443/ignored?x=1\nstatus_code: 308\nkeep_incoming_path: true');
  const ctx = new FakeContext({ path: '/a/b', query: 'q=1&r=2' });
  instance.onRequest!(ctx);
  assert.equal(ctx.reply?.status, 308);
  assert.deepEqual(ctx.reply?.headers, ['Location', 'https://example.com:8443/a/b?q=1&r=2']);
});

test('redirect: location is required and must be a URL', () => {
  assert.throws(() => redirect('status_code: 302'), /location/);
  assert.throws(() => redirect('location: not a url'), /is not a valid URL/);
});
