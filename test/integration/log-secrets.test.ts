/**
 * Credentials never reach a log: requests carrying key-auth keys (header and query), basic-auth
 * passwords, JWTs (header, query and cookie), cookies and Proxy-Authorization go through a real
 * gateway with the access log, file-log and http-log on; no secret may appear in any access log
 * line, file-log line, http-log body, or system log line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { signJwt } from '../../src/plugins/jwt/sign';
import { startCollector, type Collector } from '../helpers/collector';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';

const KEY_HEADER = 'KeySecretInHeader-7f3a';
const KEY_QUERY = 'KeySecretInQuery-91bc';
const WRONG_KEY = 'WrongKeySecret-55de';
const PASSWORD = 'BasicPassword-c0ffee';
const JWT_SECRET = 'JwtSigningSecret-0123456789abcdef';
const COOKIE = 'CookieSecret-d00d';
const PROXY_AUTH = 'ProxyAuthSecret-beef';

let up: EchoUpstream;
let collector: Collector;
let gw: Gateway;
let dir: string;

before(async () => {
  up = await startEchoUpstream(0, '127.0.0.1', 'secret-up');
  collector = await startCollector();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-secrets-'));
  gw = await startGateway({
    workers: 2,
    args: ['--access-log', 'stdout'],
    config: `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials:
      - key: ${KEY_HEADER}
      - key: ${KEY_QUERY}
    basicauth_credentials:
      - username: alice
        password: ${PASSWORD}
    jwt_secrets:
      - key: alice-iss
        algorithm: HS256
        secret: ${JWT_SECRET}
services:
  - name: echo
    url: http://127.0.0.1:${up.port}
    routes:
      - name: key
        paths: [/key]
        plugins:
          - name: key-auth
            config: { key_names: [apikey, X-Api-Key] }
      - name: basic
        paths: [/basic]
        plugins:
          - name: basic-auth
      - name: jwt
        paths: [/jwt]
        plugins:
          - name: jwt
            config: { cookie_names: [token] }
plugins:
  - name: file-log
    config: { path: ${path.join(dir, 'file.log')} }
  - name: http-log
    config:
      http_endpoint: http://127.0.0.1:${collector.port}/logs
      queue: { max_batch_size: 50, max_coalescing_delay: 0.1 }
`,
  });
});

after(async () => {
  await gw.stop();
  await collector.close();
  await up.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('no secret appears in the access log, file-log, http-log or system log', async () => {
  const token = signJwt({ iss: 'alice-iss', exp: Math.floor(Date.now() / 1000) + 600 }, 'HS256', JWT_SECRET);
  const basic = Buffer.from(`alice:${PASSWORD}`).toString('base64');
  const requests: [string, Record<string, string>, number][] = [
    ['/key/a', { apikey: KEY_HEADER }, 200],
    ['/key/b', { 'x-api-key': KEY_HEADER }, 200],
    [`/key/d?apikey=${KEY_QUERY}&page=2`, {}, 200],
    [`/key/e?APIKEY=${KEY_QUERY}`, {}, 401],
    ['/key/f', { apikey: WRONG_KEY }, 401],
    ['/basic/a', { authorization: `Basic ${basic}` }, 200],
    ['/basic/b', { authorization: `Basic ${Buffer.from(`alice:${PASSWORD}-wrong`).toString('base64')}` }, 401],
    ['/jwt/a', { authorization: `Bearer ${token}` }, 200],
    [`/jwt/b?jwt=${token}`, {}, 200],
    ['/jwt/c', { cookie: `token=${token}; session=${COOKIE}` }, 200],
    ['/key/g', { apikey: KEY_HEADER, cookie: `session=${COOKIE}`, 'proxy-authorization': `Basic ${PROXY_AUTH}` }, 200],
  ];
  for (const [p, headers, status] of requests) {
    const res = await get(gw.url(p), { headers }).catch((err) => {
      throw new Error(`${p}: ${err}\n${gw.logs.join('\n')}`);
    });
    assert.equal(res.status, status, `${p}: ${res.text}`);
  }
  const n = requests.length;
  const entries = () => collector.requests.flatMap((r) => JSON.parse(r.body) as unknown[]);
  await collector.waitFor(() => entries().length === n);
  const fileLog = path.join(dir, 'file.log');
  const deadline = Date.now() + 20_000;
  const fileLines = () => (fs.existsSync(fileLog) ? fs.readFileSync(fileLog, 'utf8').split('\n').filter((l) => l !== '') : []);
  while ((fileLines().length < n || gw.out.length < n) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(fileLines().length, n, 'one file-log line per request');
  assert.equal(gw.out.length, n, 'one access log line per request');

  const everything = [...gw.out, ...fileLines(), ...collector.requests.map((r) => r.body), ...gw.logs].join('\n');
  const secrets = [KEY_HEADER, KEY_QUERY, WRONG_KEY, PASSWORD, basic, JWT_SECRET, token, token.split('.')[2], COOKIE, PROXY_AUTH];
  for (const s of secrets) assert.ok(!everything.includes(s), `secret leaked into a log: ${s}`);
  // The logs did record these requests, with the secret places marked as redacted.
  assert.ok(everything.includes('[REDACTED]'));
  const logged = entries() as { request: { uri: string; headers: Record<string, string>; querystring: Record<string, string> } }[];
  const d = logged.find((e) => e.request.uri.startsWith('/key/d'))!;
  assert.equal(d.request.querystring.apikey, '[REDACTED]');
  assert.equal(d.request.querystring.page, '2');
  const g = logged.find((e) => e.request.uri === '/key/g')!;
  assert.equal(g.request.headers.apikey, '[REDACTED]');
  assert.equal(g.request.headers.cookie, '[REDACTED]');
  assert.equal(g.request.headers['proxy-authorization'], '[REDACTED]');
});
