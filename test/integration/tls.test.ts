/**
 * The HTTPS listener with real TLS: certificates made by the test (openssl), the real gateway,
 * node's https/tls clients and curl. SNI selection, protocol versions and key types, the scheme the
 * upstream sees, https-only routes over plain HTTP, certificate reloads under traffic, bad PEMs,
 * and session resumption.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import https from 'node:https';
import tls from 'node:tls';
import { startEchoUpstream, type EchoUpstream } from '../../src/dev/echo-upstream';
import { TLS12_CIPHERS } from '../../src/tls/listener';
import { uwsBuild } from '../../src/proxy/uws';
import { makeCertificate, yamlBlock, type TestCertificate } from '../helpers/certificates';
import { startGateway, type Gateway } from '../helpers/gateway';
import { get } from '../helpers/http';
import { freePort } from '../helpers/ports';

const fallback = makeCertificate('default.test', 'ec');
const exactV1 = makeCertificate('a.example.com v1', 'ec', ['a.example.com']);
const exactV2 = makeCertificate('a.example.com v2', 'ec', ['a.example.com']);
const wildcard = makeCertificate('wildcard.example.com', 'rsa', ['*.example.com']);
const suffix = makeCertificate('shop suffix', 'ec', ['shop.test']);
const added = makeCertificate('c.added.test', 'ec');

let upstream: EchoUpstream;
let gw: Gateway;
let tlsPort: number;

function certEntry(c: TestCertificate, snis: string[]): string {
  return `  - cert: |\n${yamlBlock(c.cert, 6)}\n    key: |\n${yamlBlock(c.key, 6)}\n    snis: ${JSON.stringify(snis)}\n`;
}

function config(exact: TestCertificate, extra = ''): string {
  return `_format_version: "3.0"
services:
  - name: echo
    url: http://127.0.0.1:${upstream.port}
    routes:
      - name: any
        paths: [/]
      - name: secure-426
        paths: [/secure]
        protocols: [https]
      - name: secure-redirect
        paths: [/moved]
        protocols: [https]
        https_redirect_status_code: 301
      - name: guarded
        paths: [/guarded]
        plugins:
          - name: key-auth
            protocols: [https]
certificates:
${certEntry(exact, ['a.example.com'])}${certEntry(wildcard, ['*.example.com'])}${certEntry(suffix, ['shop.*'])}${extra}`;
}

interface TlsAnswer {
  readonly cn: string;
  readonly status: number;
  readonly body: string;
  readonly protocol: string | null;
  readonly cipher: string;
  readonly reused: boolean;
  readonly session: Buffer | undefined;
}

/** One request on a fresh TLS connection; `servername` undefined = no SNI. */
function httpsGet(servername: string | undefined, path = '/', opts: tls.ConnectionOptions = {}, port = tlsPort): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    const req = https.request(
      { host: '127.0.0.1', port, path, servername, rejectUnauthorized: false, agent: false, headers: { host: servername ?? 'localhost' }, ...opts },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const peer = socket.getPeerCertificate();
        const cipher = socket.getCipher().standardName;
        const protocol = socket.getProtocol();
        const reused = socket.isSessionReused();
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => setImmediate(() => resolve({ cn: String(peer.subject?.CN), status: res.statusCode!, body, protocol, cipher, reused, session })));
      },
    );
    // TLS 1.3 tickets arrive after the handshake: listen from the start.
    req.on('socket', (socket) => socket.on('session', (s: Buffer) => (session = s)));
    req.on('error', reject);
    req.end();
  });
}

function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => execFile('curl', args, (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve({ stdout, stderr }))));
}

describe('TLS listener', () => {
  before(async () => {
    upstream = await startEchoUpstream();
    tlsPort = await freePort();
    gw = await startGateway({
      config: config(exactV1),
      workers: 2,
      args: ['--listen-tls', `127.0.0.1:${tlsPort}`, '--tls-cert', fallback.certFile, '--tls-key', fallback.keyFile],
    });
  });
  after(async () => {
    await gw?.stop();
  });

  test('SNI: exact name, prefix wildcard, suffix wildcard; an unknown name and no SNI get the default', async () => {
    assert.equal((await httpsGet('a.example.com')).cn, 'a.example.com v1');
    assert.equal((await httpsGet('www.example.com')).cn, 'wildcard.example.com');
    assert.equal((await httpsGet('shop.io')).cn, 'shop suffix');
    // One label only: a.b.example.com is not covered by *.example.com.
    assert.equal((await httpsGet('a.b.example.com')).cn, 'default.test');
    assert.equal((await httpsGet('unknown.test')).cn, 'default.test');
    const noSni = await httpsGet(undefined);
    assert.equal(noSni.cn, 'default.test');
    assert.equal(noSni.status, 200);
  });

  test('curl -k through SNI gets the exact certificate and the proxied answer', async () => {
    const out = await curl(['-sk', '-v', '--resolve', `a.example.com:${tlsPort}:127.0.0.1`, `https://a.example.com:${tlsPort}/hello?x=1`]);
    assert.match(out.stderr, /subject: CN=a\.example\.com v1/);
    const body = JSON.parse(out.stdout);
    assert.equal(body.url, '/hello?x=1');
  });

  test('TLS 1.2 and 1.3 only; ECDSA and RSA certificates; our TLS 1.2 suites', async () => {
    await assert.rejects(httpsGet('a.example.com', '/', { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), /protocol version|unsupported protocol|wrong version/i);
    const v12 = await httpsGet('a.example.com', '/', { maxVersion: 'TLSv1.2' });
    assert.equal(v12.protocol, 'TLSv1.2');
    assert.ok(TLS12_CIPHERS.split(':').some((c) => v12.cipher === tlsStandardName(c)), v12.cipher);
    assert.match(v12.cipher, /ECDSA/);
    const rsa12 = await httpsGet('www.example.com', '/', { maxVersion: 'TLSv1.2' });
    assert.match(rsa12.cipher, /_RSA_/);
    const v13 = await httpsGet('www.example.com');
    assert.equal(v13.protocol, 'TLSv1.3');
    // A client offering only CBC suites (no AEAD) is refused on TLS 1.2.
    await assert.rejects(httpsGet('a.example.com', '/', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }), /handshake failure|alert/i);
  });

  test('the upstream sees X-Forwarded-Proto https and the TLS port; plain HTTP stays http', async () => {
    const secure = JSON.parse((await httpsGet('a.example.com', '/xfp')).body);
    assert.equal(secure.headers['x-forwarded-proto'], 'https');
    assert.equal(secure.headers['x-forwarded-port'], String(tlsPort));
    assert.equal(secure.headers['x-forwarded-for'], '127.0.0.1', 'the client address survives the hand-over to the generation');
    const plain = (await get(gw.url('/xfp'))).json();
    assert.equal(plain.headers['x-forwarded-proto'], 'http');
    assert.equal(plain.headers['x-forwarded-port'], String(gw.port));
  });

  test('an https-only route over plain HTTP: 426 with Kong\'s headers, or the route\'s redirect', async () => {
    const refused = await get(gw.url('/secure/x'));
    assert.equal(refused.status, 426);
    assert.deepEqual(refused.json(), { message: 'Please use HTTPS protocol' });
    assert.equal(refused.headers['upgrade'], 'TLS/1.2, HTTP/1.1');
    assert.equal(refused.headers['connection'], 'Upgrade');
    const seenBefore = upstream.seen.length;
    const moved = await get(gw.url('/moved/y?z=1'), { headers: { host: 'shop.example.com' } });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers['location'], `https://shop.example.com:${tlsPort}/moved/y?z=1`);
    assert.equal(upstream.seen.length, seenBefore, 'neither reached the upstream');
    const served = await httpsGet('a.example.com', '/secure/x');
    assert.equal(served.status, 200);
    assert.equal(JSON.parse(served.body).url, '/x');
  });

  test('a plugin whose protocols list only https runs on HTTPS requests, and not on plain HTTP (Kong)', async () => {
    assert.equal((await httpsGet('a.example.com', '/guarded')).status, 401);
    assert.equal((await get(gw.url('/guarded'))).status, 200, 'key-auth limited to https does not run on the plain listener');
  });

  test('a reload swaps a certificate while a client keeps connecting; open connections keep going', async () => {
    // A keep-alive connection made before the reload.
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await httpsGet('a.example.com', '/', { agent: keepAlive } as tls.ConnectionOptions);
    assert.equal(before.cn, 'a.example.com v1');

    const seen: string[] = [];
    const errors: string[] = [];
    let reloaded = false;
    let afterReload = 0;
    const loop = (async () => {
      while (afterReload < 40) {
        try {
          const r = await httpsGet('a.example.com');
          if (r.status !== 200) errors.push(`status ${r.status}`);
          seen.push(r.cn);
          if (reloaded) afterReload++;
        } catch (err) {
          errors.push(String(err));
        }
      }
    })();
    while (seen.length < 20 && errors.length === 0) await new Promise((r) => setTimeout(r, 10));
    await gw.reload(config(exactV2));
    reloaded = true;
    await loop;

    assert.deepEqual(errors, []);
    assert.equal(seen[0], 'a.example.com v1');
    assert.deepEqual(seen.slice(-30), Array(30).fill('a.example.com v2'), 'every connection after the reload gets the new certificate');
    assert.ok(gw.logs.some((l) => l.includes('"result":"rebuilt"')));

    // The connection from before the reload is still open, still answers, on the old handshake.
    const again = await new Promise<{ status: number; reusedSocket: boolean }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: tlsPort, servername: 'a.example.com', path: '/', rejectUnauthorized: false, agent: keepAlive, headers: { host: 'a.example.com' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, reusedSocket: req.reusedSocket }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(again, { status: 200, reusedSocket: true });
    keepAlive.destroy();
  });

  test('a reload that only adds a name adds it to the running listener', async () => {
    await gw.reload(config(exactV2, certEntry(added, ['c.added.test'])));
    assert.equal((await httpsGet('c.added.test')).cn, 'c.added.test');
    assert.equal((await httpsGet('a.example.com')).cn, 'a.example.com v2');
    assert.ok(gw.logs.some((l) => l.includes('"result":"added"')));
  });

  test('a bad PEM is a located config error and the running certificates keep serving', async () => {
    const good = config(exactV2);
    const lines = good.split('\n');
    const bad = lines.findIndex((l) => l.includes('BEGIN CERTIFICATE')) + 2; // 0-based index of a base64 line
    lines[bad] = lines[bad].slice(0, -4) + '#@!*';
    const res = await fetch(gw.adminUrl('/config'), { method: 'POST', body: lines.join('\n'), headers: { 'content-type': 'application/x-yaml' } });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { errors: { field: string; line: number; message: string }[] };
    // The error names the field and points at its line (the `cert: |` of the first certificate).
    assert.equal(body.errors[0].field, 'cert');
    assert.equal(body.errors[0].line, lines.findIndex((l) => l.includes('cert: |')) + 1);
    assert.match(body.errors[0].message, /invalid PEM certificate/);
    assert.equal((await httpsGet('a.example.com')).cn, 'a.example.com v2');
  });

  test('with --tls-cert, a config may drop all its certificates: the default serves everyone', async () => {
    const good = config(exactV2);
    await gw.reload(good.slice(0, good.indexOf('certificates:')));
    assert.equal((await httpsGet('a.example.com')).cn, 'default.test');
    assert.equal((await httpsGet('a.example.com')).status, 200);
  });
});

describe('TLS without --tls-cert, one worker', () => {
  let solo: Gateway;
  let port: number;
  before(async () => {
    port = await freePort();
    solo = await startGateway({ config: config(exactV1), workers: 1, args: ['--listen-tls', `127.0.0.1:${port}`] });
  });
  after(async () => {
    await solo?.stop();
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`a ${version} session is resumed on a new connection to the same worker`, async () => {
      const first = await httpsGet('a.example.com', '/', { maxVersion: version, minVersion: version }, port);
      assert.equal(first.reused, false);
      assert.ok(first.session, 'the server issued a session');
      const second = await httpsGet('a.example.com', '/', { maxVersion: version, minVersion: version, session: first.session }, port);
      assert.equal(second.reused, true);
      assert.equal(second.status, 200);
    });
  }

  test('the first certificate of the config is the default', async () => {
    assert.equal((await httpsGet(undefined, '/', {}, port)).cn, 'a.example.com v1');
  });

  test('a config without certificates is refused while the listener serves them', async () => {
    const good = config(exactV1);
    const res = await fetch(solo.adminUrl('/config'), { method: 'POST', body: good.slice(0, good.indexOf('certificates:')), headers: { 'content-type': 'application/x-yaml' } });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(await res.json()), /needs a certificate/);
    assert.equal((await httpsGet('www.example.com', '/', {}, port)).cn, 'wildcard.example.com');
  });
});

/** OpenSSL suite name -> the IANA name node reports as `standardName`. */
function tlsStandardName(openssl: string): string {
  const m = /^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/.exec(openssl)!;
  const bulk = { 'AES128-GCM-SHA256': 'AES_128_GCM_SHA256', 'AES256-GCM-SHA384': 'AES_256_GCM_SHA384', 'CHACHA20-POLY1305': 'CHACHA20_POLY1305_SHA256' }[m[2]]!;
  return `TLS_ECDHE_${m[1]}_WITH_${bulk}`;
}

describe('TLS connections and --max-connections', () => {
  let limited: Gateway;
  let port: number;
  before(async () => {
    upstream ??= await startEchoUpstream();
    port = await freePort();
    limited = await startGateway({ config: config(exactV1), workers: 1, args: ['--listen-tls', `127.0.0.1:${port}`, '--max-connections', '2'] });
  });
  after(async () => {
    await limited?.stop();
    await upstream?.close();
  });

  test('HTTPS connections count against the limit: the third open connection gets the 503', async (t) => {
    // The connection filter came with the same uWS builds as App.close() (v20.57 here).
    if (!uwsBuild.hasAppClose) {
      t.skip(`uWS ${uwsBuild.version} has no connection filter: --max-connections counts requests in progress there`);
      return;
    }
    const agent = new https.Agent({ keepAlive: true, maxSockets: 2 });
    const held = await Promise.all([0, 1].map(() => httpsGet('a.example.com', '/', { agent } as tls.ConnectionOptions, port)));
    assert.deepEqual(held.map((r) => r.status), [200, 200]);
    const third = await httpsGet('a.example.com', '/', {}, port);
    assert.equal(third.status, 503);
    assert.match(third.body, /max_connections/);
    agent.destroy();
  });
});
