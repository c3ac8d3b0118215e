/**
 * The compile-time resolution of consumer-scoped plugins (src/proxy/plugin-chains.ts), from
 * inline YAML through the real loader: which entry each chain holds, what runs before the auth
 * plugin, and sharing of identical chains.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PluginConfig } from '../../src/config/types';
import type { PluginInstance } from '../../src/plugins/api';
import { ChainBuilder, consumerScopedEntries, pluginRank, resolveWithoutConsumer, specificity } from '../../src/proxy/plugin-chains';
import { load, yaml } from '../helpers/config-text';

/** An instance that tells which entry it came from, with every phase. */
type Tagged = PluginInstance & { entry: PluginConfig };
function tagged(p: PluginConfig): Tagged {
  return { entry: p, onRequest: () => 0, onResponse: () => undefined, onLog: () => undefined };
}
function describeList(list: readonly PluginInstance[] | null): string[] {
  return (list ?? []).map((i) => {
    const e = (i as Tagged).entry;
    return `${e.name}@${(e.config as { message?: string; header_name?: string }).message ?? (e.config as { header_name?: string }).header_name}`;
  });
}

const config = load(yaml(`
  _format_version: "3.0"
  consumers:
    - username: alice
      keyauth_credentials: [{ key: a }]
      plugins:
        - name: correlation-id
          config: { header_name: alice-corr }
        - name: request-termination
          config: { message: alice }
    - username: bob
      keyauth_credentials: [{ key: b }]
  services:
    - name: s
      url: http://127.0.0.1:1
      plugins:
        - name: correlation-id
          config: { header_name: service-corr }
        - name: request-termination
          config: { message: service }
      routes:
        - name: with-auth
          paths: [/a]
          plugins: [{ name: key-auth }]
        - name: without-auth
          paths: [/b]
`));

function build() {
  const builder = new ChainBuilder(tagged);
  const byConsumer = consumerScopedEntries(config.plugins);
  const routes = config.routes.map((r) => {
    const base = resolveWithoutConsumer(r, config.plugins);
    return { base: builder.chain([...base.values()].map((c) => c.plugin)), consumers: builder.consumerChains(r, base, byConsumer) };
  });
  return { routes, byConsumer };
}

describe('plugin chains', () => {
  test('specificity follows Kong: crs 7, cr 6, cs 5, rs 4, c 3, r 2, s 1, global 0', () => {
    const route = config.routes[0];
    const mk = (route: string | null, service: string | null, consumer: string | null) =>
      ({ route, service, consumer }) as PluginConfig;
    const r = route.id;
    const s = route.service;
    assert.deepEqual(
      [mk(r, s, 'c'), mk(r, null, 'c'), mk(null, s, 'c'), mk(r, s, null), mk(null, null, 'c'), mk(r, null, null), mk(null, s, null), mk(null, null, null)].map((p) =>
        specificity(p, route, 'c'),
      ),
      [7, 6, 5, 4, 3, 2, 1, 0],
    );
    assert.equal(specificity(mk(null, null, 'c'), route, null), -1, 'no consumer: consumer entries never apply');
    assert.equal(specificity(mk(null, null, 'c'), route, 'other'), -1);
    assert.equal(specificity(mk('other-route', null, null), route, null), -1);
  });

  test('after key-auth, alice gets her entries for plugins ranked after it, not before it', () => {
    const { routes } = build();
    const alice = config.consumers.find((c) => c.username === 'alice')!.id;
    const chains = routes[0].consumers!.get(alice)!;
    assert.deepEqual(chains.authRanks, [pluginRank('key-auth')]);
    const chain = chains.chains[0];
    // correlation-id (priority 100001) ran before the consumer was known: the service's stays.
    assert.deepEqual(describeList(chain.onRequest), ['correlation-id@service-corr', 'key-auth@undefined', 'request-termination@alice']);
    assert.deepEqual(describeList(chain.onResponse), ['correlation-id@service-corr', 'key-auth@undefined', 'request-termination@alice']);
    // The switch resumes right after key-auth.
    assert.equal(chain.resumeAt, 2);
    assert.deepEqual(describeList(routes[0].base.onRequest), ['correlation-id@service-corr', 'key-auth@undefined', 'request-termination@service']);
  });

  test('a consumer without entries and a route without an auth plugin get no consumer chains', () => {
    const { routes } = build();
    const bob = config.consumers.find((c) => c.username === 'bob')!.id;
    assert.equal(routes[0].consumers!.has(bob), false);
    assert.equal(routes[1].consumers, null, 'nothing on this route can authenticate');
  });

  test('identical chains are built once and shared', () => {
    const builder = new ChainBuilder(tagged);
    const r = config.routes[0];
    const entries = [...resolveWithoutConsumer(r, config.plugins).values()].map((c) => c.plugin);
    assert.equal(builder.chain(entries), builder.chain([...entries].reverse()));
    assert.notEqual(builder.chain(entries), builder.chain(entries, 3), 'a different resume point is another chain');
  });
});
