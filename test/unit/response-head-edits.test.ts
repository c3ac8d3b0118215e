/**
 * The response head as uWS receives it (downstream.ts writeUpstreamHead): the kept upstream
 * lines, the request id and the plugins' edits, whichever way they are batched into writeHeader
 * calls, must come out as one `name: value` line each, in order, UTF-8 for wide values; an edit
 * whose name cannot be written is left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REMOVED_HEADER } from '../../src/proxy/downstream';
import { HeadOnlyResponse } from '../helpers/head-only-response';
import type { HttpResponse } from '../../src/proxy/uws';
import { ResponseParser, type ParserSink } from '../../src/upstream/response-parser';
import type { ResponseHead } from '../../src/upstream/response-head';
import { lastRequestSerial, nextRequestId } from '../../src/logging/request-id';
import { RequestContext } from '../../src/proxy/request-context';
import { DownstreamHead } from '../../src/proxy/request-head';
import { EMPTY_SNAPSHOT, stubRequestHost } from '../helpers/request-host';

/** Records what uWS would write: `key: value\r\n` per writeHeader call. */
class RecordingResponse {
  lines = '';
  calls = 0;
  writeStatus(): this {
    return this;
  }
  writeHeader(key: string | Uint8Array, value: string | Uint8Array): this {
    this.calls++;
    this.lines += `${bytes(key)}: ${bytes(value)}\r\n`;
    return this;
  }
}

/** A string as uWS writes it (UTF-8), or a byte view, both as latin1 text. */
function bytes(v: string | Uint8Array): string {
  return (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)).toString('latin1');
}

class Writer extends HeadOnlyResponse {
  constructor(
    res: RecordingResponse,
    readonly upstream: ResponseHead,
    readonly edits: string[] | null,
    readonly idHeader: string,
  ) {
    super(res as unknown as HttpResponse);
  }
  writeHead(): void {
    const id = this.idHeader === '' ? '' : nextRequestId();
    const serial = this.idHeader === '' ? 0 : lastRequestSerial();
    this.writeUpstreamHead(this.upstream, this.edits, this.idHeader, id, serial, false, false);
    this.id = id;
  }
  id = '';
}

function parsed(raw: string): ResponseHead {
  let head: ResponseHead | null = null;
  const sink: ParserSink = {
    onInformational() {},
    onHead(h: ResponseHead) {
      head = h;
    },
    onBody: () => true,
    onComplete() {},
    onParseError() {
      throw new Error('the test response did not parse');
    },
  };
  const parser = new ResponseParser(sink, 64 * 1024);
  parser.reset(false);
  parser.execute(Buffer.from(raw, 'latin1'));
  return head!;
}

const EDITS = ['x-first', '1', 'x-gone', REMOVED_HEADER, 'x-wide', 'café', 'x-last', '3'];
const EXPECTED_EDITS = `x-first: 1\r\nx-wide: ${bytes('café')}\r\nx-last: 3\r\n`;

test('kept upstream headers, the request id, then the edits; one line each, removed edits left out', () => {
  const upstream = parsed('HTTP/1.1 200 OK\r\nServer: up\r\nDate: x\r\nContent-Length: 0\r\nConnection: keep-alive\r\nX-Gone: 1\r\nETag: "e"\r\n\r\n');
  const res = new RecordingResponse();
  const writer = new Writer(res, upstream, [...EDITS], 'x-request-id');
  writer.writeHead();
  // X-Gone stays hidden only by the edit list: the edit hides the upstream's copy.
  assert.equal(res.lines, `Server: up\r\nETag: "e"\r\nx-request-id: ${writer.id}\r\n${EXPECTED_EDITS}`);
  assert.equal(res.calls, 1, 'one crossing into uWS for all of it');
});

test('with nothing else in the block, the edits alone still come out one line each', () => {
  const upstream = parsed('HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 0\r\n\r\n');
  const res = new RecordingResponse();
  new Writer(res, upstream, [...EDITS], '').writeHead();
  assert.equal(res.lines, EXPECTED_EDITS);
});

test('per-header writes (the HTTP/2 stand-in) give the same lines', () => {
  const upstream = parsed('HTTP/1.1 200 OK\r\nServer: up\r\nContent-Length: 0\r\n\r\n');
  const res = new RecordingResponse();
  const writer = new Writer(res, upstream, [...EDITS], '');
  writer.headerBlocks = false;
  writer.writeHead();
  assert.equal(res.lines, `Server: up\r\n${EXPECTED_EDITS}`);
});

test('a plugin edit whose name is not a token is left out; the others are written', () => {
  const res = new RecordingResponse();
  const recording = Object.assign(res, { cork: (f: () => void) => f(), end() {}, close() {}, onWritable() {} });
  const head = new DownstreamHead();
  head.method = 'GET';
  const ctx = new RequestContext(stubRequestHost(''), recording as unknown as HttpResponse, EMPTY_SNAPSHOT, head, 0);
  // response-ratelimiting names its headers after its limits, and Kong allows any limit name.
  ctx.setResponseHeader('X-RateLimit-Limit-video calls-minute', '10');
  ctx.addResponseHeader('x-bad:name', 'x');
  ctx.setResponseHeader('X-OK', 'fine');
  ctx.addResponseHeader('x-also', 'kept');
  ctx.respond(403, '{}', 'application/json', null);
  assert.match(res.lines, /^x-ok: fine\r\n/m);
  assert.match(res.lines, /^x-also: kept\r\n/m);
  assert.doesNotMatch(res.lines, /video calls|x-bad/i);
});
