'use strict';
// An empty line before the request line: uWS neither skips it (RFC 9112 §2.2: a server SHOULD
// ignore at least one empty line) nor answers; the client waits for the idle timeout (10 s).
const { reproduce } = require('./lib');
reproduce('CRLF before the request line', '200 at once (or 400 at once), not silence', '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
