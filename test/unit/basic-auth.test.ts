/**
 * basic-auth built from inline Kong YAML (consumers with plain-text passwords, hashed by the
 * loader) through the real loader, run against a FakeContext.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict } from '../../src/plugins/api';
import { getPluginDefinition } from '../../src/plugins/registry';
import { parseBasic } from '../../src/plugins/basic-auth';
import * as passwordHash from '../../src/config/password-hash';
import { FakeContext, pluginFromYaml, type FakeRequest } from '../helpers/fake-context';

const ALICE_ID = '0b5c6a3e-1111-4a1a-9a1a-000000000001';

function yaml(config = '{}'): string {
  return `_format_version: "3.0"
consumers:
  - id: ${ALICE_ID}
    username: alice
    custom_id: alice-cid
    basicauth_credentials:
      - id: cred-alice
        username: alice
        password: s3cret
  - username: bob
  - username: anonymous-user
basicauth_credentials:
  - consumer: bob
    id: cred-bob
    username: "юзер"
    password: "пароль:🔑:x"
  - consumer: bob
    id: cred-bob-2
    username: "bob2"
    password: " "
plugins:
  - name: basic-auth
    config: ${config}
`;
}

function build(config?: string) {
  return pluginFromYaml(yaml(config), 'basic-auth').instance;
}

const basic = (userPass: string) => 'Basic ' + Buffer.from(userPass, 'utf8').toString('base64');

function run(config: string | undefined, req: FakeRequest, instance = build(config)): FakeContext {
  const ctx = new FakeContext(req);
  const verdict = instance.onRequest!(ctx);
  assert.equal(verdict, ctx.reply === null ? Verdict.Continue : Verdict.Stop, 'the verdict matches whether it answered');
  return ctx;
}

function assertUnauthorized(ctx: FakeContext, realm = 'service'): void {
  assert.ok(ctx.reply, 'expected a local reply');
  assert.equal(ctx.reply.status, 401);
  assert.deepEqual(JSON.parse(ctx.reply.body), { message: 'Unauthorized' });
  assert.deepEqual(ctx.reply.headers, ['www-authenticate', `Basic realm="${realm}"`]);
  assert.equal(ctx.consumer, null);
}

function assertAlice(ctx: FakeContext): void {
  assert.equal(ctx.reply, null);
  assert.equal(ctx.consumer?.id, ALICE_ID);
  assert.equal(ctx.credentialId, 'cred-alice');
  assert.equal(ctx.credentialIdentifier, 'alice', "Kong's X-Credential-Identifier for basic-auth is the username");
  assert.equal(ctx.anonymous, false);
}

describe('basic-auth: config', () => {
  test("Kong's name, priority and defaults", () => {
    assert.equal(getPluginDefinition('basic-auth')!.priority, 1100);
    const { config } = pluginFromYaml(yaml(), 'basic-auth');
    assert.deepEqual(config.config, { anonymous: null, hide_credentials: false, realm: 'service', run_on_preflight: true });
  });

  test('a realm that would break the header is refused', () => {
    assert.throws(() => build(String.raw`{ realm: "a\"b" }`), /realm/);
    assert.throws(() => build(String.raw`{ realm: "a\nb" }`), /realm/);
  });
});

describe('basic-auth: success', () => {
  test('Authorization: Basic base64(user:pass)', () => {
    assertAlice(run(undefined, { headers: { authorization: basic('alice:s3cret') } }));
  });

  test('the scheme is case-insensitive; blanks around the token are ignored', () => {
    const token = Buffer.from('alice:s3cret').toString('base64');
    assertAlice(run(undefined, { headers: { authorization: `basic ${token}` } }));
    assertAlice(run(undefined, { headers: { authorization: `  BASIC \t ${token}  ` } }));
  });

  test('Proxy-Authorization is read first', () => {
    assertAlice(run(undefined, { headers: { 'proxy-authorization': basic('alice:s3cret') } }));
    const both = run(undefined, { headers: { 'proxy-authorization': basic('alice:s3cret'), authorization: basic('юзер:пароль:🔑:x') } });
    assertAlice(both);
  });

  test('Authorization is used when Proxy-Authorization names no known user or is malformed', () => {
    assertAlice(run(undefined, { headers: { 'proxy-authorization': basic('nobody:x'), authorization: basic('alice:s3cret') } }));
    assertAlice(run(undefined, { headers: { 'proxy-authorization': 'Bearer abc', authorization: basic('alice:s3cret') } }));
  });

  test('a known user in Proxy-Authorization with a wrong password fails, whatever Authorization says', () => {
    assertUnauthorized(run(undefined, { headers: { 'proxy-authorization': basic('alice:wrong'), authorization: basic('alice:s3cret') } }));
  });

  test('unicode usernames and passwords; the password may contain colons', () => {
    const ctx = run(undefined, { headers: { authorization: basic('юзер:пароль:🔑:x') } });
    assert.equal(ctx.consumer?.username, 'bob');
    assert.equal(ctx.credentialIdentifier, 'юзер');
    assert.equal(ctx.credentialId, 'cred-bob');
  });

  test('unpadded base64 is accepted (as nginx does)', () => {
    const token = Buffer.from('alice:s3cret').toString('base64').replace(/=+$/, '');
    assertAlice(run(undefined, { headers: { authorization: `Basic ${token}` } }));
  });

  test('a blank password', () => {
    assert.equal(run(undefined, { headers: { authorization: basic('bob2: ') } }).credentialId, 'cred-bob-2');
    assertUnauthorized(run(undefined, { headers: { authorization: basic('bob2:') } }));
  });
});

describe('basic-auth: failures (401 Unauthorized + WWW-Authenticate)', () => {
  test('no credentials', () => {
    assertUnauthorized(run(undefined, {}));
  });

  test('wrong password, unknown user', () => {
    assertUnauthorized(run(undefined, { headers: { authorization: basic('alice:S3CRET') } }));
    assertUnauthorized(run(undefined, { headers: { authorization: basic('alice:s3cret ') } }));
    assertUnauthorized(run(undefined, { headers: { authorization: basic('ALICE:s3cret') } }));
    assertUnauthorized(run(undefined, { headers: { authorization: basic('mallory:s3cret') } }));
  });

  test('malformed headers', () => {
    const cases = [
      '',
      'Basic',
      'Basic ',
      'Basic    ',
      'Bearer ' + Buffer.from('alice:s3cret').toString('base64'),
      'Basicx' + Buffer.from('alice:s3cret').toString('base64'),
      'Basic !!!not-base64!!!',
      'Basic YWxpY2U6czNjcmV0=x',
      'Basic YWxpY2U6czNjcmV0===',
      'Basic YWxpY2U6czNjcmV', // unpadded length % 4 == 1
      'Basic ' + Buffer.from('alice:s3cret').toString('base64url').replace(/=+$/, '') + '-_',
      basic('alices3cret'), // no colon
      basic(':s3cret'), // empty username
      'Basic ' + Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64'), // invalid UTF-8
      'Basic ' + 'QUFB'.repeat(100_000), // huge
    ];
    const instance = build();
    for (const authorization of cases) {
      assertUnauthorized(run(undefined, { headers: { authorization } }, instance));
    }
  });

  test('parseBasic refuses what it cannot read', () => {
    assert.equal(parseBasic('Basic ' + Buffer.from('a:b').toString('base64')), true);
    assert.equal(parseBasic('Basic =' ), false);
    assert.equal(parseBasic('Basic ===='), false);
    assert.equal(parseBasic('Basic a'), false);
    assert.equal(parseBasic('Digest username="alice"'), false);
  });

  test('realm', () => {
    assertUnauthorized(run('{ realm: kong }', {}), 'kong');
    assertUnauthorized(run('{ realm: "" }', { headers: { authorization: basic('alice:x') } }), '');
  });
});

describe('basic-auth: hide_credentials', () => {
  test('false (default): nothing is removed', () => {
    const ctx = run(undefined, { headers: { authorization: basic('alice:s3cret') } });
    assert.equal(ctx.upstreamHeaders.size, 0);
  });

  test('true: the header that was read is removed', () => {
    const ctx = run('{ hide_credentials: true }', { headers: { authorization: basic('alice:s3cret') } });
    assertAlice(ctx);
    assert.equal(ctx.upstreamHeaders.get('authorization'), null);
    assert.equal(ctx.upstreamHeaders.get('proxy-authorization'), null);
  });

  test('true: Authorization is kept when Proxy-Authorization authenticated (it was not read)', () => {
    const ctx = run('{ hide_credentials: true }', {
      headers: { 'proxy-authorization': basic('alice:s3cret'), authorization: 'Bearer for-the-upstream' },
    });
    assertAlice(ctx);
    assert.equal(ctx.upstreamHeaders.get('proxy-authorization'), null);
    assert.equal(ctx.upstreamHeaders.has('authorization'), false);
  });

  test('true: hidden on failure too (anonymous)', () => {
    const ctx = run('{ hide_credentials: true, anonymous: anonymous-user }', { headers: { authorization: basic('alice:nope') } });
    assert.equal(ctx.anonymous, true);
    assert.equal(ctx.upstreamHeaders.get('authorization'), null);
  });
});

describe('basic-auth: anonymous', () => {
  test('failures continue as the anonymous consumer', () => {
    for (const req of [{}, { headers: { authorization: basic('alice:nope') } }, { headers: { authorization: 'Basic %%%' } }]) {
      const ctx = run('{ anonymous: anonymous-user }', req);
      assert.equal(ctx.reply, null);
      assert.equal(ctx.consumer?.username, 'anonymous-user');
      assert.equal(ctx.anonymous, true);
      assert.equal(ctx.credentialId, null);
      assert.equal(ctx.credentialIdentifier, null);
    }
  });

  test('anonymous by consumer id; valid credentials still win', () => {
    assert.equal(run(`{ anonymous: "${ALICE_ID}" }`, {}).consumer?.id, ALICE_ID);
    assertAlice(run('{ anonymous: anonymous-user }', { headers: { authorization: basic('alice:s3cret') } }));
  });

  test('an anonymous consumer that does not exist is a 500', () => {
    const ctx = run('{ anonymous: ghost }', {});
    assert.equal(ctx.reply?.status, 500);
    assert.deepEqual(JSON.parse(ctx.reply!.body), { message: 'An unexpected error occurred' });
  });

  test('logical OR: skipped when an earlier plugin authenticated with a credential', () => {
    const ctx = new FakeContext({ headers: { authorization: basic('alice:nope') } });
    ctx.authenticate({ id: 'x', username: 'x', customId: null, tags: [] }, 'cred-x', 'cred-x', false);
    assert.equal(build('{ anonymous: anonymous-user }').onRequest!(ctx), Verdict.Continue);
    assert.equal(ctx.consumer?.id, 'x');
  });
});

describe('basic-auth: run_on_preflight', () => {
  test('true (default): OPTIONS needs credentials; false: OPTIONS passes', () => {
    assertUnauthorized(run(undefined, { method: 'OPTIONS' }));
    const ctx = run('{ run_on_preflight: false }', { method: 'OPTIONS' });
    assert.equal(ctx.reply, null);
    assert.equal(ctx.consumer, null);
    assertUnauthorized(run('{ run_on_preflight: false }', { method: 'POST' }));
  });
});

describe('basic-auth: verification cache', () => {
  test('a header value that verified is not hashed again; failures always are', (t) => {
    const real = passwordHash.hashPassword;
    let calls = 0;
    const mod = passwordHash as { hashPassword: typeof real };
    try {
      mod.hashPassword = (password: string, salt: string) => {
        calls++;
        return real(password, salt);
      };
    } catch {
      t.skip('module exports are not writable here');
      return;
    }
    try {
      const instance = build();
      calls = 0; // the loader hashed the file's passwords
      const good = { headers: { authorization: basic('alice:s3cret') } };
      assertAlice(run(undefined, good, instance));
      assert.equal(calls, 1);
      for (let i = 0; i < 5; i++) assertAlice(run(undefined, good, instance));
      assert.equal(calls, 1, 'repeat requests are a cache lookup');

      const bad = { headers: { authorization: basic('alice:wrong') } };
      assertUnauthorized(run(undefined, bad, instance));
      assertUnauthorized(run(undefined, bad, instance));
      assert.equal(calls, 3, 'failures are never cached');

      // Unknown users cost a hash too, so timing does not tell which usernames exist.
      assertUnauthorized(run(undefined, { headers: { authorization: basic('mallory:x') } }, instance));
      assert.equal(calls, 4);

      // Another instance (another snapshot) starts with an empty cache.
      const fresh = build();
      calls = 0;
      assertAlice(run(undefined, good, fresh));
      assert.equal(calls, 1);
    } finally {
      mod.hashPassword = real;
    }
  });
});
