'use strict';
// uWS does not parse a trailer section: after `0\r\n` the next line is read as a new request line.
// A valid trailer gets 505 and a close (the request before it loses its answer); a trailer line
// `GET: /x HTTP/1.1` loses its first two bytes (chunk-crlf-not-checked.js) and `T: /x` is served
// as a request with method `T:`, which is not even a token.
// RFC 9112 §7.1.2: a recipient MUST be able to parse (and may discard) the trailer section.
const { reproduce } = require('./lib');
(async () => {
  await reproduce('valid trailer section', '200 for the POST, connection kept',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n');
  await reproduce('trailer field that is also a request line', '200 for the POST only; no second handler call',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nGET: /hidden HTTP/1.1\r\nHost: a\r\n\r\n');
})();
