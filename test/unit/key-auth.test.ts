/**
 * key-auth built from inline Kong YAML (consumers, credentials and the plugin) through the real
 * loader, run against a FakeContext.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { getPluginDefinition } from '../../src/plugins/registry';
import { ArgState, decodeComponent, findQueryArg, found, removeQueryArg } from '../../src/plugins/key-auth/query';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';

const ALICE_ID = '0b5c6a3e-1111-4a1a-9a1a-000000000001';
const ALICE_CRED = '5f0d3c4e-2222-4b2b-8b2b-000000000001';
const UNICODE_KEY = 'ключ-🔑-κλειδί';

/** Consumers and credentials (nested and top level), then a key-auth plugin with `config`. */
function yaml(config = '{}'): string {
  return `_format_version: "3.0"
consumers:
  - id: ${ALICE_ID}
    username: alice
    custom_id: alice-cid
    keyauth_credentials:
      - id: ${ALICE_CRED}
        key: alice-key
  - username: bob
  - username: anonymous-user
  - id: 9d9d9d9d-0000-4000-8000-000000000009
    custom_id: only-custom
keyauth_credentials:
  - consumer: bob
    id: bob-cred
    key: "${UNICODE_KEY}"
  - consumer: 9d9d9d9d-0000-4000-8000-000000000009
    id: custom-cred
    key: "a+b c"
plugins:
  - name: key-auth
    config: ${config}
`;
}

function build(config?: string) {
  return pluginFromYaml(yaml(config), 'key-auth').instance;
}

function run(config: string | undefined, req: FakeRequest): FakeContext {
  const ctx = new FakeContext(req);
  const verdict = build(config).onRequest!(ctx);
  assert.equal(verdict, ctx.reply === null ? Verdict.Continue : Verdict.Stop, 'the verdict matches whether it answered');
  return ctx;
}

function assertReply(ctx: FakeContext, status: number, message: string, challenge: string | null = 'Key'): void {
  assert.ok(ctx.reply, 'expected a local reply');
  assert.equal(ctx.reply.status, status);
  assert.deepEqual(JSON.parse(ctx.reply.body), { message });
  assert.equal(ctx.reply.contentType, 'application/json; charset=utf-8');
  assert.deepEqual(ctx.reply.headers, challenge === null ? null : ['www-authenticate', challenge]);
  assert.equal(ctx.consumer, null);
}

function assertAlice(ctx: FakeContext): void {
  assert.equal(ctx.reply, null);
  assert.equal(ctx.consumer?.id, ALICE_ID);
  assert.equal(ctx.consumer?.username, 'alice');
  assert.equal(ctx.credentialId, ALICE_CRED);
  assert.equal(ctx.credentialIdentifier, ALICE_CRED, "Kong's X-Credential-Identifier for key-auth is the credential id");
  assert.equal(ctx.anonymous, false);
}

describe('key-auth: config', () => {
  test("Kong's name, priority and defaults", () => {
    const def = getPluginDefinition('key-auth')!;
    assert.equal(def.priority, 1250);
    const { config } = pluginFromYaml(yaml(), 'key-auth');
    assert.deepEqual(config.config, {
      key_names: ['apikey'],
      hide_credentials: false,
      anonymous: null,
      key_in_header: true,
      key_in_query: true,
      key_in_body: false,
      run_on_preflight: true,
      realm: null,
    });
  });

  test('key_in_body: true is refused at load (the body is not read before auth)', () => {
    assert.throws(() => build('{ key_in_body: true }'), /key_in_body.*not supported/);
  });

  test('key names must be header names, and there must be at least one', () => {
    assert.throws(() => build('{ key_names: ["api key"] }'), /key_names\[0\].*pattern/);
    assert.throws(() => build('{ key_names: [] }'), /key_names.*must not be empty/);
  });

  test('a realm that would break the header is refused', () => {
    assert.throws(() => build(String.raw`{ realm: "a\"b" }`), /realm/);
    assert.throws(() => build(String.raw`{ realm: "a\r\nX-Evil: 1" }`), /realm/);
  });

  test('unknown fields are refused', () => {
    assert.throws(() => build('{ key_name: [x] }'), /unknown field "key_name"/);
  });
});

describe('key-auth: finding the key', () => {
  test('header apikey authenticates the consumer', () => {
    assertAlice(run(undefined, { headers: { apikey: 'alice-key' } }));
  });

  test('header names compare case-insensitively', () => {
    const ctx = run('{ key_names: [X-API-Key] }', { headers: { 'X-Api-KEY': 'alice-key' } });
    assertAlice(ctx);
  });

  test('query argument apikey authenticates; the name compares exactly', () => {
    assertAlice(run(undefined, { query: 'x=1&apikey=alice-key&y=2' }));
    assertReply(run(undefined, { query: 'APIKEY=alice-key' }), 401, 'No API key found in request');
  });

  test('query values are URL-decoded (%XX and +)', () => {
    const ctx = run(undefined, { query: 'apikey=a%2Bb+c' });
    assert.equal(ctx.consumer?.customId, 'only-custom');
    assert.equal(ctx.consumer?.username, null);
  });

  test('a percent-encoded argument name is found too', () => {
    assertAlice(run(undefined, { query: 'api%6Bey=alice-key' }));
  });

  test('unicode keys, in a header and percent-encoded in the query', () => {
    const h = run(undefined, { headers: { apikey: UNICODE_KEY } });
    assert.equal(h.consumer?.username, 'bob');
    assert.equal(h.credentialIdentifier, 'bob-cred');
    const q = run(undefined, { query: 'apikey=' + encodeURIComponent(UNICODE_KEY) });
    assert.equal(q.consumer?.username, 'bob');
  });

  test('the header wins over the query argument of the same name', () => {
    assertReply(run(undefined, { headers: { apikey: 'wrong' }, query: 'apikey=alice-key' }), 401, 'Unauthorized');
  });

  test('key_names are tried in order, header then query for each', () => {
    const conf = '{ key_names: [first, second] }';
    assertAlice(run(conf, { query: 'second=alice-key' }));
    assertAlice(run(conf, { headers: { second: 'alice-key' } }));
    assertReply(run(conf, { query: 'first=nope', headers: { second: 'alice-key' } }), 401, 'Unauthorized');
  });

  test('nginx finds key name api_key under the header api-key too', () => {
    assertAlice(run('{ key_names: [api_key] }', { headers: { 'api-key': 'alice-key' } }));
    assertAlice(run('{ key_names: [api_key] }', { headers: { api_key: 'alice-key' } }));
  });

  test('key_in_header: false ignores headers; key_in_query: false ignores the query', () => {
    assertReply(run('{ key_in_header: false }', { headers: { apikey: 'alice-key' } }), 401, 'No API key found in request');
    assertAlice(run('{ key_in_header: false }', { query: 'apikey=alice-key' }));
    assertReply(run('{ key_in_query: false }', { query: 'apikey=alice-key' }), 401, 'No API key found in request');
    assertAlice(run('{ key_in_query: false }', { headers: { apikey: 'alice-key' } }));
  });
});

describe('key-auth: failures (401 with WWW-Authenticate)', () => {
  test('no key at all', () => {
    assertReply(run(undefined, {}), 401, 'No API key found in request');
  });

  test('an empty key, in a header or the query', () => {
    assertReply(run(undefined, { headers: { apikey: '' } }), 401, 'No API key found in request');
    assertReply(run(undefined, { query: 'apikey=' }), 401, 'No API key found in request');
  });

  test('an empty header stops the search (Kong breaks on the first string found)', () => {
    assertReply(run('{ key_names: [a, b] }', { headers: { a: '', b: 'alice-key' } }), 401, 'No API key found in request');
  });

  test('a bare query argument (?apikey) is not a key', () => {
    assertReply(run(undefined, { query: 'apikey' }), 401, 'No API key found in request');
    assertAlice(run('{ key_names: [a, b] }', { query: 'a&b=alice-key' }));
  });

  test('an unknown key', () => {
    assertReply(run(undefined, { headers: { apikey: 'nope' } }), 401, 'Unauthorized');
    assertReply(run(undefined, { query: 'apikey=alice-key%20' }), 401, 'Unauthorized');
  });

  test('keys compare exactly (case, whitespace)', () => {
    assertReply(run(undefined, { headers: { apikey: 'ALICE-KEY' } }), 401, 'Unauthorized');
  });

  test('a key given twice is "Duplicate API key found"', () => {
    assertReply(run(undefined, { query: 'apikey=alice-key&apikey=alice-key' }), 401, 'Duplicate API key found');
    assertReply(run(undefined, { query: 'apikey&apikey=alice-key' }), 401, 'Duplicate API key found');
    const ctx = new FakeContext({});
    // Two header lines of the same name (FakeRequest takes a record, so build the pairs by hand).
    (ctx.request.headerNames as string[]).push('apikey', 'apikey');
    (ctx.request.headerValues as string[]).push('alice-key', 'other');
    assert.equal(build().onRequest!(ctx), Verdict.Stop);
    assertReply(ctx, 401, 'Duplicate API key found');
  });

  test('realm: WWW-Authenticate: Key realm="..."', () => {
    assertReply(run('{ realm: kong }', {}), 401, 'No API key found in request', 'Key realm="kong"');
    assertReply(run('{ realm: "my api" }', { headers: { apikey: 'x' } }), 401, 'Unauthorized', 'Key realm="my api"');
  });

  test('malformed percent-encoding is read leniently, as nginx does', () => {
    assert.equal(decodeComponent('%zz%41'), '%zzA');
    assert.equal(decodeComponent('100%'), '100%');
    assertReply(run(undefined, { query: 'apikey=%E0%A4%A' }), 401, 'Unauthorized');
  });

  test('a huge key is just an unknown key', () => {
    const huge = 'k'.repeat(256 * 1024);
    assertReply(run(undefined, { headers: { apikey: huge } }), 401, 'Unauthorized');
    assertReply(run(undefined, { query: 'apikey=' + huge }), 401, 'Unauthorized');
  });

  test('a request that fails touches no upstream header and no query', () => {
    const ctx = run(undefined, { headers: { apikey: 'nope' } });
    assert.equal(ctx.upstreamHeaders.size, 0);
    assert.equal(ctx.upstreamQuery, null);
  });
});

describe('key-auth: hide_credentials', () => {
  test('false (default): the key goes upstream untouched', () => {
    const ctx = run(undefined, { headers: { apikey: 'alice-key' }, query: 'apikey=alice-key' });
    assertAlice(ctx);
    assert.equal(ctx.upstreamHeaders.has('apikey'), false);
    assert.equal(ctx.upstreamQuery, null);
  });

  test('true: the header is removed', () => {
    const ctx = run('{ hide_credentials: true }', { headers: { apikey: 'alice-key' }, query: 'a=1' });
    assertAlice(ctx);
    assert.equal(ctx.upstreamHeaders.get('apikey'), null);
    assert.equal(ctx.upstreamQuery, null, 'a query without the key is left alone');
  });

  test('true: the query argument is removed, every other pair kept byte for byte', () => {
    const ctx = run('{ hide_credentials: true }', { query: 'a=%20x&apikey=alice-key&b=c+d&z' });
    assertAlice(ctx);
    assert.equal(ctx.upstreamQuery, 'a=%20x&b=c+d&z');
    assert.equal(ctx.upstreamHeaders.get('apikey'), null);
  });

  test('true: a query holding only the key becomes empty', () => {
    const ctx = run('{ hide_credentials: true }', { query: 'apikey=alice-key' });
    assert.equal(ctx.upstreamQuery, '');
  });

  test('true: a key found in the header also strips the same name from the query (as Kong)', () => {
    const ctx = run('{ hide_credentials: true }', { headers: { apikey: 'alice-key' }, query: 'apikey=zzz&q=1' });
    assertAlice(ctx);
    assert.equal(ctx.upstreamQuery, 'q=1');
  });

  test('true: the key is hidden even when it is wrong and anonymous takes over', () => {
    const ctx = run('{ hide_credentials: true, anonymous: anonymous-user }', { query: 'apikey=nope&x=1' });
    assert.equal(ctx.anonymous, true);
    assert.equal(ctx.upstreamQuery, 'x=1');
  });
});

describe('key-auth: anonymous', () => {
  test('a failed request continues as the anonymous consumer (by username)', () => {
    for (const req of [{}, { headers: { apikey: 'nope' } }, { query: 'apikey=1&apikey=2' }]) {
      const ctx = run('{ anonymous: anonymous-user }', req);
      assert.equal(ctx.reply, null);
      assert.equal(ctx.consumer?.username, 'anonymous-user');
      assert.equal(ctx.anonymous, true);
      assert.equal(ctx.credentialId, null);
      assert.equal(ctx.credentialIdentifier, null);
    }
  });

  test('anonymous may name the consumer by id', () => {
    const ctx = run(`{ anonymous: "${ALICE_ID}" }`, {});
    assert.equal(ctx.consumer?.id, ALICE_ID);
    assert.equal(ctx.anonymous, true);
  });

  test('a valid key still authenticates normally', () => {
    assertAlice(run('{ anonymous: anonymous-user }', { headers: { apikey: 'alice-key' } }));
  });

  test('an anonymous consumer that does not exist is a 500, as in Kong', () => {
    assertReply(run('{ anonymous: ghost }', {}), 500, 'An unexpected error occurred', null);
    assertAlice(run('{ anonymous: ghost }', { headers: { apikey: 'alice-key' } }));
  });

  test('logical OR: with anonymous set, a request already authenticated by a credential is left alone', () => {
    const ctx = new FakeContext({});
    ctx.authenticate({ id: 'x', username: 'x', customId: null, tags: [] }, 'cred-x', 'cred-x', false);
    assert.equal(build('{ anonymous: anonymous-user }').onRequest!(ctx), Verdict.Continue);
    assert.equal(ctx.consumer?.id, 'x');
    assert.equal(ctx.anonymous, false);
  });

  test('logical OR does not count an earlier anonymous fallback', () => {
    const ctx = new FakeContext({ headers: { apikey: 'alice-key' } });
    ctx.authenticate({ id: 'anon', username: 'anon', customId: null, tags: [] }, null, null, true);
    assert.equal(build('{ anonymous: anonymous-user }').onRequest!(ctx), Verdict.Continue);
    assertAlice(ctx);
  });

  test('logical AND: without anonymous, key-auth authenticates even after another plugin did', () => {
    const ctx = new FakeContext({});
    ctx.authenticate({ id: 'x', username: 'x', customId: null, tags: [] }, 'cred-x', 'cred-x', false);
    assert.equal(build().onRequest!(ctx), Verdict.Stop);
    assert.equal(ctx.reply?.status, 401);
  });
});

describe('key-auth: run_on_preflight', () => {
  test('true (default): OPTIONS needs a key', () => {
    assertReply(run(undefined, { method: 'OPTIONS' }), 401, 'No API key found in request');
  });

  test('false: OPTIONS passes without a consumer; other methods still need a key', () => {
    const ctx = run('{ run_on_preflight: false }', { method: 'OPTIONS' });
    assert.equal(ctx.reply, null);
    assert.equal(ctx.consumer, null);
    assertReply(run('{ run_on_preflight: false }', { method: 'GET' }), 401, 'No API key found in request');
  });
});

describe('key-auth: query helpers', () => {
  test('findQueryArg', () => {
    assert.equal(findQueryArg('', 'k'), ArgState.Absent);
    assert.equal(findQueryArg('kk=1&xk=2', 'k'), ArgState.Absent);
    assert.equal(findQueryArg('a=1&k=v%3D=w', 'k'), ArgState.Value);
    assert.equal(found.value, 'v==w', 'the value runs to the end of the pair');
    assert.equal(findQueryArg('k', 'k'), ArgState.Bare);
    assert.equal(findQueryArg('k=1&k', 'k'), ArgState.Duplicate);
    assert.equal(findQueryArg('&&k=&&', 'k'), ArgState.Value);
    assert.equal(found.value, '');
  });

  test('removeQueryArg', () => {
    assert.equal(removeQueryArg('k=1', 'k'), '');
    assert.equal(removeQueryArg('a=1&k=1&b=2', 'k'), 'a=1&b=2');
    assert.equal(removeQueryArg('k=1&a=1&k=2&k', 'k'), 'a=1');
    assert.equal(removeQueryArg('%6B=1&a=%6B', 'k'), 'a=%6B');
    assert.equal(removeQueryArg('a=1&&b=2', 'k'), 'a=1&&b=2');
    assert.equal(removeQueryArg('kk=1&k2=2', 'k'), 'kk=1&k2=2');
  });
});
