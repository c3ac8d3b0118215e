'use strict';
// Two requests in one write to a handler that answers later (any proxy): uWS sees the second while
// the first is pending, aborts the first and closes without a byte (HttpContext: "denying async
// pipelining"). RFC 9112 §9.3.2: answer pipelined requests in order; at least answer the first
// with `Connection: close` instead of a silent close.
const { reproduce } = require('./lib');
reproduce('pipelined GETs, handler answers after 20 ms', 'two answers in order, or the first with Connection: close',
  'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n', { delayMs: 20 });
