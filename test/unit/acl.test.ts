/**
 * acl built from inline Kong YAML (consumers with nested and top-level acls) through the real
 * loader, alone and chained after key-auth, against a FakeContext.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict, type PluginInstance } from '../../src/plugins/api';
import { ConsumerDirectory } from '../../src/plugins/consumer-directory';
import { getPluginDefinition } from '../../src/plugins/registry';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const CONSUMERS = `consumers:
  - username: gold-user
    acls:
      - group: gold
      - group: silver
    keyauth_credentials:
      - key: gold-key
  - username: bronze-user
    acls:
      - group: bronze
    keyauth_credentials:
      - key: bronze-key
  - username: no-groups
    keyauth_credentials:
      - key: none-key
  - username: anon
acls:
  - consumer: anon
    group: guests
`;

function yaml(config: string): string {
  return `_format_version: "3.0"
${CONSUMERS}plugins:
  - name: acl
    config: ${config}
`;
}

function build(config: string) {
  return pluginFromYaml(yaml(config), 'acl');
}

/** A context whose consumer was set by an auth plugin (looked up in the file's consumers). */
function asConsumer(consumers: ConsumerDirectory, username: string, anonymous = false): FakeContext {
  const ctx = new FakeContext();
  const consumer = consumers.consumer(username);
  assert.ok(consumer, `no consumer ${username}`);
  ctx.authenticate(consumer, anonymous ? null : `cred-${username}`, anonymous ? null : `cred-${username}`, anonymous);
  return ctx;
}

function check(config: string, username: string | null, anonymous = false): FakeContext {
  const { instance, normalized } = build(config);
  const consumers = new ConsumerDirectory(normalized);
  const ctx = username === null ? new FakeContext() : asConsumer(consumers, username, anonymous);
  const verdict = instance.onRequest!(ctx);
  assert.equal(verdict, ctx.reply === null ? Verdict.Continue : Verdict.Stop);
  return ctx;
}

function assertReply(ctx: FakeContext, status: number, message: string): void {
  assert.ok(ctx.reply, 'expected a local reply');
  assert.equal(ctx.reply.status, status);
  assert.deepEqual(JSON.parse(ctx.reply.body), { message });
  assert.equal(ctx.reply.contentType, 'application/json; charset=utf-8');
  assert.equal(ctx.upstreamHeaders.has('x-consumer-groups'), false);
}

function assertAllowed(ctx: FakeContext, groupsHeader: string | undefined): void {
  assert.equal(ctx.reply, null);
  assert.equal(ctx.upstreamHeaders.get('x-consumer-groups'), groupsHeader);
}

describe('acl: config', () => {
  test("Kong's name, priority and defaults", () => {
    assert.equal(getPluginDefinition('acl')!.priority, 950);
    assert.deepEqual(build('{ allow: [gold] }').config.config, {
      allow: ['gold'],
      deny: null,
      hide_groups_header: false,
      always_use_authenticated_groups: false,
    });
  });

  test('exactly one of allow / deny', () => {
    assert.throws(() => build('{}'), /config.*one of "allow" or "deny" must be a non-empty list/);
    assert.throws(() => build('{ allow: [] }'), /one of "allow" or "deny" must be a non-empty list/);
    assert.throws(() => build('{ allow: null, deny: [] }'), /one of "allow" or "deny" must be a non-empty list/);
    assert.throws(() => build('{ allow: [a], deny: [b] }'), /only one of "allow" or "deny" may be set/);
    assert.throws(() => build('{ allow: a }'), /config\.allow.*expected array or null/);
    assert.throws(() => build('{ allow: [""] }'), /config\.allow\[0\].*must not be empty/);
    // An empty list counts as unset, as in Kong.
    assert.doesNotThrow(() => build('{ allow: [], deny: [gold] }'));
  });
});

describe('acl: allow', () => {
  test('a member passes; its groups go upstream in file order', () => {
    assertAllowed(check('{ allow: [silver] }', 'gold-user'), 'gold, silver');
  });

  test('any one matching group is enough', () => {
    assertAllowed(check('{ allow: [bronze, gold] }', 'bronze-user'), 'bronze');
  });

  test('a consumer in none of the groups gets 403', () => {
    assertReply(check('{ allow: [gold] }', 'bronze-user'), 403, 'You cannot consume this service');
  });

  test('a consumer with no groups gets 403', () => {
    assertReply(check('{ allow: [gold] }', 'no-groups'), 403, 'You cannot consume this service');
  });

  test('group names compare exactly', () => {
    assertReply(check('{ allow: [Gold] }', 'gold-user'), 403, 'You cannot consume this service');
  });
});

describe('acl: deny', () => {
  test('a member of a denied group gets 403', () => {
    assertReply(check('{ deny: [silver] }', 'gold-user'), 403, 'You cannot consume this service');
  });

  test('others pass, with their groups upstream', () => {
    assertAllowed(check('{ deny: [gold] }', 'bronze-user'), 'bronze');
  });

  test('a consumer with no groups passes, without the header', () => {
    assertAllowed(check('{ deny: [gold] }', 'no-groups'), undefined);
  });
});

describe('acl: consumers', () => {
  test('no authenticated consumer: 401 Unauthorized', () => {
    assertReply(check('{ allow: [gold] }', null), 401, 'Unauthorized');
    assertReply(check('{ deny: [gold] }', null), 401, 'Unauthorized');
  });

  test('an anonymous consumer is judged by its own groups', () => {
    assertAllowed(check('{ allow: [guests] }', 'anon', true), 'guests');
    assertReply(check('{ allow: [gold] }', 'anon', true), 403, 'You cannot consume this service');
    assertReply(check('{ deny: [guests] }', 'anon', true), 403, 'You cannot consume this service');
  });

  test('hide_groups_header: true sends no X-Consumer-Groups', () => {
    assertAllowed(check('{ allow: [gold], hide_groups_header: true }', 'gold-user'), undefined);
  });

  test('always_use_authenticated_groups is accepted; with no external groups the consumer\'s are used', () => {
    assertAllowed(check('{ allow: [gold], always_use_authenticated_groups: true }', 'gold-user'), 'gold, silver');
  });

  test('one instance answers many consumers consistently (decisions are cached per consumer)', () => {
    const { instance, normalized } = build('{ allow: [gold, bronze] }');
    const consumers = new ConsumerDirectory(normalized);
    for (let round = 0; round < 3; round++) {
      for (const [user, allowed] of [['gold-user', true], ['bronze-user', true], ['no-groups', false]] as const) {
        const ctx = asConsumer(consumers, user);
        assert.equal(instance.onRequest!(ctx), allowed ? Verdict.Continue : Verdict.Stop, `${user} round ${round}`);
      }
    }
  });
});

describe('acl after key-auth (priority order)', () => {
  function chain(aclConfig: string): PluginInstance[] {
    const file = `_format_version: "3.0"
${CONSUMERS}plugins:
  - name: acl
    config: ${aclConfig}
  - name: key-auth
    config: { anonymous: anon }
`;
    const acl = pluginFromYaml(file, 'acl');
    const keyAuth = pluginFromYaml(file, 'key-auth');
    const entries = [
      { priority: getPluginDefinition('acl')!.priority, instance: acl.instance },
      { priority: getPluginDefinition('key-auth')!.priority, instance: keyAuth.instance },
    ];
    return entries.sort((a, b) => b.priority - a.priority).map((e) => e.instance);
  }

  function send(plugins: PluginInstance[], apikey: string | null): FakeContext {
    const ctx = new FakeContext(apikey === null ? {} : { headers: { apikey } });
    for (const p of plugins) if (p.onRequest!(ctx) === Verdict.Stop) break;
    return ctx;
  }

  test('key-auth runs first, then acl judges the consumer it set', () => {
    const plugins = chain('{ allow: [gold] }');
    const gold = send(plugins, 'gold-key');
    assert.equal(gold.reply, null);
    assert.equal(gold.consumer?.username, 'gold-user');
    assert.equal(gold.upstreamHeaders.get('x-consumer-groups'), 'gold, silver');
    assertReply(send(plugins, 'bronze-key'), 403, 'You cannot consume this service');
    // No key: key-auth falls back to the anonymous consumer, which is not in "gold".
    assertReply(send(plugins, null), 403, 'You cannot consume this service');
  });

  test('guests let the anonymous fallback through', () => {
    const plugins = chain('{ allow: [gold, guests] }');
    const ctx = send(plugins, 'wrong-key');
    assert.equal(ctx.reply, null);
    assert.equal(ctx.anonymous, true);
    assert.equal(ctx.upstreamHeaders.get('x-consumer-groups'), 'guests');
  });
});
