'use strict';
// uWS skips the two bytes after a chunk's data, and after the last chunk `0\r\n`, without checking
// that they are CRLF. `0\r\nXX` + a request = a request hidden from any parser that reads the
// bytes after `0\r\n` as a trailer section (TE desync). Likewise data longer than its chunk-size.
// RFC 9112 §7.1: chunk = chunk-size [ext] CRLF chunk-data CRLF; last-chunk trailer-section CRLF.
const { reproduce } = require('./lib');
(async () => {
  await reproduce('two bytes after the last chunk are not CRLF', '400 and close; /hidden is never handled',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nXXGET /hidden HTTP/1.1\r\nHost: a\r\n\r\n');
  await reproduce('chunk data longer than its size', '400 and close (body is not "hel")',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nhello\r\n0\r\n\r\n');
  await reproduce('bare LF line endings in the chunked body', '400, or accepted only if every CRLF is checked',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\nhello\n0\n\n');
})();
