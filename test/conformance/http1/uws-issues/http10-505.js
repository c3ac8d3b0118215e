'use strict';
// uWS v20.57 answers every HTTP/1.0 request with its own 505 page before any handler runs, Host or
// not. ApacheBench and many health checkers speak HTTP/1.0; RFC 9112 §2.3 expects a 1.1 server to
// answer a 1.0 request in a 1.0-compatible way.
const { reproduce } = require('./lib');
reproduce('HTTP/1.0 with Host', '200 from the handler, then close', 'GET / HTTP/1.0\r\nHost: a\r\n\r\n');
