/**
 * The upstream engine's strict response parser (src/upstream/response-parser.ts), fed bytes
 * directly: every framing whole, split at every position and one byte at a time, and every
 * malformed case it must refuse. Every test runs twice: with the TypeScript kernel (`js`) and
 * the addon's C kernel (`native`); a missing addon fails the native run, it is never skipped.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseParser, type ParserSink } from '../../src/upstream/response-parser';
import { ParseError, PARSE_ERROR_REASONS } from '../../src/upstream/failures';
import type { ResponseHead } from '../../src/upstream/response-head';
import { jsKernel, type ParserKernel } from '../../src/upstream/parser-kernel';
import { nativeKernel, nativeKernelUnavailableReason } from '../../src/upstream/native-kernel';

interface Result {
  informational: number[];
  status: number;
  headers: Array<[string, string]>;
  body: string;
  complete: boolean;
  extra: boolean;
  error: ParseError;
  keepAlive: boolean;
}

class Collector implements ParserSink {
  readonly r: Result = { informational: [], status: 0, headers: [], body: '', complete: false, extra: false, error: ParseError.None, keepAlive: false };
  onInformational(status: number): void {
    this.r.informational.push(status);
  }
  onHead(head: ResponseHead): void {
    this.r.status = head.status;
    this.r.keepAlive = head.keepAlive;
    for (let i = 0; i < head.count; i++) this.r.headers.push([head.nameString(i), head.valueString(i)]);
  }
  /** Refuse the next `refuse` body slices (a slow client). */
  refuse = 0;
  onBody(chunk: Buffer): boolean {
    this.r.body += chunk.toString('latin1');
    if (this.refuse > 0) {
      this.refuse--;
      return false;
    }
    return true;
  }
  onComplete(extra: boolean): void {
    assert.equal(this.r.complete, false, 'completed twice');
    this.r.complete = true;
    this.r.extra = extra;
  }
  onParseError(error: ParseError): void {
    assert.equal(this.r.error, ParseError.None, 'two errors');
    this.r.error = error;
  }
}

function suites(kernel: ParserKernel): void {
  function parse(pieces: readonly string[], opts: { head?: boolean; eof?: boolean; max?: number } = {}): Result {
    const sink = new Collector();
    const parser = new ResponseParser(sink, opts.max ?? 8192, kernel);
    parser.reset(opts.head === true);
    for (const p of pieces) parser.execute(Buffer.from(p, 'latin1'));
    if (opts.eof === true) parser.eof();
    return sink.r;
  }

  /** The same input whole, split in two at every position, and one byte at a time. */
  function everySplit(raw: string, opts: { head?: boolean; eof?: boolean; max?: number } = {}): Result {
    const whole = parse([raw], opts);
    for (let at = 1; at < raw.length; at++) {
      assert.deepEqual(parse([raw.slice(0, at), raw.slice(at)], opts), whole, `split at ${at}`);
    }
    assert.deepEqual(parse([...raw], opts), whole, 'one byte at a time');
    return whole;
  }

  describe(`[${kernel.name}] upstream response parser: framing`, () => {
    test('Content-Length body, split anywhere', () => {
      const r = everySplit('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
      assert.equal(r.status, 200);
      assert.deepEqual(r.headers, [['content-type', 'text/plain'], ['content-length', '5']]);
      const sink = new Collector();
      let kept: ResponseHead | null = null;
      sink.onHead = (h: ResponseHead) => void (kept = h);
      const p = new ResponseParser(sink, 8192, kernel);
      p.reset(false);
      p.execute(Buffer.from('HTTP/1.1 200 OK\r\nX-Mixed-Case: Value \r\nContent-Length: 0\r\n\r\n'));
      assert.equal(kept!.get('x-mixed-case'), 'Value', 'names match in any case, values lose trailing OWS');
      assert.equal(kept!.get('x-absent'), undefined);
      assert.equal(r.body, 'hello');
      assert.equal(r.complete, true);
      assert.equal(r.extra, false);
      assert.equal(r.keepAlive, true);
    });

    test('chunked with extensions and trailers, split anywhere', () => {
      const raw = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n1 ; a="b c"\r\n!\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n';
      const r = everySplit(raw);
      assert.equal(r.body, 'hello!0123456789');
      assert.equal(r.complete, true);
      assert.equal(r.error, ParseError.None);
    });

    test('a body delimited by the close ends at EOF and the connection is not kept', () => {
      const r = everySplit('HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nuntil the end', { eof: true });
      assert.equal(r.body, 'until the end');
      assert.equal(r.complete, true);
      assert.equal(r.keepAlive, false);
    });

    test('a final coding other than chunked is read to the close', () => {
      const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello'], { eof: true });
      assert.equal(r.body, '5\r\nhello');
      assert.equal(r.keepAlive, false);
    });

    test('HEAD, 204 and 304 have no body whatever their Content-Length says', () => {
      for (const [raw, head] of [
        ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', true],
        ['HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n', false],
        ['HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', false],
      ] as const) {
        const r = parse([raw], { head });
        assert.equal(r.complete, true, raw);
        assert.equal(r.body, '');
        assert.equal(r.extra, false);
      }
    });

    test('1xx heads are reported and the final head follows on the same exchange', () => {
      const r = everySplit('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
      assert.deepEqual(r.informational, [100, 103]);
      assert.equal(r.status, 201);
      assert.equal(r.body, 'ok');
      assert.equal(r.complete, true);
    });

    test('bytes after the framing are flagged, never delivered as body', () => {
      const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA']);
      assert.equal(r.body, 'ok');
      assert.equal(r.complete, true);
      assert.equal(r.extra, true);
      const late = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'late']);
      assert.equal(late.body, 'ok');
      assert.equal(late.error, ParseError.ExtraBytes);
    });

    test('HTTP/1.0 closes unless it says keep-alive; Connection: close is honoured', () => {
      assert.equal(parse(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']).keepAlive, false);
      assert.equal(parse(['HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n']).keepAlive, true);
      assert.equal(parse(['HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 0\r\n\r\n']).keepAlive, false);
    });

    test('the Keep-Alive timeout hint is read', () => {
      const hint = (raw: string) => {
        const sink = new Collector();
        const parser = new ResponseParser(sink, 8192, kernel);
        parser.reset(false);
        parser.execute(Buffer.from(raw));
        return parser.keepAliveHintMs;
      };
      assert.equal(hint('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n'), 5000);
      assert.equal(hint('HTTP/1.1 200 OK\r\nkeep-alive: max=100, Timeout=15\r\nContent-Length: 0\r\n\r\n'), 15000);
      assert.equal(hint('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), -1);
      assert.equal(hint('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=\r\nContent-Length: 0\r\n\r\n'), -1);
    });

    test('identical Content-Length values are one length', () => {
      const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc']);
      assert.equal(r.error, ParseError.None);
      assert.equal(r.body, 'abc');
    });

    test('a status line without a reason phrase is accepted', () => {
      assert.equal(parse(['HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n']).status, 200);
      assert.equal(parse(['HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n']).status, 404);
    });

    test('EOF inside the body or the head is an error, EOF before any byte is not a parse error', () => {
      assert.equal(parse(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel'], { eof: true }).error, ParseError.IncompleteBody);
      assert.equal(parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'], { eof: true }).error, ParseError.IncompleteBody);
      assert.equal(parse(['HTTP/1.1 200 OK\r\nContent-'], { eof: true }).error, ParseError.IncompleteHead);
      assert.equal(parse([], { eof: true }).error, ParseError.None);
    });
  });

  describe(`[${kernel.name}] upstream response parser: refusals (502 with a reason)`, () => {
    const cases: Array<[string, string, ParseError]> = [
      ['CL and TE together', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', ParseError.ContentLengthAndTransferEncoding],
      ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', ParseError.ConflictingContentLength],
      ['conflicting Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!', ParseError.ConflictingContentLength],
      ['non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello', ParseError.BadContentLength],
      ['negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', ParseError.BadContentLength],
      ['overflowing Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n', ParseError.BadContentLength],
      ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', ParseError.BadChunkSize],
      ['empty chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n', ParseError.BadChunkSize],
      ['overflowing chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n', ParseError.ChunkSizeOverflow],
      ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', ParseError.BadChunkFraming],
      ['bare CR in a header', 'HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n', ParseError.BareCR],
      ['bare CR ending a header line', 'HTTP/1.1 200 OK\r\nX-A: b\r\rContent-Length: 0\r\n\r\n', ParseError.BareCR],
      ['bare CR after the status line', 'HTTP/1.1 200 OK\rX-A: b\r\n\r\n', ParseError.BareCR],
      ['bare LF line ending', 'HTTP/1.1 200 OK\r\nX-A: b\nX-B: c\r\n\r\n', ParseError.BareLF],
      ['NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: b\0c\r\nContent-Length: 0\r\n\r\n', ParseError.Nul],
      ['NUL in a name', 'HTTP/1.1 200 OK\r\nX-\0A: b\r\nContent-Length: 0\r\n\r\n', ParseError.Nul],
      ['NUL in a chunk extension', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a\0\r\nx\r\n0\r\n\r\n', ParseError.Nul],
      ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n', ParseError.ObsFold],
      ['obs-fold in trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n', ParseError.ObsFold],
      ['header without a colon', 'HTTP/1.1 200 OK\r\nX-A b\r\nContent-Length: 0\r\n\r\n', ParseError.NoColon],
      ['space before the colon', 'HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 0\r\n\r\n', ParseError.BadHeaderName],
      ['empty header name', 'HTTP/1.1 200 OK\r\n: b\r\nContent-Length: 0\r\n\r\n', ParseError.BadHeaderName],
      ['control character in a value', 'HTTP/1.1 200 OK\r\nX-A: b\x01\r\nContent-Length: 0\r\n\r\n', ParseError.BadHeaderValue],
      ['bad status line', 'HTTP/1.1 2000 OK\r\n\r\n', ParseError.BadStatusLine],
      ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n', ParseError.BadStatusLine],
      ['HTTP/2.0 status line', 'HTTP/2.0 200 OK\r\n\r\n', ParseError.UnsupportedVersion],
      ['status below 100', 'HTTP/1.1 099 Weird\r\n\r\n', ParseError.BadStatusLine],
    ];
    for (const [name, raw, expected] of cases) {
      test(`${name}: ${PARSE_ERROR_REASONS[expected]}`, () => {
        const r = everySplit(raw);
        assert.equal(r.error, expected);
        assert.equal(r.complete, false);
      });
    }

    test('a head over the limit, whole or in pieces', () => {
      const big = 'HTTP/1.1 200 OK\r\n' + 'X-Big: ' + 'a'.repeat(2000) + '\r\nContent-Length: 0\r\n\r\n';
      assert.equal(parse([big], { max: 1024 }).error, ParseError.HeadTooLarge);
      assert.equal(parse([big.slice(0, 100), big.slice(100)], { max: 1024 }).error, ParseError.HeadTooLarge);
      assert.equal(parse([...big], { max: 1024 }).error, ParseError.HeadTooLarge);
      assert.equal(parse([big], { max: 4096 }).error, ParseError.None);
    });

    test('trailers over the limit', () => {
      const raw = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ' + 'b'.repeat(2000) + '\r\n\r\n';
      assert.equal(parse([raw], { max: 1024 }).error, ParseError.TrailersTooLarge);
    });
  });

  describe(`[${kernel.name}] upstream response parser: pause`, () => {
    test('a refused slice holds the rest of the read, the end included, until resume', () => {
      const sink = new Collector();
      const parser = new ResponseParser(sink, 8192, kernel);
      parser.reset(false);
      sink.refuse = 1;
      parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'));
      assert.equal(sink.r.body, 'hello');
      assert.equal(parser.paused, true);
      assert.equal(sink.r.complete, false, 'completed while the client was still writing');
      parser.resume();
      assert.equal(sink.r.complete, true);
      assert.equal(sink.r.extra, false);
    });

    test('chunked: nothing after a refused slice until resume, then the rest in order', () => {
      const sink = new Collector();
      const parser = new ResponseParser(sink, 8192, kernel);
      parser.reset(false);
      sink.refuse = 2;
      parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nEXTRA'));
      assert.equal(sink.r.body, 'abc');
      parser.resume();
      assert.equal(sink.r.body, 'abcdef');
      assert.equal(sink.r.complete, false);
      parser.resume();
      assert.equal(sink.r.complete, true);
      assert.equal(sink.r.extra, true);
    });
  });

  describe(`[${kernel.name}] upstream response parser: reuse`, () => {
    test('one parser reads consecutive responses after reset, keeping no state', () => {
      const sink = new Collector();
      const parser = new ResponseParser(sink, 8192, kernel);
      parser.reset(false);
      parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'));
      assert.equal(sink.r.body, 'abc');
      assert.equal(sink.r.complete, true);
      // A partial head left in the accumulator, then a reset: none of it leaks into the next one.
      parser.reset(false);
      parser.execute(Buffer.from('HTTP/1.1 404 Not'));
      parser.reset(false);
      sink.r.complete = false;
      sink.r.body = '';
      parser.execute(Buffer.from('HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nz'));
      assert.equal(sink.r.status, 202);
      assert.equal(sink.r.body, 'z');
      assert.equal(sink.r.complete, true);
    });
  });
}

suites(jsKernel);
if (nativeKernel !== null) {
  suites(nativeKernel);
} else {
  test('[native] upstream response parser', () => {
    assert.fail(`the native kernel is not available (${nativeKernelUnavailableReason}); build it with \`sh native/build.sh\``);
  });
}
