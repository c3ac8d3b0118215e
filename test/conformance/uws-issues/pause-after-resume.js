/*
 * uWS issue report: HttpResponse.pause() called inside onData does not stop onData while the
 * client keeps the socket's receive buffer full (uWS.js v20.57; v20.30 is fine)
 *
 * Expected: after res.pause() inside an onData callback, onData is not called again until
 * res.resume(), apart from the rest of the one read already being parsed (<= 512 KiB), which is
 * what v20.30 does.
 *
 * Actual (v20.57): onData keeps firing, synchronously, as long as each recv() fills the whole
 * 512 KiB receive buffer. uSockets' loop.c (commit 833497e, "Always read again immediately after
 * reading a full recv buffer", Feb 2024) does `goto read_more` after on_data without checking that
 * the poll was paused (AsyncSocket::throttle_helper set its events to 0). A client that can send
 * as fast as the server copies thus streams on "paused" for as long as it likes, and the event
 * loop does not turn meanwhile (timers, other sockets, the upstream we wanted to drain).
 *
 * Suggested fix: `goto read_more` only while the poll still wants LIBUS_SOCKET_READABLE
 * (us_poll_events(&s->p) & LIBUS_SOCKET_READABLE).
 *
 * It only looks like it depends on the number of earlier pause/resume cycles: what matters is
 * whether >= 512 KiB is waiting in the kernel when pause() runs, which is true after a resume
 * (the client filled the buffer while we were paused) and false on the first small reads.
 * pause() called from a timer (outside the read) holds on both versions.
 *
 * Run: node test/conformance/uws-issues/pause-after-resume.js [dist/src/proxy/uws.js]
 *      (FLOODGATE_UWS=legacy for v20.30). Exit code 1 when a pause leaked more than 1 MiB.
 * Each case streams a chunked body, pauses once after 300 ms and holds the pause for 1.5 s.
 *
 * Measured on a loaded 2-core box (MiB delivered while paused; longest event-loop stall), runs vary
 * with how fast the client is scheduled:
 *   case                                   v20.57                          v20.30
 *   pause in onData, client in a child     63, 84 MiB (ad hoc runs: 7 ..   0.5 MiB (rest of the
 *     process, arriving chunks copied      986 MiB); stall 0.4 .. 8 s      read being parsed),
 *     and kept as a proxy must                                             stall 26 ms
 *   pause in onData, client in this        4.0, 8.7 MiB (bounded by the    0.3 MiB
 *     process (cannot send meanwhile)      kernel receive buffer)
 *   pause from a timer                     0 MiB                           0 MiB
 * In Floodgate (a 1 GiB upload through the gateway) this let RSS grow by 550 MB .. 1.5 GB.
 */
'use strict';
const path = require('node:path');
const { spawn } = require('node:child_process');
const net = require('node:net');
const { uws, uwsBuild } = require(path.resolve(process.argv[2] || path.join(__dirname, '../../../dist/src/proxy/uws.js')));

const WARM_MS = 300;
const HOLD_MS = 1500;
const CHUNK = 256 * 1024;

/** The client: an endless chunked POST written as fast as the socket takes it. */
const CLIENT = `
const c = require('net').connect(+process.argv[1], '127.0.0.1', () => {
  c.write('POST / HTTP/1.1\\r\\nHost: a\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n');
  const chunk = Buffer.concat([Buffer.from('${CHUNK.toString(16)}\\r\\n'), Buffer.alloc(${CHUNK}, 97), Buffer.from('\\r\\n')]);
  const pump = () => { while (c.write(chunk)); c.once('drain', pump); };
  pump();
});
c.on('error', () => process.exit(0));`;

function runCase(name, { pauseFrom, clientInChild }) {
  return new Promise((resolve) => {
    let delivered = 0;
    let atPause = -1;
    let lastTick = Date.now();
    let longestStall = 0;
    const kept = [];
    const ticker = setInterval(() => {
      const now = Date.now();
      if (atPause >= 0) longestStall = Math.max(longestStall, now - lastTick);
      lastTick = now;
    }, 1);
    let child = null;
    let client = null;
    let listenSocket = null;
    const app = uws.App().any('/*', (res) => {
      res.onAborted(() => {});
      const started = Date.now();
      const pause = () => {
        atPause = delivered;
        lastTick = Date.now();
        res.pause();
        setTimeout(() => {
          const leaked = delivered - atPause;
          clearInterval(ticker);
          if (child) child.kill();
          if (client) client.destroy();
          uws.us_listen_socket_close(listenSocket);
          resolve({ name, leaked, longestStall });
        }, HOLD_MS);
      };
      if (pauseFrom === 'timer') setTimeout(pause, WARM_MS);
      res.onData((chunk, isLast) => {
        delivered += chunk.byteLength;
        // Keep what arrives, as a proxy must: the copy is what lets the client keep up.
        if (atPause >= 0) kept.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
        if (pauseFrom === 'onData' && atPause < 0 && Date.now() - started > WARM_MS) pause();
      });
    });
    app.listen('127.0.0.1', 0, (s) => {
      listenSocket = s;
      const port = uws.us_socket_local_port(s);
      if (clientInChild) {
        child = spawn(process.execPath, ['-e', CLIENT, String(port)], { stdio: 'ignore' });
      } else {
        client = net.connect(port, '127.0.0.1', () => {
          client.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
          const chunk = Buffer.concat([Buffer.from(`${CHUNK.toString(16)}\r\n`), Buffer.alloc(CHUNK, 97), Buffer.from('\r\n')]);
          const pump = () => {
            while (client.write(chunk));
            client.once('drain', pump);
          };
          pump();
        });
        client.on('error', () => {});
      }
    });
  });
}

(async () => {
  console.log(`uWS.js ${uwsBuild.version} (${uwsBuild.variant})`);
  let worst = 0;
  for (const [name, opts] of [
    ['pause in onData, client in a child process', { pauseFrom: 'onData', clientInChild: true }],
    ['pause in onData, client in this process', { pauseFrom: 'onData', clientInChild: false }],
    ['pause from a timer, client in a child process', { pauseFrom: 'timer', clientInChild: true }],
  ]) {
    const r = await runCase(name, opts);
    worst = Math.max(worst, r.leaked);
    console.log(`${r.name}: ${(r.leaked / 1048576).toFixed(1)} MiB delivered while paused; longest event-loop stall ${r.longestStall} ms`);
  }
  process.exit(worst > 1024 * 1024 ? 1 : 0);
})();
