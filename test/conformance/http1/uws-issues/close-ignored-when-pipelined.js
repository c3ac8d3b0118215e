'use strict';
// res.end(body, true) in the handler writes `Connection: close`, but uWS goes on parsing the same
// read and serves the request that follows, and the connection stays open. A proxy that refuses a
// request for bad framing cannot stop the request smuggled behind it this way.
// Also: end(body, true) after write() or tryEnd() puts `Connection: close\r\n` inside the body.
const { reproduce } = require('./lib');
reproduce('end(body, true) then a pipelined request in the same read', 'one answer with Connection: close, then the close; /hidden never handled',
  'GET /bad HTTP/1.1\r\nHost: a\r\n\r\nGET /hidden HTTP/1.1\r\nHost: a\r\n\r\n', { closeWith: (e) => e.url === '/bad' });
