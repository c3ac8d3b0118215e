'use strict';
/**
 * Shared by the reproducers in this folder: a bare uWS.js App (no Floodgate code in the request
 * path) that answers every request after `delayMs` (0 = inside the handler, as a sync app does;
 * > 0 = later, as a proxy does), and a raw client that sends bytes and prints what comes back.
 *
 * Run from the repository root after `make build`: `node test/conformance/http1/uws-issues/<file>`.
 * uWS is loaded the way Floodgate loads it (the patched v20.57 copy on glibc < 2.38); outside the
 * repo, `require('uWebSockets.js')` is the same library.
 */
const net = require('node:net');
const path = require('node:path');

function loadUws() {
  try {
    return require(path.resolve(__dirname, '../../../../dist/src/proxy/uws.js')).uws;
  } catch {
    return require('uWebSockets.js');
  }
}

/** Starts the app; every handler call is printed with what uWS handed over. */
function startApp({ delayMs = 0, closeWith = null } = {}) {
  const uws = loadUws();
  const log = [];
  const app = uws.App().any('/*', (res, req) => {
    const url = req.getUrl();
    const entry = { method: req.getCaseSensitiveMethod(), url, headers: [], body: '' };
    req.forEach((k, v) => entry.headers.push([k, v]));
    log.push(entry);
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
      entry.aborted = true;
    });
    const answer = () => {
      if (aborted) return;
      res.cork(() => res.end(`handled ${entry.method} ${url}`, closeWith !== null && closeWith(entry)));
    };
    res.onData((chunk, isLast) => {
      entry.body += Buffer.from(chunk).toString('latin1');
      if (isLast) (delayMs > 0 ? setTimeout(answer, delayMs) : answer());
    });
  });
  return new Promise((resolve) =>
    app.listen('127.0.0.1', 0, (ls) => resolve({ port: uws.us_socket_local_port(ls), log, close: () => app.close() })),
  );
}

/** Sends `parts` (latin1 strings, 100 ms apart) on one connection; resolves after `waitMs`. */
function send(port, parts, waitMs = 1500) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    let closed = false;
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => (closed = true));
    socket.on('connect', async () => {
      for (const p of [].concat(parts)) {
        socket.write(Buffer.from(p, 'latin1'));
        await new Promise((r) => setTimeout(r, 100));
      }
      setTimeout(() => {
        socket.destroy();
        resolve({ got: got.replace(/Date: [^\r]*\r\n/g, ''), closed });
      }, waitMs);
    });
  });
}

/** Runs one reproducer: prints the request, what the handler saw, and the answer. */
async function reproduce(title, expected, parts, opts = {}) {
  const app = await startApp(opts);
  const r = await send(app.port, parts, opts.waitMs);
  console.log(`## ${title}`);
  console.log(`sent:     ${JSON.stringify([].concat(parts))}`);
  console.log(`handler:  ${JSON.stringify(app.log)}`);
  console.log(`answer:   ${JSON.stringify(r.got)}`);
  console.log(`closed by server within the wait: ${r.closed}`);
  console.log(`expected: ${expected}\n`);
  app.close();
  return { app, r };
}

module.exports = { startApp, send, reproduce };
