/**
 * The grpc-web plugin's request half (src/plugins/grpc-web), built from inline YAML through its
 * real schema: preflight, content types, the body checks, what it asks of the upstream request,
 * and the hand-over to the gRPC forwarder (grpc/web-request.ts), including JSON transcoding
 * through a `.proto` file. The config check names the field of a proto that does not load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Verdict } from '../../src/plugins/api';
import { loadConfigText } from '../../src/config/load';
import { takeGrpcWeb } from '../../src/grpc/web-request';
import { frame, splitFrames } from '../../src/grpc/web-codec';
import { FakeContext, pluginFromYaml } from '../helpers/fake-context';

const dir = mkdtempSync(join(tmpdir(), 'fg-grpc-web-unit-'));
const protoFile = join(dir, 'echo.proto');
writeFileSync(protoFile, 'syntax = "proto3";\npackage demo;\nmessage Msg { string text = 1; int32 n = 2; }\nservice Echo { rpc Unary (Msg) returns (Msg); }\n');

function plugin(config = '') {
  const yaml = `_format_version: "3.0"\nplugins:\n  - name: grpc-web\n${config === '' ? '' : `    config:\n${config.split('\n').map((l) => '      ' + l).join('\n')}\n`}`;
  // No services in the config: the gRPC-service check has nothing to compare with.
  return pluginFromYaml(yaml, 'grpc-web', { config: undefined });
}

test('defaults are Kong\'s: no proto, pass_stripped_path unset, allow_origin_header "*"', () => {
  const { config } = plugin();
  assert.deepEqual(config.config, { proto: null, pass_stripped_path: null, allow_origin_header: '*' });
});

test('OPTIONS: the preflight answer, with the configured origin', () => {
  const { instance } = plugin('allow_origin_header: https://app.example');
  const ctx = new FakeContext({ method: 'OPTIONS', path: '/demo.Echo/Unary' });
  assert.equal(instance.onRequest!(ctx), Verdict.Stop);
  assert.equal(ctx.reply?.status, 200);
  assert.equal(ctx.reply?.body, 'OK');
  const h = ctx.reply!.headers!;
  assert.equal(h[h.indexOf('access-control-allow-origin') + 1], 'https://app.example');
  assert.equal(h[h.indexOf('access-control-allow-methods') + 1], 'POST');
  assert.match(h[h.indexOf('access-control-allow-headers') + 1], /x-grpc-web/);
});

test('native gRPC passes through untouched', () => {
  const { instance } = plugin();
  const ctx = new FakeContext({ method: 'POST', path: '/demo.Echo/Unary', headers: { 'content-type': 'application/grpc' } });
  assert.equal(instance.onRequest!(ctx), Verdict.Continue);
  assert.equal(ctx.upstreamPath, null);
  assert.equal(takeGrpcWeb(ctx), null);
});

test('refusals: unknown type 400, JSON without proto 400 (Kong\'s message), GET 405', () => {
  const { instance } = plugin();
  const bad = new FakeContext({ method: 'POST', headers: { 'content-type': 'text/plain' } });
  instance.onRequest!(bad);
  assert.equal(bad.reply?.status, 400);
  const json = new FakeContext({ method: 'POST', headers: { 'content-type': 'application/json' } });
  instance.onRequest!(json);
  assert.equal(json.reply?.status, 400);
  assert.equal(JSON.parse(json.reply!.body).message, 'transcoding requests require a .proto file defining the service');
  const get = new FakeContext({ method: 'GET', headers: { 'content-type': 'application/grpc-web' } });
  instance.onRequest!(get);
  assert.equal(get.reply?.status, 405);
});

test('a text request: decoded, checked, claimed; the upstream gets application/grpc, TE trailers and the client path', async () => {
  const { instance } = plugin();
  const body = frame(0, Buffer.from([0x0a, 0x02, 0x68, 0x69]));
  const ctx = new FakeContext({ method: 'POST', path: '/demo.Echo/Unary', headers: { 'content-type': 'application/grpc-web-text' } });
  ctx.body = Buffer.from(body.toString('base64'));
  assert.equal(await instance.onRequest!(ctx), Verdict.Continue);
  assert.equal(ctx.upstreamHeaders.get('content-type'), 'application/grpc');
  assert.equal(ctx.upstreamHeaders.get('te'), 'trailers');
  assert.equal(ctx.upstreamPath, '/demo.Echo/Unary');
  assert.equal(ctx.responseHeaders.get('access-control-allow-origin'), '*');
  const web = takeGrpcWeb(ctx);
  assert.ok(web !== null);
  assert.equal(web.mode.contentType, 'application/grpc-web-text');
  assert.deepEqual(web.upstreamBody('/demo.Echo/Unary'), body);
  assert.equal(takeGrpcWeb(ctx), null, 'taken once');
});

test('pass_stripped_path leaves the path to the route and service', async () => {
  const { instance } = plugin('pass_stripped_path: true');
  const ctx = new FakeContext({ method: 'POST', path: '/api/demo.Echo/Unary', headers: { 'content-type': 'application/grpc-web' } });
  ctx.body = frame(0, Buffer.alloc(0));
  assert.equal(await instance.onRequest!(ctx), Verdict.Continue);
  assert.equal(ctx.upstreamPath, null);
});

test('bad bodies: not base64, a partial frame', async () => {
  const { instance } = plugin();
  const text = new FakeContext({ method: 'POST', headers: { 'content-type': 'application/grpc-web-text' } });
  text.body = Buffer.from('%%%%');
  assert.equal(await instance.onRequest!(text), Verdict.Stop);
  assert.equal(text.reply?.status, 400);
  const partial = new FakeContext({ method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' } });
  partial.body = frame(0, Buffer.from('abc')).subarray(0, 6);
  assert.equal(await instance.onRequest!(partial), Verdict.Stop);
  assert.match(JSON.parse(partial.reply!.body).message, /inside a message frame/);
});

test('JSON with proto: the request becomes one protobuf frame; an unknown path or bad JSON says why', async () => {
  const { instance } = plugin(`proto: ${protoFile}`);
  const ctx = new FakeContext({ method: 'POST', path: '/demo.Echo/Unary', headers: { 'content-type': 'application/json' } });
  ctx.body = Buffer.from('{"text":"hi","n":300}');
  assert.equal(await instance.onRequest!(ctx), Verdict.Continue);
  const web = takeGrpcWeb(ctx)!;
  const body = web.upstreamBody('/demo.Echo/Unary');
  assert.ok(Buffer.isBuffer(body));
  const frames = splitFrames(body)!;
  assert.equal(frames.length, 1);
  // text "hi" (field 1), n 300 (field 2, varint ac 02)
  assert.deepEqual([...frames[0].payload], [0x0a, 0x02, 0x68, 0x69, 0x10, 0xac, 0x02]);
  assert.equal(web.method?.output.name, 'Msg');
  assert.match(String(web.upstreamBody('/demo.Echo/Other')), /unknown method path "\/demo.Echo\/Other"/);

  const bad = new FakeContext({ method: 'POST', path: '/demo.Echo/Unary', headers: { 'content-type': 'application/json' } });
  bad.body = Buffer.from('{"text":');
  await instance.onRequest!(bad);
  assert.match(String(takeGrpcWeb(bad)!.upstreamBody('/demo.Echo/Unary')), /not valid JSON/);
});

test('a proto that does not load is a config error at config.proto, with its line', () => {
  const result = loadConfigText(`_format_version: "3.0"\nplugins:\n  - name: grpc-web\n    config:\n      proto: ${join(dir, 'missing.proto')}\n`, 'inline.yaml');
  assert.equal(result.ok, false);
  if (result.ok) return;
  const err = result.errors[0];
  assert.equal(err.field, 'config.proto');
  assert.equal(err.line, 5, 'the line of proto:');
  assert.match(err.message, /cannot load .*missing\.proto/);
});
