'use strict';
// uWS trims bytes >= 0x80 at both ends of a header value as if they were whitespace (a signed
// char compared with ' '): `café` in UTF-8 reaches the handler as `caf`, `éx` as `x`. Bytes in
// the middle survive. RFC 9110 §5.5: obs-text (0x80-0xFF) is part of a field value; only SP/HTAB
// around it are OWS.
const { reproduce } = require('./lib');
reproduce('UTF-8 at the end and the start of a header value', 'x-a: "café" and x-b: "éx" (U+00E9, decoded from c3 a9)',
  'GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\nX-B: \xc3\xa9x\r\nConnection: close\r\n\r\n');
