/**
 * hmac-auth built from inline YAML through the real loader and schema, called with a fake
 * context and a fixed clock: Kong's statuses, messages and WWW-Authenticate, the signing string
 * rules, the algorithms, clock skew, enforce_headers, body digests, hide_credentials and the
 * anonymous fallback; and the hmacauth_credentials entity's config errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { Verdict } from '../../src/plugins/api';
import { createHmacAuth } from '../../src/plugins/hmac-auth';
import type { HmacAuthConfig } from '../../src/plugins/hmac-auth/schema';
import { parseAuthorization, parseHttpDate } from '../../src/plugins/hmac-auth/signing';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';
import { formatConfigErrors, loadConfigText } from '../../src/config/load';

const NOW = Date.UTC(2026, 11, 3, 7, 0, 0);
const DATE = new Date(NOW).toUTCString();

function build(config = '{}', consumersYaml?: string) {
  const yaml = `_format_version: "3.0"
consumers:
${
  consumersYaml ??
  `  - username: alice
    id: alice-id
    hmacauth_credentials:
      - username: alice-hmac
        secret: alice-secret
  - username: guest
hmacauth_credentials:
  - consumer: guest
    username: guest-hmac
    secret: guest-secret`
}
plugins:
  - name: hmac-auth
    config: ${config}
`;
  const { config: entry, normalized } = pluginFromYaml(yaml, 'hmac-auth');
  const env = { consumers: new (require('../../src/plugins/consumer-directory').ConsumerDirectory)(normalized), trustedIps: [], config: normalized };
  return { instance: createHmacAuth(entry.config as HmacAuthConfig, env, () => NOW), entry };
}

function sign(algorithm: string, secret: string, signingString: string): string {
  return createHmac(algorithm.replace('hmac-', ''), secret).update(signingString).digest('base64');
}

function authorization(username: string, algorithm: string, headers: string, signature: string): string {
  return `hmac username="${username}", algorithm="${algorithm}", headers="${headers}", signature="${signature}"`;
}

/** A request signed over date and @request-target with alice's secret. */
function signed(over: FakeRequest = {}, algorithm = 'hmac-sha256'): FakeContext {
  const method = over.method ?? 'GET';
  const path = over.path ?? '/orders';
  const query = over.query ?? '';
  const sig = sign(algorithm, 'alice-secret', `date: ${DATE}\n@request-target: ${method.toLowerCase()} ${path}${query === '' ? '' : '?' + query}`);
  return new FakeContext({
    method,
    path,
    query,
    ...over,
    headers: { date: DATE, authorization: authorization('alice-hmac', algorithm, 'date @request-target', sig), ...over.headers },
  });
}

async function run(instance: ReturnType<typeof build>['instance'], ctx: FakeContext): Promise<Verdict> {
  return await instance.onRequest!(ctx);
}

function assert401(ctx: FakeContext, verdict: Verdict, message: string, challenge = 'hmac'): void {
  assert.equal(verdict, Verdict.Stop);
  assert.equal(ctx.reply?.status, 401);
  assert.deepEqual(JSON.parse(ctx.reply!.body), { message });
  assert.deepEqual(ctx.reply!.headers, ['www-authenticate', challenge]);
  assert.equal(ctx.consumer, null);
}

const NOT_VALID = 'HMAC signature cannot be verified';
const NOT_SAME = 'HMAC signature does not match';
const DATE_REQUIRED = 'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication';

describe('hmac-auth', () => {
  test("Kong's defaults", () => {
    const { entry } = build();
    assert.deepEqual(entry.config, {
      hide_credentials: false,
      clock_skew: 300,
      anonymous: null,
      validate_request_body: false,
      enforce_headers: [],
      algorithms: ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'],
      realm: null,
    });
  });

  test('a valid signature authenticates; the upstream is told the credential username', async () => {
    const { instance } = build();
    const ctx = signed({ query: 'a=1&b=2' });
    assert.equal(await run(instance, ctx), Verdict.Continue);
    assert.equal(ctx.consumer?.username, 'alice');
    assert.equal(ctx.credentialIdentifier, 'alice-hmac');
    assert.equal(ctx.anonymous, false);
    assert.equal(ctx.upstreamHeaders.has('authorization'), false, 'kept unless hide_credentials');
  });

  for (const algorithm of ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512']) {
    test(`${algorithm} signatures verify`, async () => {
      const ctx = signed({}, algorithm);
      assert.equal(await run(build().instance, ctx), Verdict.Continue, JSON.stringify(ctx.reply));
    });
  }

  test('no Authorization nor Proxy-Authorization: 401 Unauthorized, with the realm when set', async () => {
    const ctx = new FakeContext({ headers: { date: DATE } });
    assert401(ctx, await run(build('{ realm: api }').instance, ctx), 'Unauthorized', 'hmac realm="api"');
  });

  test('the date: missing, unparsable or beyond clock_skew is refused; X-Date is tried first, then Date', async () => {
    const { instance } = build('{ clock_skew: 60 }');
    const sig = sign('hmac-sha256', 'alice-secret', 'date:');
    const noDate = new FakeContext({ headers: { authorization: authorization('alice-hmac', 'hmac-sha256', 'date', sig) } });
    assert401(noDate, await run(instance, noDate), DATE_REQUIRED);
    for (const date of ['yesterday', new Date(NOW - 61_000).toUTCString(), new Date(NOW + 61_000).toUTCString()]) {
      const ctx = signed({ headers: { date } });
      assert401(ctx, await run(instance, ctx), DATE_REQUIRED);
    }
    // Within the skew: accepted (60 s late, exactly the limit).
    const lateDate = new Date(NOW - 60_000).toUTCString();
    const lateSig = sign('hmac-sha256', 'alice-secret', `date: ${lateDate}`);
    const ok = new FakeContext({ headers: { date: lateDate, authorization: authorization('alice-hmac', 'hmac-sha256', 'date', lateSig) } });
    assert.equal(await run(instance, ok), Verdict.Continue);
    // A bad Date does not matter when X-Date is good.
    const xdate = new FakeContext({ headers: { 'x-date': DATE, date: 'bad', authorization: authorization('alice-hmac', 'hmac-sha256', 'x-date', sign('hmac-sha256', 'alice-secret', `x-date: ${DATE}`)) } });
    assert.equal(await run(instance, xdate), Verdict.Continue);
  });

  test('a wrong signature, secret or signed path: 401 "HMAC signature does not match"', async () => {
    const { instance } = build();
    const forged = signed();
    (forged.request as { rawPath: string }).rawPath = '/admin';
    assert401(forged, await run(instance, forged), NOT_SAME);
    const badBase64 = new FakeContext({ headers: { date: DATE, authorization: authorization('alice-hmac', 'hmac-sha256', 'date', '!!!') } });
    assert401(badBase64, await run(instance, badBase64), NOT_SAME);
  });

  test('an unknown username, an algorithm not allowed, or unparsable parameters: "cannot be verified"', async () => {
    const sig = sign('hmac-sha256', 'alice-secret', `date: ${DATE}`);
    const cases = [
      authorization('nobody', 'hmac-sha256', 'date', sig),
      authorization('alice-hmac', 'hmac-md5', 'date', sig),
      `Basic YWxpY2U6cHc=`,
    ];
    for (const value of cases) {
      const ctx = new FakeContext({ headers: { date: DATE, authorization: value } });
      assert401(ctx, await run(build().instance, ctx), NOT_VALID);
    }
    const onlySha512 = new FakeContext({ headers: { date: DATE, authorization: authorization('alice-hmac', 'hmac-sha256', 'date', sig) } });
    assert401(onlySha512, await run(build('{ algorithms: [hmac-sha512] }').instance, onlySha512), NOT_VALID);
  });

  test('enforce_headers: a signature that does not cover every one is refused', async () => {
    const { instance } = build('{ enforce_headers: [date, "@request-target"] }');
    const partial = new FakeContext({ headers: { date: DATE, authorization: authorization('alice-hmac', 'hmac-sha256', 'date', sign('hmac-sha256', 'alice-secret', `date: ${DATE}`)) } });
    assert401(partial, await run(instance, partial), NOT_VALID);
    assert.equal(await run(instance, signed()), Verdict.Continue);
  });

  test("the signing string: request-line, a header the request lacks ('name:'), values as sent", async () => {
    const { instance } = build();
    const line = `date: ${DATE}\nPOST /orders?x=1 HTTP/1.1\nx-missing:\nx-custom: Some Value`;
    const ctx = new FakeContext({
      method: 'POST',
      path: '/orders',
      query: 'x=1',
      headers: { date: DATE, 'x-custom': 'Some Value', authorization: authorization('alice-hmac', 'hmac-sha1', 'date request-line x-missing x-custom', sign('hmac-sha1', 'alice-secret', line)) },
    });
    assert.equal(await run(instance, ctx), Verdict.Continue, JSON.stringify(ctx.reply));
  });

  test('Proxy-Authorization is read first; hide_credentials removes the header that was used', async () => {
    const { instance } = build('{ hide_credentials: true }');
    const sig = sign('hmac-sha256', 'alice-secret', `date: ${DATE}`);
    const ctx = new FakeContext({ headers: { date: DATE, authorization: 'Bearer other', 'proxy-authorization': authorization('alice-hmac', 'hmac-sha256', 'date', sig) } });
    assert.equal(await run(instance, ctx), Verdict.Continue);
    assert.equal(ctx.upstreamHeaders.get('proxy-authorization'), null);
    assert.equal(ctx.upstreamHeaders.has('authorization'), false, 'the other header is forwarded');
    const viaAuthorization = signed();
    assert.equal(await run(instance, viaAuthorization), Verdict.Continue);
    assert.equal(viaAuthorization.upstreamHeaders.get('authorization'), null);
  });

  test('validate_request_body: the Digest header must be the SHA-256 of the body', async () => {
    const { instance } = build('{ validate_request_body: true }');
    const body = Buffer.from('{"amount":10}');
    const digest = 'SHA-256=' + createHash('sha256').update(body).digest('base64');
    const good = signed({ method: 'POST', headers: { digest } });
    good.body = body;
    assert.equal(await run(instance, good), Verdict.Continue);
    const tampered = signed({ method: 'POST', headers: { digest } });
    tampered.body = Buffer.from('{"amount":1000}');
    assert401(tampered, await run(instance, tampered), NOT_SAME);
    const noDigest = signed({ method: 'POST' });
    noDigest.body = body;
    assert401(noDigest, await run(instance, noDigest), NOT_SAME);
    // No body and no Digest: fine, synchronously.
    const empty = signed();
    assert.equal(instance.onRequest!(empty), Verdict.Continue);
    // Larger than Kong's 8 KiB body buffer: cannot be checked, refused as in Kong.
    const big = Buffer.alloc(8 * 1024 + 1, 'a');
    const huge = signed({ method: 'POST', headers: { digest: 'SHA-256=' + createHash('sha256').update(big).digest('base64') } });
    huge.body = big;
    assert401(huge, await run(instance, huge), NOT_SAME);
  });

  test('anonymous: a failure authenticates the anonymous consumer; an earlier real credential is kept', async () => {
    const { instance } = build('{ anonymous: guest }');
    const ctx = new FakeContext({ headers: { date: DATE } });
    assert.equal(await run(instance, ctx), Verdict.Continue);
    assert.equal(ctx.consumer?.username, 'guest');
    assert.equal(ctx.anonymous, true);
    const already = new FakeContext();
    already.authenticate({ id: 'x', username: 'x', customId: null, tags: [] }, 'cred', 'cred', false);
    assert.equal(await run(instance, already), Verdict.Continue);
    assert.equal(already.consumer?.username, 'x');
  });
});

describe('hmac-auth signing helpers', () => {
  test("parseHttpDate reads NGINX's three forms, nothing else", () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), t);
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), t);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), t);
    assert.equal(parseHttpDate('1994-11-06T08:49:37Z'), null);
    assert.equal(parseHttpDate('Sun, 06 Foo 1994 08:49:37 GMT'), null);
  });

  test("parseAuthorization follows Kong's pattern (scheme in either case, greedy values)", () => {
    assert.deepEqual(parseAuthorization('HMAC username="u", algorithm="hmac-sha1", headers="date x", signature="c2ln"'), null, 'only [Hh]mac');
    assert.deepEqual(parseAuthorization('Hmac username="u",algorithm="hmac-sha1",  headers="date x", signature="c2ln"'), {
      username: 'u',
      algorithm: 'hmac-sha1',
      headers: ['date', 'x'],
      signature: 'c2ln',
    });
    assert.equal(parseAuthorization('hmac username="u", algorithm="a", signature="s"'), null, 'headers are required');
    assert.equal(parseAuthorization(undefined), null);
  });
});

describe('hmacauth_credentials in the config', () => {
  const load = (text: string) => loadConfigText(text, 'gateway.yaml');
  test('nested and top-level credentials load, with their consumer', () => {
    const r = load(`_format_version: "3.0"
consumers:
  - username: a
    hmacauth_credentials: [{ username: a-hmac, secret: s1 }]
  - username: b
hmacauth_credentials:
  - { consumer: b, username: b-hmac, secret: s2 }
`);
    assert.ok(r.ok, r.ok ? '' : formatConfigErrors(r.errors, 'gateway.yaml'));
    assert.deepEqual(
      r.config.credentials.hmacauth!.map((c) => [c.username, c.consumer]),
      [['a-hmac', 'a'], ['b-hmac', 'b']],
    );
  });

  test('a missing secret is a located error', () => {
    const r = load(`_format_version: "3.0"
consumers:
  - username: a
    hmacauth_credentials:
      - { username: a-hmac }
`);
    assert.equal(r.ok, false);
    assert.match(formatConfigErrors(r.ok ? [] : r.errors, 'gateway.yaml'), /gateway\.yaml:5:.*field "secret": is required: Floodgate does not generate secrets/);
  });

  test('a duplicate username is a located error that names the first one; secrets never printed', () => {
    const r = load(`_format_version: "3.0"
consumers:
  - username: a
    hmacauth_credentials:
      - { username: same, secret: first-secret-value }
      - { username: same, secret: topsecret-value }
`);
    assert.equal(r.ok, false);
    const text = formatConfigErrors(r.ok ? [] : r.errors, 'gateway.yaml');
    assert.match(text, /gateway\.yaml:6:.*duplicate hmac-auth username "same"/);
    assert.doesNotMatch(text, /topsecret-value|first-secret-value/);
  });
});
