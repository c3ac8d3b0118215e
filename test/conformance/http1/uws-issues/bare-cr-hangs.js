'use strict';
// A bare CR inside the request target or a header value: uWS neither refuses it nor answers; the
// client waits for the idle timeout (10 s). (A bare CR right after the request line does get 505.)
// RFC 9112 §2.2: a bare CR outside content must be treated as invalid or replaced by SP.
const { reproduce } = require('./lib');
(async () => {
  await reproduce('bare CR in the target', '400 at once', 'GET /\r HTTP/1.1\r\nHost: a\r\n\r\n');
  await reproduce('bare CR in a header value', '400 at once', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n');
})();
