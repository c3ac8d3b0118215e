/**
 * HTTP/1.1 conformance: every case of cases.ts, in order, as raw bytes on its own connection to one
 * real 1-worker gateway whose upstream records every byte (harness.ts). A case passes when the
 * answers, the close, and what reached the upstream are exactly what it expects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../../helpers/gateway';
import { CASES } from './cases';
import { runCase, startTargets, verdict, type Targets } from './runner';

let targets: Targets;
let gw: Gateway;

describe('HTTP/1.1 conformance (raw sockets, recording upstream)', () => {
  before(async () => {
    targets = await startTargets();
    gw = await startGateway({ config: targets.gatewayConfig, workers: 1 });
  });
  after(async () => {
    await gw?.stop();
    await targets?.close();
  });

  for (const c of CASES) {
    test(`${c.id} (${c.family})${c.uws !== undefined ? ` [uWS: ${c.uws}]` : ''}`, async () => {
      const run = await runCase(gw.port, targets.upstream, c);
      const problems = verdict(c, run);
      assert.deepEqual(problems, [], `${c.id}: ${problems.join('; ')}\nanswer: ${JSON.stringify(run.exchange.raw.slice(0, 600))}`);
    });
  }
});
