'use strict';
// uWS answers 400 to any chunk extension. RFC 9112 §7.1.1: a recipient MUST ignore unrecognized
// chunk extensions. Safe, but valid uploads from clients that send extensions fail.
const { reproduce } = require('./lib');
reproduce('valid chunk extension', '200; body "hello"',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n');
