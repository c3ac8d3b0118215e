/**
 * The plugin chain's one exception policy (proxy/chain.ts), phase by phase, on a stand-in host:
 * a throw or a rejected promise costs `failInternal()` once and one log entry naming the plugin,
 * the phase and the route; onLog plugins are isolated; a continuing chain reaches `forward()`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verdict, type PluginInstance } from '../../src/plugins/api';
import { PluginChain } from '../../src/proxy/plugin-chains';
import { runLogPhase, runRequestPhase, runResponsePhase, runUpstreamRequestPhase, type ChainHost } from '../../src/proxy/chain';

interface Logged {
  plugin?: string;
  phase?: string;
  route?: string | null;
}

function host(chain: PluginChain) {
  const logged: Logged[] = [];
  const state = { forwarded: 0, failed: 0, finished: false };
  const h = {
    chain,
    chainIndex: 0,
    responsePluginAt: 0,
    routeName: 'r1',
    get finished() {
      return state.finished;
    },
    logger: { error: (o: Logged) => logged.push(o) },
    forward() {
      state.forwarded++;
    },
    failInternal() {
      state.failed++;
      state.finished = true;
    },
  } as unknown as ChainHost;
  return { h, logged, state };
}

function chainOf(...plugins: [string, PluginInstance][]): PluginChain {
  return new PluginChain(plugins.map(([name, instance], rank) => ({ name, instance, rank })));
}

const boom = (): never => {
  throw new Error('boom');
};

test('onRequest: all continue -> forward; a sync throw -> one failure naming the plugin, later plugins skipped', () => {
  let later = 0;
  const ok = host(chainOf(['a', { onRequest: () => Verdict.Continue }], ['b', { onRequest: () => Verdict.Continue }]));
  runRequestPhase(ok.h);
  assert.equal(ok.state.forwarded, 1);

  const bad = host(chainOf(['a', { onRequest: () => Verdict.Continue }], ['thrower', { onRequest: boom }], ['c', { onRequest: () => (later++, Verdict.Continue) }]));
  runRequestPhase(bad.h);
  assert.equal(bad.state.failed, 1);
  assert.equal(bad.state.forwarded, 0);
  assert.equal(later, 0);
  assert.deepEqual(bad.logged.map((l) => [l.plugin, l.phase, l.route]), [['thrower', 'onRequest', 'r1']]);
});

test('onRequest after an await: a rejection and a throw in the next plugin each fail once, never unhandled', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const rejected = host(chainOf(['async', { onRequest: async () => Promise.reject(new Error('late')) }]));
    runRequestPhase(rejected.h);
    await new Promise((r) => setImmediate(r));
    assert.equal(rejected.state.failed, 1);
    assert.deepEqual(rejected.logged.map((l) => [l.plugin, l.phase]), [['async', 'onRequest']]);

    // The regression: the plugin after an async one throws inside the promise continuation.
    const next = host(chainOf(['async', { onRequest: async () => Verdict.Continue }], ['thrower', { onRequest: boom }]));
    runRequestPhase(next.h);
    await new Promise((r) => setImmediate(r));
    assert.equal(next.state.failed, 1);
    assert.equal(next.state.forwarded, 0);
    assert.deepEqual(next.logged.map((l) => [l.plugin, l.phase]), [['thrower', 'onRequest']]);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('onUpstreamRequest and onResponse: a throw is reported once and the phase stops', () => {
  const up = host(chainOf(['thrower', { onUpstreamRequest: boom }]));
  assert.equal(runUpstreamRequestPhase(up.h), false);
  assert.equal(up.state.failed, 1);
  assert.deepEqual(up.logged.map((l) => [l.plugin, l.phase]), [['thrower', 'onUpstreamRequest']]);

  let after = 0;
  const resp = host(chainOf(['thrower', { onResponse: boom }], ['later', { onResponse: () => void after++ }]));
  // The caller decides the cost (a 500 of ours): the phase itself only logs and says so.
  assert.equal(runResponsePhase(resp.h, true), false);
  assert.equal(after, 0);
  assert.equal(resp.state.failed, 0);
  assert.deepEqual(resp.logged.map((l) => [l.plugin, l.phase]), [['thrower', 'onResponse']]);
});

test('onLog: a throwing plugin is logged and the next log plugin still runs', () => {
  let ran = 0;
  const log = host(chainOf(['thrower', { onLog: boom }], ['file-log', { onLog: () => void ran++ }]));
  runLogPhase(log.h);
  assert.equal(ran, 1);
  assert.equal(log.state.failed, 0, 'the response is long gone: nothing to answer');
  assert.deepEqual(log.logged.map((l) => [l.plugin, l.phase]), [['thrower', 'onLog']]);
});
