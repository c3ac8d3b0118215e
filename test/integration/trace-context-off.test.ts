/**
 * `--trace-context off`: the gateway neither starts nor rewrites W3C trace context on plain routes
 * (a client's traceparent passes through untouched, like any other header), while a route with a
 * span-exporting plugin (opentelemetry) still continues or starts the trace and exports it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { startCollector, type Collector } from '../helpers/collector';
import { startGateway, type Gateway } from '../helpers/gateway';
import { agent, get } from '../helpers/http';

let up: EchoUpstream;
let otlp: Collector;
let gw: Gateway;

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'trace-off-up');
  otlp = await startCollector();
  gw = await startGateway({
    workers: 1,
    args: ['--trace-context', 'off', '--access-log', 'stdout'],
    config: `_format_version: "3.0"
services:
  - name: svc
    url: http://127.0.0.1:${up.port}
    routes:
      - name: plain
        paths: [/plain]
      - name: traced
        paths: [/traced]
        plugins:
          - name: opentelemetry
            config:
              traces_endpoint: http://127.0.0.1:${otlp.port}/v1/traces
              batch_flush_delay: 0.05
`,
  });
});

after(async () => {
  await gw?.stop();
  await otlp.close();
  await up.close();
  await agent.close();
});

const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

test('a plain route: no trace is started, and a client traceparent passes through untouched', async () => {
  const bare = await get(gw.url('/plain'));
  assert.equal(bare.status, 200);
  assert.equal(bare.json<{ headers: Record<string, string> }>().headers.traceparent, undefined);

  const carried = await get(gw.url('/plain'), { headers: { traceparent: CALLER, tracestate: 'vendor=1' } });
  const seen = carried.json<{ headers: Record<string, string> }>().headers;
  assert.equal(seen.traceparent, CALLER);
  assert.equal(seen.tracestate, 'vendor=1');

});

test('a route with the opentelemetry plugin still continues the trace and exports its spans', async () => {
  const res = await get(gw.url('/traced'), { headers: { traceparent: CALLER } });
  assert.equal(res.status, 200);
  const seen = res.json<{ headers: Record<string, string> }>().headers;
  const m = /^00-0af7651916cd43dd8448eb211c80319c-([0-9a-f]{16})-01$/.exec(seen.traceparent);
  assert.ok(m, `upstream traceparent: ${seen.traceparent}`);
  assert.notEqual(m[1], 'b7ad6b7169203331');
  await otlp.waitFor((reqs) => reqs.some((r) => r.body.includes('0af7651916cd43dd8448eb211c80319c')));
});

test('the access log has no trace id for a plain route', async () => {
  await get(gw.url('/plain?probe=trace-off'));
  const deadline = Date.now() + 5_000;
  let line: string | undefined;
  while (line === undefined && Date.now() < deadline) {
    line = gw.out.find((l) => l.includes('probe=trace-off'));
    if (line === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(line, 'access log line for the probe request');
  assert.equal(JSON.parse(line).trace_id, null);
});
