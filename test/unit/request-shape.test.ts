/**
 * The request context keeps one object shape whatever a request does (Fastify's habit, guarded
 * by a test): every field is declared up front, so a local reply, plugin edits, authentication or
 * upstream timings change values, never the hidden class. V8 widens a field's representation the
 * first time a value of a new kind lands in it (a Smi 0 that becomes a double timestamp), so each
 * path runs once to warm up; after that every context must share one map.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { RequestContext } from '../../src/proxy/request-context';
import { DownstreamHead } from '../../src/proxy/request-head';
import { EMPTY_SNAPSHOT, stubRequestHost } from '../helpers/request-host';
import type { HttpResponse } from '../../src/proxy/uws';
import type { ConsumerConfig } from '../../src/config/types';

v8.setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

const res = {
  cork(f: () => void) {
    f();
  },
  writeStatus() {
    return res;
  },
  writeHeader() {
    return res;
  },
  end() {},
  close() {},
  onWritable() {},
} as unknown as HttpResponse;

const host = stubRequestHost('x-request-id');
const snapshot = EMPTY_SNAPSHOT;
const consumer = { id: 'c1', username: 'alice', customId: null } as unknown as ConsumerConfig;

function fresh(): RequestContext {
  const head = new DownstreamHead();
  head.method = 'GET';
  return new RequestContext(host, res, snapshot, head, performance.now());
}

const paths: Record<string, () => RequestContext> = {
  untouched: fresh,
  'local reply': () => {
    const ctx = fresh();
    ctx.requestId = 'id-1';
    ctx.setResponseHeader('x-cors', 'yes');
    ctx.respond(401, '{"message":"Unauthorized"}', 'application/json', ['www-authenticate', 'Basic']);
    return ctx;
  },
  'plugin edits and timings': () => {
    const ctx = fresh();
    ctx.setUpstreamHeader('X-Added', '1');
    ctx.removeUpstreamHeader('cookie');
    ctx.setUpstreamQuery('a=1');
    ctx.setUpstreamPath('/other');
    ctx.setUpstreamMethod('POST');
    ctx.upstreamStartedAt = performance.now();
    ctx.upstreamHeadersAt = performance.now();
    ctx.responseStatus = 200;
    ctx.responseBytes = 123_456;
    ctx.bodyBytes = 7;
    return ctx;
  },
  authenticated: () => {
    const ctx = fresh();
    ctx.authenticate(consumer, 'cred-1', 'alice', false);
    return ctx;
  },
};

test('every request path leaves the context with one and the same map', () => {
  for (const make of Object.values(paths)) make(); // warm-up: field representations settle
  const made = Object.entries(paths).map(([name, make]) => [name, make()] as const);
  const [baseName, base] = made[0];
  for (const [name, ctx] of made.slice(1)) assert.ok(haveSameMap(base, ctx), `${name} has another shape than ${baseName}`);
});
