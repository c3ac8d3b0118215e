'use strict';
// uWS accepts a chunk-size line that is not 1*HEXDIG [chunk-ext]: `5g` is read as a size (the rest
// of the stream becomes body, request swallowing), and so is a size line ending in a bare LF.
// RFC 9112 §7.1: chunk-size = 1*HEXDIG; anything else must be refused (400) and the connection closed.
const { reproduce } = require('./lib');
(async () => {
  const hidden = 'GET /hidden HTTP/1.1\r\nHost: a\r\n\r\n';
  await reproduce('non-hex byte in chunk-size', '400 and close; the handler must never see /hidden as body',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\nhello\r\n0\r\n\r\n' + hidden);
  await reproduce('bare LF inside a chunk extension', '400 and close',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n' + hidden);
})();
