'use strict';
/**
 * Run in a child process by prepare.js: loads the addon with RTLD_GLOBAL, then the patched uWS
 * binary, makes an App and answers one request through it, exactly what a worker will do. A
 * loader error (a symbol still missing) or a crash fails it, and the parent keeps v20.30.
 *   node verify.js ADDON PATCHED_BINARY
 */
const os = require('node:os');
const net = require('node:net');

const [addonFile, uwsFile] = process.argv.slice(2);
const { RTLD_NOW, RTLD_GLOBAL } = os.constants.dlopen;
process.dlopen({ exports: {} }, addonFile, RTLD_NOW | RTLD_GLOBAL);
const mod = { exports: {} };
// RTLD_NOW: every symbol is bound here, not at first use inside a worker.
process.dlopen(mod, uwsFile, RTLD_NOW);
const uws = mod.exports;
if (typeof uws.App !== 'function' || typeof uws.App().close !== 'function') {
  console.error('the binary loaded but has no App().close()');
  process.exit(1);
}
const app = uws.App().any('/*', (res) => res.end('ok'));
app.listen('127.0.0.1', 0, (listenSocket) => {
  if (!listenSocket) {
    console.error('cannot listen on loopback');
    process.exit(1);
  }
  const port = uws.us_socket_local_port(listenSocket);
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  let got = '';
  socket.on('data', (d) => {
    got += d;
    if (got.includes('\r\n\r\nok')) {
      socket.destroy();
      app.close();
    }
  });
  socket.on('error', (err) => {
    console.error(err.message);
    process.exit(1);
  });
  setTimeout(() => {
    console.error('no answer from the patched binary');
    process.exit(1);
  }, 5000).unref();
});
