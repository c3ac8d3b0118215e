/**
 * Parity of the two parser kernels (src/upstream/parser-kernel.ts, TypeScript, and
 * native/src/response_parser.c): the same byte streams, valid, mutated and random, each whole,
 * split in two at every position and one byte at a time, with and without a slow client (paused
 * slices) and EOF, must give the same events in the same order: heads (status, version, every
 * header range, framing), body bytes, completion, the exact refusal, the keep-alive hint.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ResponseParser, type ParserSink } from '../../src/upstream/response-parser';
import { ParseError } from '../../src/upstream/failures';
import type { ResponseHead } from '../../src/upstream/response-head';
import { jsKernel, type ParserKernel } from '../../src/upstream/parser-kernel';
import { nativeKernel, nativeKernelUnavailableReason } from '../../src/upstream/native-kernel';
import { UpstreamEngine } from '../../src/upstream/engine';

/** Records every event as one string, so two runs compare with one deepEqual. */
class Recorder implements ParserSink {
  readonly events: string[] = [];
  /** Refuse every n-th body slice (0: never), like a client whose writes back up. */
  constructor(readonly refuseEvery: number) {}
  #slices = 0;
  onInformational(status: number): void {
    this.events.push(`1xx ${status}`);
  }
  onHead(h: ResponseHead): void {
    const names: string[] = [];
    for (let i = 0; i < h.count; i++) names.push(`${h.name(i).toString('latin1')}=${h.value(i).toString('latin1')}`);
    this.events.push(`head ${h.status} 1.${h.minorVersion} cl=${h.contentLength} chunked=${h.chunked} ka=${h.keepAlive} [${Array.from(h.ranges).join(',')}] ${names.join('|')}`);
  }
  onBody(chunk: Buffer): boolean {
    // Slices may be cut differently by different reads; their bytes, in order, must not.
    const last = this.events.length - 1;
    if (last >= 0 && this.events[last].startsWith('body ')) this.events[last] += chunk.toString('latin1');
    else this.events.push('body ' + chunk.toString('latin1'));
    return this.refuseEvery === 0 || ++this.#slices % this.refuseEvery !== 0;
  }
  onComplete(extra: boolean): void {
    this.events.push(`complete extra=${extra}`);
  }
  onParseError(error: ParseError): void {
    this.events.push(`error ${error}`);
  }
}

interface Run {
  readonly max: number;
  readonly head: boolean;
  readonly eof: boolean;
  readonly refuseEvery: number;
}

function run(kernel: ParserKernel, pieces: readonly Buffer[], o: Run): string[] {
  const sink = new Recorder(o.refuseEvery);
  const p = new ResponseParser(sink, o.max, kernel);
  p.reset(o.head);
  for (const piece of pieces) {
    p.execute(piece);
    while (p.paused) p.resume();
    // A complete response: the connection would reset the parser for the next request.
    if (p.complete) sink.events.push('(complete)');
  }
  if (o.eof) sink.events.push(`eof ${p.eof()}`);
  sink.events.push(`state complete=${p.complete} close=${p.closeDelimited} seen=${p.bytesSeen} ka=${p.keepAlive} hint=${p.keepAliveHintMs} err=${p.lastError}`);
  return sink.events;
}

const native = nativeKernel;

let compared = 0;
function same(stream: Buffer, splits: 'all' | 'some', o: Run, rand: () => number): void {
  const check = (pieces: Buffer[], how: string) => {
    const a = run(jsKernel, pieces, o);
    const b = run(native!, pieces, o);
    compared++;
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      assert.deepEqual(b, a, `native differs from js on ${JSON.stringify(stream.toString('latin1'))} (${how}, ${JSON.stringify(o)})`);
    }
  };
  check([stream], 'whole');
  const n = stream.length;
  if (splits === 'all') {
    for (let at = 1; at < n; at++) check([stream.subarray(0, at), stream.subarray(at)], `split at ${at}`);
    const bytes: Buffer[] = [];
    for (let i = 0; i < n; i++) bytes.push(stream.subarray(i, i + 1));
    check(bytes, 'one byte at a time');
  } else {
    for (let k = 0; k < 3 && n > 1; k++) {
      const at = 1 + Math.floor(rand() * (n - 1));
      check([stream.subarray(0, at), stream.subarray(at)], `split at ${at}`);
    }
  }
}

/** A small seeded PRNG (mulberry32): the same streams every run, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CORPUS = [
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n1 ; a="b c"\r\n!\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n',
  'HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nuntil the end',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nKeep-Alive: timeout=5, max=100\r\n\r\n3\r\nabc\r\n0\r\n\r\nEXTRA',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3, 3\r\n\r\nabcdef',
  'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\nConnection: foo, close\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
  'HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 502\r\nkeep-alive: Timeout=15\r\ncontent-length: 1\r\n\r\nz',
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffff\r\n',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
];

/** Bytes a mutation puts in: every class the parsers branch on. */
const INTERESTING = [0, 9, 10, 13, 32, 44, 58, 59, 0x7f, 0x80, 0xff, 48, 57, 65, 102, 122, 34, 1];

function mutations(base: Buffer, rand: () => number, count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const b = Buffer.from(base);
    const at = Math.floor(rand() * b.length);
    const kind = Math.floor(rand() * 3);
    if (kind === 0) {
      b[at] = INTERESTING[Math.floor(rand() * INTERESTING.length)];
      out.push(b);
    } else if (kind === 1) {
      out.push(Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]));
    } else {
      out.push(Buffer.concat([b.subarray(0, at), Buffer.from([INTERESTING[Math.floor(rand() * INTERESTING.length)]]), b.subarray(at)]));
    }
  }
  return out;
}

/** A random response from a loose grammar: mostly well formed, with random bytes in every part. */
function randomResponse(rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const junk = () => (rand() < 0.15 ? String.fromCharCode(pick(INTERESTING)) : '');
  const parts: string[] = [];
  parts.push(pick(['HTTP/1.1 ', 'HTTP/1.0 ', 'HTTP/1.1 ', 'HTTP/2.0 ', 'HTTP/1.1  ', 'http/1.1 ']));
  parts.push(pick(['200', '204', '304', '100', '103', '101', '404', '099', '600', '2x0']) + junk());
  parts.push(pick([' OK', '', ' ', ' Reason Phrase', ' \u00e9t\u00e9']) + junk() + pick(['\r\n', '\r\n', '\n', '\r']));
  const headers = Math.floor(rand() * 5);
  let chunked = false;
  for (let h = 0; h < headers; h++) {
    const name = pick(['Content-Length', 'Transfer-Encoding', 'Connection', 'Keep-Alive', 'X-A', 'content-length', 'TRANSFER-ENCODING', 'X B', '']);
    let value: string;
    if (/content-length/i.test(name)) value = pick(['5', '0', '5, 5', '5, 6', '-1', '12345678901234567', ' 3 ', '']);
    else if (/transfer-encoding/i.test(name)) {
      value = pick(['chunked', 'gzip, chunked', 'chunked, gzip', ' Chunked ']);
      chunked = true;
    } else if (/^connection$/i.test(name)) value = pick(['close', 'keep-alive', 'Keep-Alive, Upgrade', 'foo,close']);
    else if (/keep-alive/i.test(name)) value = pick(['timeout=5', 'max=1, timeout=30', 'timeout=', 'xtimeout=9']);
    else value = pick(['v', 'a b', '\t x\t', '']);
    parts.push(name + junk() + pick([':', ': ', ' :', ':\t']) + value + junk() + pick(['\r\n', '\r\n', '\r\n', '\n']));
  }
  parts.push(pick(['\r\n', '\r\n', '\n', ' \r\n']));
  if (chunked) {
    const chunks = Math.floor(rand() * 3);
    for (let c = 0; c < chunks; c++) {
      const data = 'x'.repeat(1 + Math.floor(rand() * 6));
      parts.push(data.length.toString(16) + pick(['', ';e=1', ' ;e', '\t']) + junk() + '\r\n' + data + junk() + '\r\n');
    }
    parts.push('0\r\n' + pick(['', 'T: 1\r\n', ' T: 1\r\n', 'T 1\r\n']) + junk() + '\r\n');
  } else {
    parts.push('hello world'.slice(0, Math.floor(rand() * 12)));
  }
  return Buffer.from(parts.join(''), 'latin1');
}

describe('parser kernels: native and js give identical results', () => {
  test('the native kernel is built', () => {
    assert.notEqual(native, null, `the native kernel is not available (${nativeKernelUnavailableReason}); build it with \`sh native/build.sh\``);
  });
  if (native === null) return;

  const modes: Run[] = [
    { max: 8192, head: false, eof: false, refuseEvery: 0 },
    { max: 8192, head: false, eof: true, refuseEvery: 2 },
    { max: 40, head: false, eof: true, refuseEvery: 0 },
    { max: 8192, head: true, eof: true, refuseEvery: 1 },
  ];

  test('the corpus, split at every position and one byte at a time, in every mode', () => {
    const rand = prng(1);
    for (const raw of CORPUS) for (const o of modes) same(Buffer.from(raw, 'latin1'), 'all', o, rand);
  });

  test('mutated corpus (a byte replaced, deleted or inserted): 120 per message split everywhere, 600 more split at random', () => {
    const rand = prng(2);
    for (const raw of CORPUS) {
      const base = Buffer.from(raw, 'latin1');
      for (const m of mutations(base, rand, 120)) same(m, 'all', modes[Math.floor(rand() * modes.length)], rand);
      for (const m of mutations(base, rand, 600)) same(m, 'some', modes[Math.floor(rand() * modes.length)], rand);
    }
  });

  test('random responses from a loose grammar: 3000, split everywhere', () => {
    const rand = prng(3);
    const errors = new Set<string>();
    for (let k = 0; k < 3000; k++) {
      const r = randomResponse(rand);
      const o = modes[k % modes.length];
      same(r, 'all', o, rand);
      const last = run(jsKernel, [r], o).find((e) => e.startsWith('error '));
      if (last !== undefined) errors.add(last);
    }
    // The generator reaches refusals as well as successes, or the comparison proves little.
    assert.ok(errors.size >= 8, `only ${errors.size} distinct refusals reached: ${[...errors].join(', ')}`);
  });

  test('a head with more headers than the first ranges array holds', () => {
    const many = 'HTTP/1.1 200 OK\r\n' + Array.from({ length: 150 }, (_, i) => `X-H${i}: v${i}\r\n`).join('') + 'Content-Length: 2\r\n\r\nok';
    same(Buffer.from(many, 'latin1'), 'some', modes[0], prng(4));
    const events = run(native, [Buffer.from(many, 'latin1')], modes[0]);
    assert.match(events[0], /^head 200 1\.1 cl=2 /);
    assert.ok(events[0].includes('X-H149=v149'));
  });

  test('enough was compared', () => {
    assert.ok(compared > 100_000, `only ${compared} comparisons`);
  });
});

describe('engine selection', () => {
  test('--upstream-engine native without the addon runs the js kernel and says why', () => {
    const engineModule = path.resolve(__dirname, '../../src/upstream/engine.js');
    const script = `const { UpstreamEngine } = require(${JSON.stringify(engineModule)});
const e = new UpstreamEngine({ upstreamConnections: 0, upstreamKeepAliveMs: 1000, upstreamEngine: 'native' });
process.stdout.write(JSON.stringify({ kernel: e.kernel.name, reason: e.kernelFallbackReason }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, FLOODGATE_DISABLE_NATIVE: '1' } }).toString());
    assert.equal(out.kernel, 'js');
    assert.match(out.reason, /^--upstream-engine native: native addon disabled by FLOODGATE_DISABLE_NATIVE=1; using the js engine$/);
  });

  test('with the addon, native and js engines use their own kernels', () => {
    const n = new UpstreamEngine({ upstreamConnections: 0, upstreamKeepAliveMs: 1000, upstreamEngine: 'native' });
    assert.equal(n.kernel.name, 'native', nativeKernelUnavailableReason);
    assert.equal(n.kernelFallbackReason, '');
    const j = new UpstreamEngine({ upstreamConnections: 0, upstreamKeepAliveMs: 1000, upstreamEngine: 'js' });
    assert.equal(j.kernel.name, 'js');
    const d = new UpstreamEngine({ upstreamConnections: 0, upstreamKeepAliveMs: 1000 });
    assert.equal(d.kernel.name, 'js', 'js is the default');
  });
});
