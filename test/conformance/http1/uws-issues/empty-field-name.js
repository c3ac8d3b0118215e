'use strict';
// uWS accepts a field line with an empty name (`: value`) and stops listing fields at it: every
// field after it is invisible to getHeader() and forEach(), so a proxy cannot check or forward
// them. RFC 9110 §5.1: field-name = token (1 or more tchar); the request must get 400.
const { reproduce } = require('./lib');
reproduce('empty field name', '400 and close (today: x-after is missing from forEach and the connection stays open)',
  'GET / HTTP/1.1\r\nHost: a\r\n: hidden\r\nX-After: 1\r\nConnection: close\r\n\r\n');
