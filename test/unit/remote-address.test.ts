/**
 * The client's address once per connection (src/proxy/remote-address.ts, the addon's
 * uwsSocketKey): a real uWS app, real keep-alive clients bound to different loopback addresses.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { PeerAddresses } from '../../src/proxy/remote-address';
import { addConnectionFilter, uws, uwsBuild, type HttpResponse, type TemplatedApp, type us_listen_socket } from '../../src/proxy/uws';
import { nativeUwsSocketKey } from '../../src/util/native';

const canKey = nativeUwsSocketKey !== null && uwsBuild.variant !== 'legacy';

describe('PeerAddresses', { skip: canKey ? false : 'needs the addon (1.6.0) and uWS v20.57' }, () => {
  let app: TemplatedApp;
  let listenSocket: us_listen_socket;
  let port = 0;
  let peers: PeerAddresses;
  /** getRemoteAddress calls made for requests (each one a getpeername). */
  let uwsReads = 0;
  /** Socket key of each request, in order. */
  const keys: number[] = [];

  function handler(res: HttpResponse): void {
    const own = res.getRemoteAddress;
    res.getRemoteAddress = function counted(this: HttpResponse): ArrayBuffer {
      uwsReads++;
      return own.call(this);
    };
    keys.push(nativeUwsSocketKey!(res));
    res.end(peers.addressOf(res));
  }

  before(async () => {
    peers = PeerAddresses.create()!;
    app = uws.App().any('/*', handler);
    assert.ok(addConnectionFilter(app, peers.onFilter));
    await new Promise<void>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (s) => {
        if (s === false) return reject(new Error('listen failed'));
        listenSocket = s;
        port = uws.us_socket_local_port(s);
        resolve();
      }),
    );
  });
  after(() => {
    uws.us_listen_socket_close(listenSocket);
    app.close();
  });

  function get(agent: http.Agent): Promise<string> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  }

  test('a keep-alive connection asks uWS once; each connection gets its own address', async () => {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: '127.0.0.2' });
    const b = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: '127.0.0.3' });
    uwsReads = 0;
    for (let i = 0; i < 5; i++) {
      assert.equal(await get(a), '127.0.0.2');
      assert.equal(await get(b), '127.0.0.3');
    }
    assert.equal(uwsReads, 2, 'one getRemoteAddress per connection, not per request');
    assert.equal(peers.size, 2);
    a.destroy();
    b.destroy();
    for (let i = 0; i < 50 && peers.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(peers.size, 0, 'closed connections drop their entries');
  });

  test('a new connection at a reused socket address never inherits the old address', async () => {
    // uWS reuses a closed connection's memory for the next one: the key repeats, the client differs.
    let reusedKeys = 0;
    for (let i = 0; i < 20; i++) {
      const from = `127.0.0.${10 + (i % 2)}`;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: from });
      keys.length = 0;
      assert.equal(await get(agent), from);
      assert.equal(await get(agent), from);
      const key = keys[0];
      agent.destroy();
      for (let j = 0; j < 50 && peers.size > 0; j++) await new Promise((r) => setTimeout(r, 10));
      const next = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: `127.0.0.${20 + (i % 2)}` });
      keys.length = 0;
      assert.equal(await get(next), `127.0.0.${20 + (i % 2)}`);
      if (keys[0] === key) reusedKeys++;
      next.destroy();
      for (let j = 0; j < 50 && peers.size > 0; j++) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(reusedKeys > 0, 'the case under test happened: a later connection had an earlier one\'s key');
  });

  test('a connection the filter did not announce is asked every time', async () => {
    const other = PeerAddresses.create()!;
    // Not registered as a filter: no entries, so every request reads uWS.
    const app2 = uws.App().any('/*', (res) => {
      const own = res.getRemoteAddress;
      res.getRemoteAddress = function counted(this: HttpResponse): ArrayBuffer {
        uwsReads++;
        return own.call(this);
      };
      res.end(other.addressOf(res));
    });
    const s = await new Promise<us_listen_socket>((resolve, reject) => app2.listen('127.0.0.1', 0, (l) => (l === false ? reject(new Error('listen')) : resolve(l))));
    const port2 = uws.us_socket_local_port(s);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: '127.0.0.4' });
    uwsReads = 0;
    for (let i = 0; i < 3; i++) {
      const body = await new Promise<string>((resolve, reject) =>
        http.get({ host: '127.0.0.1', port: port2, agent }, (r) => {
          let t = '';
          r.on('data', (c: Buffer) => (t += c.toString('latin1')));
          r.on('end', () => resolve(t));
        }).on('error', reject),
      );
      assert.equal(body, '127.0.0.4');
    }
    assert.equal(uwsReads, 3);
    assert.equal(other.size, 0);
    agent.destroy();
    uws.us_listen_socket_close(s);
    app2.close();
  });

  test('forget drops the entry; objects that are not uWS responses have no key', () => {
    assert.equal(nativeUwsSocketKey!({}), 0);
    assert.equal(nativeUwsSocketKey!(Object.create(null) as object), 0);
    assert.equal(nativeUwsSocketKey!(new net.Socket()), 0);
    const fake = PeerAddresses.create(() => 42)!;
    fake.onFilter({} as HttpResponse, 1);
    assert.equal(fake.size, 1);
    fake.forget({} as HttpResponse);
    assert.equal(fake.size, 0);
  });
});
