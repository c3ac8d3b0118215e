/**
 * The HTTP/1.1 conformance corpus: one case per RFC 9112 rule and per request-smuggling family
 * from the published research (CL.TE, TE.CL, TE.TE obfuscation, chunk-size and chunk-extension
 * desyncs, trailer desyncs, header-name and value tricks, target and Host tricks). Written for
 * this project from the RFCs and the families' descriptions; no case is copied from a test suite.
 *
 * Each case is raw bytes (latin1: one char = one byte) and what Floodgate must do with them:
 * the statuses of its answers in order, whether the connection is closed after them, how many
 * requests the recording upstream gets, and what those requests hold. A request hidden by a
 * smuggling attempt always targets /smuggled, so the harness can tell when one got through.
 *
 * `uws` names a file in uws-issues/ when the expected behaviour is uWS's own and is wrong or
 * weaker than it should be; those cases assert what happens today, so a fixed uWS shows up as a
 * failing case to update.
 */
import type { Exchange, RecordedRequest } from './harness';

export interface Expectation {
  /** Status of each answer, in order; an array entry lists the statuses accepted there. */
  readonly statuses: ReadonlyArray<number | readonly number[]>;
  /** Closed by the server after the last answer (an answer then carries `Connection: close`). */
  readonly close: boolean;
  /** How many requests reached the upstream: a number, or [min, max] where timing decides. */
  readonly upstream: number | readonly [number, number];
  /** A further check of what the upstream got; returns what is wrong, or null. */
  readonly check?: (up: readonly RecordedRequest[], x: Exchange) => string | null;
}

export interface Case {
  readonly id: string;
  /** The RFC rule or smuggling family the case exercises. */
  readonly family: string;
  /**
   * The bytes: one write, or several. A later part is written after the answer to the earlier
   * ones (or the close), unless `partsBeforeAnswer`: then 50 ms after the previous part.
   */
  readonly send: string | readonly string[];
  /** The parts of `send` are pieces of one request: write them without waiting for an answer. */
  readonly partsBeforeAnswer?: boolean;
  readonly expect: Expectation;
  /** uws-issues/<file> when uWS's behaviour decides the outcome and should change. */
  readonly uws?: string;
  /** Longest wait for the answer (ms); hangs are judged against it. */
  readonly waitMs?: number;
}

const CRLF = '\r\n';
const HOST = 'Host: example.test';

/** A request head from its lines, then the body. */
export function raw(lines: readonly string[], body = ''): string {
  return lines.join(CRLF) + CRLF + CRLF + body;
}
const get = (target = '/', ...extra: string[]) => raw([`GET ${target} HTTP/1.1`, HOST, ...extra]);
const post = (extra: readonly string[], body: string) => raw(['POST /upload HTTP/1.1', HOST, ...extra], body);
const SMUGGLED = raw(['GET /smuggled HTTP/1.1', HOST]);
const SMUGGLED_LAST = raw(['GET /smuggled HTTP/1.1', HOST, 'Connection: close']);

// ---------------------------------------------------------------- expectations

/** Answered and forwarded once; the connection stays open (keep-alive). */
const forwarded = (check?: Expectation['check']): Expectation => ({ statuses: [200], close: false, upstream: 1, check });
/**
 * Forwarded once, then the connection closed: the answer to a chunked request (RequestContext
 * closes after it, since uWS does not check the CRLF that ends the last chunk).
 */
const forwardedThenClosed = (check?: Expectation['check']): Expectation => ({ statuses: [200], close: true, upstream: 1, check });
/** Refused with `status` (or one of them), connection closed, nothing forwarded. */
const refused = (status: number | readonly number[] = 400): Expectation => ({ statuses: [status], close: true, upstream: 0 });
/** uWS answered 400/505 on its own and closed: nothing reached our handler or the upstream. */
const uwsRefused = (status: number | readonly number[] = [400, 505]): Expectation => refused(status);

// ---------------------------------------------------------------- checks on the upstream side

function header(req: RecordedRequest | undefined, name: string): string | undefined {
  return req?.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}
const target = (want: string) => (up: readonly RecordedRequest[]) => (up[0]?.target === want ? null : `upstream target ${up[0]?.target} != ${want}`);
const body = (want: string) => (up: readonly RecordedRequest[]) =>
  up[0]?.body.toString('latin1') === want ? null : `upstream body ${JSON.stringify(up[0]?.body.toString('latin1'))} != ${JSON.stringify(want)}`;
const headerIs = (name: string, want: string | undefined) => (up: readonly RecordedRequest[]) => {
  const got = header(up[0], name);
  return got === want ? null : `upstream ${name}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`;
};
const all =
  (...checks: Array<(up: readonly RecordedRequest[], x: Exchange) => string | null>) =>
  (up: readonly RecordedRequest[], x: Exchange) => {
    for (const c of checks) {
      const r = c(up, x);
      if (r !== null) return r;
    }
    return null;
  };

// ---------------------------------------------------------------- the corpus

export const CASES: readonly Case[] = [
  // ---- baselines: the harness itself and keep-alive
  { id: 'baseline-get', family: 'RFC 9112 §3', send: get('/a?b=c'), expect: forwarded(target('/a?b=c')) },
  { id: 'baseline-post-content-length', family: 'RFC 9112 §6.2', send: post(['Content-Length: 5'], 'hello'), expect: forwarded(body('hello')) },
  {
    id: 'baseline-post-chunked',
    family: 'RFC 9112 §7.1',
    send: post(['Transfer-Encoding: chunked'], '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'),
    expect: forwardedThenClosed(body('hello world')),
  },
  {
    id: 'chunked-body-in-parts',
    family: 'RFC 9112 §7.1',
    send: [post(['Transfer-Encoding: chunked'], '5\r\nhel'), 'lo\r\n0\r\n\r\n'],
    partsBeforeAnswer: true,
    expect: forwardedThenClosed(body('hello')),
  },
  {
    id: 'two-requests-two-writes',
    family: 'RFC 9112 §9.3 persistence',
    send: [get('/1'), get('/2', 'Connection: close')],
    expect: { statuses: [200, 200], close: true, upstream: 2 },
  },
  {
    id: 'content-length-huge-streams',
    family: 'RFC 9112 §6.2 (Content-Length >= 1e9)',
    send: post(['Content-Length: 1000000000'], 'first bytes'),
    expect: {
      statuses: [],
      close: false,
      upstream: 1,
      check: (up) =>
        header(up[0], 'content-length') === '1000000000' && up[0].body.toString('latin1') === 'first bytes' && !up[0].complete
          ? null
          : 'the upstream did not get the head and the first bytes of a 1e9-byte upload',
    },
    waitMs: 700,
  },

  // ---- RFC 9112 §2.2: line endings and leading empty lines
  { id: 'bare-lf-line-endings', family: 'RFC 9112 §2.2 bare LF', send: 'GET / HTTP/1.1\nHost: example.test\n\n', expect: uwsRefused() },
  {
    id: 'bare-cr-in-target',
    family: 'RFC 9112 §2.2 bare CR',
    send: 'GET /\r HTTP/1.1\r\nHost: example.test\r\n\r\n',
    // uWS waits (until its 10 s timeout) instead of refusing; nothing reaches our handler.
    expect: { statuses: [], close: false, upstream: 0 },
    uws: 'bare-cr-hangs.js',
    waitMs: 600,
  },
  { id: 'bare-cr-after-request-line', family: 'RFC 9112 §2.2 bare CR', send: 'GET / HTTP/1.1\rHost: example.test\r\n\r\n', expect: uwsRefused() },
  {
    id: 'bare-cr-in-header-value',
    family: 'RFC 9112 §2.2 bare CR',
    send: get('/', 'X-A: a\rb'),
    expect: { statuses: [], close: false, upstream: 0 },
    uws: 'bare-cr-hangs.js',
    waitMs: 600,
  },
  {
    id: 'leading-crlf',
    family: 'RFC 9112 §2.2 leading empty line',
    send: '\r\n' + get('/'),
    // RFC 9112 says a server SHOULD skip it; uWS neither skips nor answers: the client waits for
    // uWS's 10 s timeout. Nothing reaches our handler.
    expect: { statuses: [], close: false, upstream: 0 },
    uws: 'leading-crlf-hangs.js',
    waitMs: 600,
  },

  // ---- RFC 9112 §3: request line
  { id: 'http-1.0-without-host', family: 'RFC 9112 §2.3 HTTP/1.0', send: 'GET / HTTP/1.0\r\n\r\n', expect: uwsRefused(505), uws: 'http10-505.js' },
  { id: 'http-1.0-with-host', family: 'RFC 9112 §2.3 HTTP/1.0', send: 'GET / HTTP/1.0\r\nHost: example.test\r\n\r\n', expect: uwsRefused(505), uws: 'http10-505.js' },
  {
    id: 'http-1.0-keep-alive',
    family: 'RFC 9112 §9.3 HTTP/1.0 keep-alive',
    send: 'GET / HTTP/1.0\r\nHost: example.test\r\nConnection: keep-alive\r\n\r\n',
    expect: uwsRefused(505),
    uws: 'http10-505.js',
  },
  { id: 'http-0.9', family: 'RFC 9112 §2.3 HTTP/0.9', send: 'GET /\r\n', expect: uwsRefused(), waitMs: 600 },
  { id: 'http-1.2', family: 'RFC 9112 §2.3 unknown minor version', send: 'GET / HTTP/1.2\r\nHost: example.test\r\n\r\n', expect: uwsRefused() },
  { id: 'http-2.0-in-http1', family: 'RFC 9112 §2.3 major version', send: 'GET / HTTP/2.0\r\nHost: example.test\r\n\r\n', expect: uwsRefused() },
  { id: 'version-lower-case', family: 'RFC 9112 §2.3 HTTP-name is case-sensitive', send: 'GET / http/1.1\r\nHost: example.test\r\n\r\n', expect: uwsRefused() },
  { id: 'two-spaces-after-method', family: 'RFC 9112 §3 single SP', send: 'GET  / HTTP/1.1\r\nHost: example.test\r\n\r\n', expect: uwsRefused() },
  { id: 'tab-in-request-line', family: 'RFC 9112 §3 single SP', send: 'GET\t/ HTTP/1.1\r\nHost: example.test\r\n\r\n', expect: uwsRefused() },
  { id: 'method-with-colon', family: 'RFC 9110 §9.1 method is a token', send: raw(['GET: / HTTP/1.1', HOST]), expect: refused(400) },
  { id: 'method-with-slash', family: 'RFC 9110 §9.1 method is a token', send: raw(['G/ET / HTTP/1.1', HOST]), expect: refused(400) },
  { id: 'absolute-form', family: 'RFC 9112 §3.2.2 absolute-form', send: raw(['GET http://example.test/a HTTP/1.1', HOST]), expect: uwsRefused() },
  { id: 'asterisk-form', family: 'RFC 9112 §3.2.4 asterisk-form', send: raw(['OPTIONS * HTTP/1.1', HOST]), expect: uwsRefused() },
  { id: 'authority-form-connect', family: 'RFC 9112 §3.2.3 authority-form', send: raw(['CONNECT example.test:443 HTTP/1.1', HOST]), expect: uwsRefused([400, 405, 505]) },

  // ---- request target bytes (RFC 9112 §3.2, RFC 3986)
  { id: 'del-in-path', family: 'RFC 3986 no CTL/DEL in target', send: get('/a\x7fb'), expect: refused(400) },
  { id: 'del-in-query', family: 'RFC 3986 no CTL/DEL in target', send: get('/a?b=\x7f'), expect: refused(400) },
  { id: 'control-byte-in-path', family: 'RFC 3986 no CTL in target', send: get('/a\x01b'), expect: refused([400, 505]) },
  { id: 'control-byte-in-query', family: 'RFC 3986 no CTL in target', send: get('/a?b=\x01'), expect: refused([400, 505]) },
  { id: 'nul-in-target', family: 'RFC 3986 no NUL in target', send: get('/a\x00b'), expect: refused([400, 505]) },
  { id: 'dot-dot-above-root', family: 'RFC 3986 §5.2.4 dot segments', send: get('/../etc/passwd'), expect: refused(400) },
  { id: 'dot-dot-nested-above-root', family: 'RFC 3986 §5.2.4 dot segments', send: get('/a/../../etc/passwd'), expect: refused(400) },
  { id: 'encoded-dot-dot-above-root', family: 'RFC 3986 §5.2.4 encoded dot segments', send: get('/%2e%2e/etc/passwd'), expect: refused(400) },
  { id: 'mixed-encoded-dot-dot-above-root', family: 'RFC 3986 §5.2.4 encoded dot segments', send: get('/a/.%2E/%2e./x'), expect: refused(400) },
  { id: 'dot-dot-inside-root-normalized', family: 'RFC 3986 §5.2.4 dot segments', send: get('/a/b/../c'), expect: forwarded(target('/a/c')) },
  { id: 'encoded-nul-in-path', family: '%00 in path', send: get('/a%00.txt'), expect: refused(400) },
  { id: 'bad-percent-encoding', family: 'RFC 3986 §2.1 pct-encoded', send: get('/a%zz'), expect: refused(400) },
  {
    id: 'utf8-bytes-in-path-encoded',
    family: 'RFC 3986 §2.1 non-ASCII in target',
    send: get('/caf\xc3\xa9/\xe5\x90\x8d'),
    // The target is percent-encoded; X-Forwarded-Path carries the path's own UTF-8 bytes.
    expect: forwarded(all(target('/caf%C3%A9/%E5%90%8D'), headerIs('x-forwarded-path', '/caf\xc3\xa9/\xe5\x90\x8d'))),
  },
  { id: 'latin1-byte-in-path', family: 'RFC 3986 §2.1 non-ASCII in target', send: get('/caf\xe9'), expect: refused(400) },
  { id: 'target-without-leading-slash', family: 'RFC 9112 §3.2.1 origin-form', send: raw(['GET a/b HTTP/1.1', HOST]), expect: refused([400, 505]) },

  // ---- header fields (RFC 9112 §5, RFC 9110 §5)
  { id: 'space-before-colon', family: 'RFC 9112 §5.1 whitespace before colon', send: get('/', 'X-A : 1'), expect: uwsRefused(400) },
  {
    id: 'space-before-colon-transfer-encoding',
    family: 'TE.CL via whitespace before colon',
    send: [post(['Content-Length: 5', 'Transfer-Encoding : chunked'], '0\r\n\r\n'), SMUGGLED],
    expect: uwsRefused(400),
  },
  { id: 'obs-fold', family: 'RFC 9112 §5.2 obs-fold', send: get('/', 'X-A: 1', ' 2'), expect: uwsRefused(400) },
  { id: 'obs-fold-transfer-encoding', family: 'TE.TE via obs-fold', send: [post(['Transfer-Encoding:', ' chunked', 'Content-Length: 5'], '0\r\n\r\n'), SMUGGLED], expect: uwsRefused(400) },
  { id: 'leading-whitespace-first-field', family: 'RFC 9112 §2.2 whitespace after start line', send: raw(['GET / HTTP/1.1', ' Host: example.test']), expect: uwsRefused(400) },
  { id: 'field-without-colon', family: 'RFC 9112 §5 field-line', send: get('/', 'X-A'), expect: uwsRefused(400) },
  { id: 'field-name-bad-char', family: 'RFC 9110 §5.1 field-name is a token', send: get('/', 'X(A): 1'), expect: uwsRefused(400) },
  {
    id: 'field-name-empty',
    family: 'RFC 9110 §5.1 field-name is a token',
    send: get('/', ': hidden', 'X-After: 1'),
    // uWS accepts an empty name and stops listing fields at it: later fields are invisible to us.
    expect: forwarded(headerIs('x-after', undefined)),
    uws: 'empty-field-name.js',
  },
  { id: 'field-name-underscore', family: 'RFC 9110 §5.1 `_` is a tchar', send: get('/', 'X_Custom_Header: yes'), expect: forwarded(headerIs('x_custom_header', 'yes')) },
  { id: 'field-value-nul', family: 'RFC 9110 §5.5 no NUL in field value', send: get('/', 'X-A: a\x00b'), expect: uwsRefused(400) },
  { id: 'field-value-control', family: 'RFC 9110 §5.5 no CTL in field value', send: get('/', 'X-A: a\x01b'), expect: uwsRefused(400) },
  { id: 'field-value-del', family: 'RFC 9110 §5.5 no DEL in field value', send: get('/', 'X-A: a\x7fb'), expect: refused(400) },
  {
    id: 'field-value-utf8-passes-byte-for-byte',
    family: 'RFC 9110 §5.5 obs-text',
    send: get('/', 'X-Name: caf\xc3\xa9 cr\xc3\xa8me'),
    expect: forwarded(headerIs('x-name', 'caf\xc3\xa9 cr\xc3\xa8me')),
  },
  {
    id: 'field-value-utf8-at-end',
    family: 'RFC 9110 §5.5 obs-text',
    send: get('/', 'X-Name: caf\xc3\xa9'),
    // uWS trims bytes >= 0x80 at either end of a value as if they were whitespace (signed char).
    expect: forwarded(headerIs('x-name', 'caf')),
    uws: 'high-bytes-trimmed.js',
  },
  { id: 'field-value-latin1-byte', family: 'RFC 9110 §5.5 obs-text', send: get('/', 'X-Name: caf\xe9 au lait'), expect: refused(400) },
  {
    id: 'hop-by-hop-named-in-connection',
    family: 'RFC 9110 §7.6.1 Connection options',
    send: get('/', 'Connection: keep-alive, X-Hop', 'X-Hop: secret'),
    expect: forwarded(headerIs('x-hop', undefined)),
  },

  // ---- Host (RFC 9112 §3.2, RFC 9110 §7.2)
  { id: 'host-missing', family: 'RFC 9112 §3.2 Host required', send: 'GET / HTTP/1.1\r\n\r\n', expect: uwsRefused(400) },
  { id: 'host-duplicate', family: 'RFC 9112 §3.2 exactly one Host', send: raw(['GET / HTTP/1.1', HOST, 'Host: other.test']), expect: uwsRefused(400) },
  { id: 'host-empty', family: 'RFC 9112 §3.2 Host', send: raw(['GET / HTTP/1.1', 'Host: ']), expect: refused(400) },
  { id: 'host-userinfo', family: 'RFC 9110 §7.2 no userinfo', send: raw(['GET / HTTP/1.1', 'Host: user:pw@example.test']), expect: refused(400) },
  { id: 'host-angle-brackets', family: 'RFC 3986 §3.2.2 reg-name', send: raw(['GET / HTTP/1.1', 'Host: <script>.test']), expect: refused(400) },
  { id: 'host-with-path', family: 'RFC 3986 §3.2.2 authority', send: raw(['GET / HTTP/1.1', 'Host: example.test/evil']), expect: refused(400) },
  { id: 'host-port-too-big', family: 'RFC 3986 §3.2.3 port', send: raw(['GET / HTTP/1.1', 'Host: example.test:99999']), expect: refused(400) },
  { id: 'host-port-not-digits', family: 'RFC 3986 §3.2.3 port', send: raw(['GET / HTTP/1.1', 'Host: example.test:8o']), expect: refused(400) },
  { id: 'host-with-space', family: 'RFC 3986 §3.2.2 reg-name', send: raw(['GET / HTTP/1.1', 'Host: example test']), expect: refused(400) },
  {
    id: 'host-valid-with-port',
    family: 'RFC 9110 §7.2',
    send: raw(['GET / HTTP/1.1', 'Host: Example.TEST:8080']),
    expect: forwarded(headerIs('x-forwarded-host', 'example.test')),
  },
  {
    id: 'host-ipv6-literal',
    family: 'RFC 3986 §3.2.2 IP-literal',
    send: raw(['GET / HTTP/1.1', 'Host: [::1]:8080']),
    expect: forwarded(headerIs('x-forwarded-host', '[::1]')),
  },

  // ---- Content-Length (RFC 9112 §6.3, RFC 9110 §8.6)
  { id: 'cl-conflicting-duplicate', family: 'duplicate conflicting Content-Length', send: [post(['Content-Length: 3', 'Content-Length: 5'], 'abcde'), SMUGGLED], expect: refused(400) },
  {
    id: 'cl-conflicting-duplicate-same-write',
    family: 'duplicate conflicting Content-Length, hidden request in the same read',
    send: post(['Content-Length: 3', 'Content-Length: 5'], 'abcde' + SMUGGLED),
    // uWS serves a request that follows a response ended with `close` in the same read, so our 400
    // waits for the next loop turn; uWS then sees a request while ours is pending and closes
    // without a byte. Nothing is forwarded; the client gets no 400.
    expect: { statuses: [], close: true, upstream: 0 },
    uws: 'close-ignored-when-pipelined.js',
  },
  { id: 'cl-equal-duplicate', family: 'duplicate equal Content-Length', send: [post(['Content-Length: 5', 'Content-Length: 5'], 'hello'), SMUGGLED], expect: refused(400) },
  { id: 'cl-list', family: 'Content-Length list', send: [post(['Content-Length: 5, 5'], 'hello'), SMUGGLED], expect: uwsRefused(400) },
  { id: 'cl-plus-sign', family: 'Content-Length with sign', send: [post(['Content-Length: +5'], 'hello'), SMUGGLED], expect: uwsRefused(400) },
  { id: 'cl-minus-sign', family: 'Content-Length with sign', send: [post(['Content-Length: -1'], 'hello'), SMUGGLED], expect: uwsRefused(400) },
  { id: 'cl-hex', family: 'Content-Length in hex', send: [post(['Content-Length: 0x5'], 'hello'), SMUGGLED], expect: uwsRefused(400) },
  { id: 'cl-inner-space', family: 'Content-Length with space', send: [post(['Content-Length: 1 5'], 'hello'), SMUGGLED], expect: uwsRefused(400) },
  { id: 'cl-empty', family: 'Content-Length empty', send: [post(['Content-Length: '], 'hello'), SMUGGLED], expect: refused(400) },
  { id: 'cl-20-digits', family: 'Content-Length overflow', send: [post(['Content-Length: 18446744073709551621'], 'hello'), SMUGGLED], expect: uwsRefused(400) },
  { id: 'cl-leading-zeros', family: 'Content-Length leading zeros (valid 1*DIGIT)', send: post(['Content-Length: 005'], 'hello'), expect: forwarded(body('hello')) },
  { id: 'cl-ows-around', family: 'RFC 9110 §5.5 OWS around value', send: post(['Content-Length:  5 '], 'hello'), expect: forwarded(body('hello')) },

  // ---- Transfer-Encoding (RFC 9112 §6.1): CL.TE, TE.CL, TE.TE
  { id: 'cl-te', family: 'CL.TE', send: [post(['Content-Length: 6', 'Transfer-Encoding: chunked'], '0\r\n\r\nX'), SMUGGLED], expect: refused(400) },
  { id: 'te-cl', family: 'TE.CL', send: post(['Transfer-Encoding: chunked', 'Content-Length: 4'], '5c\r\n' + SMUGGLED + '\r\n0\r\n\r\n'), expect: refused(400) },
  { id: 'te-xchunked', family: 'TE.TE obfuscation: unknown coding', send: [post(['Transfer-Encoding: xchunked'], '0\r\n\r\n'), SMUGGLED], expect: refused([400, 501]) },
  {
    id: 'te-xchunked-same-write',
    family: 'TE.TE obfuscation, hidden request in the same read',
    send: post(['Transfer-Encoding: xchunked'], '0\r\n\r\n' + SMUGGLED),
    expect: { statuses: [], close: true, upstream: 0 },
    uws: 'close-ignored-when-pipelined.js',
  },
  { id: 'te-chunked-identity', family: 'TE.TE obfuscation: list', send: [post(['Transfer-Encoding: chunked, identity'], '0\r\n\r\n'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-gzip-chunked', family: 'RFC 9112 §6.1 coding list', send: [post(['Transfer-Encoding: gzip, chunked'], '0\r\n\r\n'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-identity', family: 'TE.TE obfuscation: identity', send: [post(['Transfer-Encoding: identity'], 'hello'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-gzip', family: 'RFC 9112 §6.1 unknown coding', send: [post(['Transfer-Encoding: gzip'], 'hello'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-quoted', family: 'TE.TE obfuscation: quoted', send: [post(['Transfer-Encoding: "chunked"'], '0\r\n\r\n'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-twice', family: 'TE.TE obfuscation: field twice', send: [post(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], '0\r\n\r\n'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-empty-with-cl', family: 'TE.CL obfuscation: empty coding', send: [post(['Transfer-Encoding: ', 'Content-Length: 5'], 'hello'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-vertical-tab', family: 'TE.TE obfuscation: control byte', send: [post(['Transfer-Encoding: \x0bchunked'], '0\r\n\r\n'), SMUGGLED], expect: refused([400, 501]) },
  { id: 'te-case-chunked', family: 'RFC 9112 §7 coding names are case-insensitive', send: post(['Transfer-Encoding: Chunked'], '5\r\nhello\r\n0\r\n\r\n'), expect: forwardedThenClosed(body('hello')) },
  {
    id: 'te-underscore-name-is-not-te',
    family: 'TE.CL obfuscation: `_` in name',
    send: post(['Transfer_Encoding: chunked', 'Content-Length: 5'], 'hello'),
    // Not a Transfer-Encoding here; not forwarded either, since a CGI-style upstream would read it as one.
    expect: forwarded(all(body('hello'), headerIs('transfer_encoding', undefined))),
  },
  {
    id: 'forwarded-for-underscore-spoof',
    family: 'header spoofing via `_` in name',
    send: get('/', 'X_Forwarded_For: 6.6.6.6'),
    expect: forwarded(all(headerIs('x_forwarded_for', undefined), headerIs('x-forwarded-for', '127.0.0.1'))),
  },

  // ---- chunked body (RFC 9112 §7.1)
  { id: 'chunk-size-overflow', family: 'chunk-size overflow', send: [post(['Transfer-Encoding: chunked'], 'FFFFFFFFFFFFFFFFF5\r\nhello\r\n0\r\n\r\n'), SMUGGLED], expect: refused(400) },
  {
    id: 'chunk-size-invalid-hex',
    family: 'chunk-size not hex (request swallowing)',
    send: post(['Transfer-Encoding: chunked'], '5g\r\nhello\r\n0\r\n\r\n' + SMUGGLED),
    // uWS reads `5g` as a size (0x5g = 96) and swallows what follows as body, waiting for more.
    // Small chunked bodies are held until complete, so none of it reaches the upstream.
    expect: { statuses: [], close: false, upstream: 0 },
    uws: 'chunk-size-not-validated.js',
    waitMs: 600,
  },
  { id: 'chunk-size-0x-prefix', family: 'chunk-size not hex', send: [post(['Transfer-Encoding: chunked'], '0x5\r\nhello\r\n0\r\n\r\n'), SMUGGLED], expect: refused(400) },
  { id: 'chunk-size-negative', family: 'chunk-size sign', send: [post(['Transfer-Encoding: chunked'], '-5\r\nhello\r\n0\r\n\r\n'), SMUGGLED], expect: refused(400) },
  { id: 'chunk-size-leading-zeros', family: 'RFC 9112 §7.1 1*HEXDIG', send: post(['Transfer-Encoding: chunked'], '0005\r\nhello\r\n0\r\n\r\n'), expect: forwardedThenClosed(body('hello')) },
  {
    id: 'chunk-extension',
    family: 'RFC 9112 §7.1.1 chunk extensions',
    send: post(['Transfer-Encoding: chunked'], '5;name=value\r\nhello\r\n0\r\n\r\n'),
    // RFC 9112: a recipient MUST ignore unknown extensions; uWS refuses them. Safe, not conformant.
    expect: refused(400),
    uws: 'chunk-extension-refused.js',
  },
  {
    id: 'chunk-extension-quoted-crlf',
    family: 'chunk extension desync',
    send: post(['Transfer-Encoding: chunked'], '5;a="\r\n0\r\n\r\n' + SMUGGLED + '"\r\nhello\r\n0\r\n\r\n'),
    expect: refused(400),
  },
  {
    id: 'chunk-extension-bare-lf',
    family: 'chunk extension desync (bare LF)',
    send: post(['Transfer-Encoding: chunked'], '5;a\nb\r\nhello\r\n0\r\n\r\n' + SMUGGLED),
    // uWS takes `5;a\n` as the size line and `b\r\nhello...` as data: the rest is swallowed.
    expect: { statuses: [], close: false, upstream: 0 },
    uws: 'chunk-size-not-validated.js',
    waitMs: 600,
  },
  {
    id: 'chunk-data-too-long',
    family: 'chunk data longer than its size',
    send: [post(['Transfer-Encoding: chunked'], '3\r\nhello\r\n0\r\n\r\n'), SMUGGLED],
    // uWS skips the 2 bytes after a chunk's data (`lo`) without checking they are CRLF and ends
    // the body at `\r\n0\r\n`: the body forwarded is `hel`. The connection is closed after the
    // answer, so the hidden request that follows is never read.
    expect: forwardedThenClosed(body('hel')),
    uws: 'chunk-crlf-not-checked.js',
  },
  {
    id: 'chunk-lf-line-endings',
    family: 'RFC 9112 §7.1 chunk lines end in CRLF',
    send: post(['Transfer-Encoding: chunked', 'Connection: close'], '5\nhello\n0\n\n'),
    expect: { statuses: [200], close: true, upstream: 1, check: body('hello') },
    uws: 'chunk-crlf-not-checked.js',
  },
  {
    id: 'last-chunk-then-request-without-crlf',
    family: 'TE desync: missing CRLF after last chunk',
    send: post(['Transfer-Encoding: chunked'], '0\r\nXX' + SMUGGLED),
    // uWS ends the body at `0\r\n`, skips 2 bytes unchecked and reads the rest as a request while
    // ours is pending; it then closes (no async pipelining). Deferring the dispatch of chunked
    // requests to the next loop turn means nothing is forwarded.
    expect: { statuses: [], close: true, upstream: 0 },
    uws: 'chunk-crlf-not-checked.js',
  },
  {
    id: 'last-chunk-then-request-without-crlf-later',
    family: 'TE desync: missing CRLF after last chunk, hidden request in a later packet',
    send: [post(['Transfer-Encoding: chunked'], '0\r\nXX'), SMUGGLED],
    // The hidden request arrives after ours was answered: it would be read as a new request, so
    // the connection is closed after any response to a chunked request.
    expect: { statuses: [200], close: true, upstream: 1, check: target('/upload') },
    uws: 'chunk-crlf-not-checked.js',
  },
  {
    id: 'trailer-section',
    family: 'RFC 9112 §7.1.2 trailer section',
    send: post(['Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n'),
    // uWS reads the trailer line as the next request line: 505/400 and a close. Nothing forwarded.
    expect: { statuses: [[400, 505]], close: true, upstream: 0 },
    uws: 'trailers-read-as-request.js',
  },
  {
    id: 'trailer-section-late',
    family: 'RFC 9112 §7.1.2 trailer section in a later packet',
    send: [post(['Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n'), 'X-Trailer: 1\r\n\r\n'],
    // The body is complete for uWS at `0\r\n`, so the request is forwarded before the trailer
    // arrives; the connection is closed after the answer, so the trailer is never read as a request.
    expect: forwardedThenClosed(body('hello')),
    uws: 'trailers-read-as-request.js',
  },
  {
    id: 'trailer-hides-request',
    family: 'TE desync: request in the trailer section',
    send: post(['Transfer-Encoding: chunked'], '0\r\nGET: /smuggled HTTP/1.1\r\nHost: example.test\r\n\r\n'),
    expect: { statuses: [], close: true, upstream: 0 },
    uws: 'trailers-read-as-request.js',
  },

  // ---- persistence and pipelining (RFC 9112 §9.3)
  {
    id: 'pipelined-two-in-one-write',
    family: 'RFC 9112 §9.3.2 pipelining',
    send: get('/1') + get('/2', 'Connection: close'),
    // uWS refuses async pipelining by design: the second request arrives while the first is still
    // being proxied, and uWS aborts it and closes without a byte.
    expect: { statuses: [], close: true, upstream: [0, 1], check: (up) => (up.some((r) => r.target === '/2') ? 'the second request was forwarded after the close' : null) },
    uws: 'async-pipelining-closes.js',
  },
  {
    id: 'pipelined-after-bad-framing',
    family: 'duplicate Content-Length + pipelined request',
    send: post(['Content-Length: 0', 'Content-Length: 0'], '') + SMUGGLED_LAST,
    expect: { statuses: [], close: true, upstream: 0 },
    uws: 'close-ignored-when-pipelined.js',
  },
  {
    id: 'connection-close-honoured',
    family: 'RFC 9112 §9.6 Connection: close',
    send: get('/', 'Connection: close'),
    expect: { statuses: [200], close: true, upstream: 1 },
  },

  // ---- Expect (RFC 9110 §10.1.1)
  {
    id: 'expect-100-continue',
    family: 'RFC 9110 §10.1.1 Expect',
    send: post(['Content-Length: 5', 'Expect: 100-continue'], 'hello'),
    // uWS answers the client's 100 itself; the upstream engine passes Expect on and waits for the
    // upstream's 100 (or a final answer) before it sends the body (issue 12).
    expect: { statuses: [100, 200], close: false, upstream: 1, check: all(body('hello'), headerIs('expect', '100-continue')) },
  },
];
