/**
 * What one proxied request costs the gateway, step by step, with no plugins: each per-request
 * step of the hot path run alone in a tight loop on realistic inputs (a browser-like GET with 9
 * headers, a 20-route router, a 5-header upstream response), reported in ns per request.
 * Where a step was changed (request header classification: a hash Set before, a byte table now),
 * the old and the new version run side by side in the same process, interleaved.
 *
 *   node dist/bench/micro/pipeline.js        (ROUNDS, ITERATIONS env; medians of ROUNDS)
 *
 * Steps: head copy (server.ts collectHeader), route (router match), upstream header build
 * (upstream-request.ts), engine write (request head serialization, exchange.prepare), parse
 * (the strict response parser), response head (downstream.ts, into a recording stand-in for
 * uWS), log and metrics decision (access-log sampling and WorkerMetrics.record).
 */
import pino from 'pino';
import { collectHeadersInto } from '../../src/proxy/server';
import { DownstreamHead } from '../../src/proxy/request-head';
import { buildUpstreamHeaders, ForwardedParts } from '../../src/proxy/upstream-request';
import { connectionTokens, DROPPED_REQUEST_HEADERS, isDroppedRequestHeader, lowerTokenName } from '../../src/proxy/headers';
import type { RequestRecord } from '../../src/proxy/record';
import type { HttpResponse } from '../../src/proxy/uws';
import { compileRouter } from '../../src/router/router';
import { MatchResult } from '../../src/router/types';
import { UpstreamExchange, type ExchangeHandler } from '../../src/upstream/exchange';
import { ResponseParser, type ParserSink } from '../../src/upstream/response-parser';
import type { ResponseHead } from '../../src/upstream/response-head';
import { shouldLog } from '../../src/logging/access-log';
import { WorkerMetrics } from '../../src/metrics/worker-metrics';
import { Redaction } from '../../src/logging/redaction';
import { routeConfig } from '../../test/helpers/route-config';
import { HeadOnlyResponse } from '../../test/helpers/head-only-response';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);

const NAMES = ['host', 'user-agent', 'accept', 'accept-language', 'accept-encoding', 'connection', 'cookie', 'referer', 'cache-control'];
const VALUES = [
  'api.example.com',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'application/json, text/plain, */*',
  'en-US,en;q=0.9',
  'gzip, deflate, br',
  'keep-alive',
  'session=3f2a9c; theme=dark',
  'https://app.example.com/dashboard',
  'no-cache',
];

function freshHead(): DownstreamHead {
  const head = new DownstreamHead();
  head.method = 'GET';
  head.rawPath = '/api/users/42';
  head.path = '/api/users/42';
  head.query = '';
  head.remoteAddress = '127.0.0.1';
  collectHeadersInto(head, NAMES, VALUES);
  head.parseHost(8000);
  return head;
}

// ---------------------------------------------------------------- the old header build (before)

const DROPPED_OLD = new Set(DROPPED_REQUEST_HEADERS);
function setFlat(out: string[], name: string, value: string): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] === name) {
      out[i + 1] = value;
      return;
    }
  }
  out.push(name, value);
}
/** The header build as it was inside RequestContext: Set lookups, literals per request. */
function buildUpstreamHeadersOld(head: DownstreamHead, host: string, portString: string, requestId: string, idHeader: string): string[] {
  const names = head.headerNames;
  const values = head.headerValues;
  const extraHopByHop = connectionTokens(head.connection);
  const out: string[] = [];
  out.push('host', host);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (DROPPED_OLD.has(name)) continue;
    if (extraHopByHop !== null && extraHopByHop.includes(name)) continue;
    out.push(name, values[i]);
  }
  const client = head.remoteAddress;
  out.push(
    'x-forwarded-for', head.xForwardedFor === '' ? client : head.xForwardedFor + ', ' + client,
    'x-forwarded-proto', 'http',
    'x-forwarded-host', head.host,
    'x-forwarded-port', portString,
    'x-forwarded-path', head.rawPath,
    'x-real-ip', client,
    'via', head.via === '' ? '1.1 floodgate' : head.via + ', 1.1 floodgate',
  );
  if (requestId !== '') setFlat(out, idHeader, requestId);
  return out;
}

/** The names key-auth and rate-limiting set per request (already lower case, as they pass them). */
const PLUGIN_NAMES = ['x-consumer-id', 'x-consumer-username', 'x-credential-identifier', 'x-ratelimit-limit-minute', 'ratelimit-remaining'];
const TOKEN_OLD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// ---------------------------------------------------------------- stand-ins for uWS and the engine

/** Records nothing: the cost measured is ours, not uWS's (its writes are native and measured elsewhere). */
const fakeRes = {
  writeStatus(): unknown {
    return fakeRes;
  },
  writeHeader(): unknown {
    return fakeRes;
  },
} as unknown as HttpResponse;

class HeadWriter extends HeadOnlyResponse {
  head: ResponseHead | null = null;
  edits: string[] | null = null;
  /** The request id's serial (0: no id in the block). */
  requestSerial = 0;
  writeHead(): void {
    this.responseStatus = this.head!.status;
    // A fresh concatenation per response, as nextRequestId makes.
    const requestId = ID_PREFIX + this.requestSerial.toString(16);
    this.writeUpstreamHead(this.head!, this.edits, 'x-floodgate-request-id', requestId, this.requestSerial, false, false);
  }
}

class Sink implements ParserSink {
  head: ResponseHead | null = null;
  bodyBytes = 0;
  onInformational(): void {}
  onHead(head: ResponseHead): void {
    this.head = head;
  }
  onBody(chunk: Buffer): boolean {
    this.bodyBytes += chunk.length;
    return true;
  }
  onComplete(): void {}
  onParseError(): void {
    throw new Error('the fixed response did not parse');
  }
}

const noHandler: ExchangeHandler = {
  onResponseHead() {},
  onResponseData: () => true,
  onResponseEnd() {},
  onExchangeFailed() {},
};

const ID_PREFIX = '9f86d081c4a2-';

const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nDate: Thu, 03 Dec 2026 07:00:00 GMT\r\nConnection: keep-alive\r\nCache-Control: no-store\r\n\r\n{}',
  'latin1',
);

// ---------------------------------------------------------------- the steps

let sink = 0;
/** `extra`: a plugin-path step, not part of the no-plugin sum. */
type Step = { name: string; run: (n: number) => void; extra?: boolean };

const routes = Array.from({ length: 20 }, (_, i) => routeConfig({ id: `r${i}`, paths: [i === 7 ? '/api/users' : `/svc${i}/v1`] }, i));
const router = compileRouter(routes);
const match = new MatchResult();
const parts = new ForwardedParts('http', 8000, 'x-floodgate-request-id');
const exchange = new UpstreamExchange(noHandler);
const parserSink = new Sink();
const parser = new ResponseParser(parserSink, 64 * 1024);
parser.reset(false);
parser.execute(RESPONSE);
const parsedHead = parserSink.head!;
const writer = new HeadWriter(fakeRes);
writer.requestSerial = 0x1a2b;
/** rate-limiting's five headers on a passed request. */
const RATE_LIMIT_EDITS = ['x-ratelimit-limit-minute', '1000', 'x-ratelimit-remaining-minute', '998', 'ratelimit-limit', '1000', 'ratelimit-remaining', '998', 'ratelimit-reset', '17'];
const editsWriter = new HeadWriter(fakeRes);
editsWriter.head = parsedHead;
editsWriter.requestSerial = 0x1a2b;
editsWriter.edits = RATE_LIMIT_EDITS;
const perHeaderWriter = new HeadWriter(fakeRes);
perHeaderWriter.headerBlocks = false;
perHeaderWriter.head = parsedHead;
writer.head = parsedHead;
const metrics = new WorkerMetrics(false, pino({ enabled: false }));
const head0 = freshHead();
const upstreamHeaders = buildUpstreamHeaders(head0, 'upstream:8080', 0, null, 'c0ffee-1', parts, null, null);
const record: RequestRecord = {
  request: head0,
  route: null,
  target: null,
  consumer: null,
  credentialId: null,
  requestId: 'c0ffee-1',
  trace: null,
  aborted: false,
  error: null,
  responseStatus: 200,
  bodyBytes: 0,
  responseBytes: 2,
  startedAt: 1,
  upstreamStartedAt: 2,
  upstreamHeadersAt: 3,
  finishedAt: 4,
  upstreamUri: '/api/users/42',
  redaction: new Redaction([], []),
  configVersion: 1,
  responseHeaderList: () => ({ names: [], values: [] }),
};

const steps: Step[] = [
  {
    name: 'head copy (9 headers)',
    run(n) {
      for (let i = 0; i < n; i++) {
        const head = new DownstreamHead();
        collectHeadersInto(head, NAMES, VALUES);
        sink += head.headBytes;
      }
    },
  },
  {
    name: 'route (20 routes)',
    run(n) {
      for (let i = 0; i < n; i++) sink += router.match(head0, match) ? 1 : 0;
    },
  },
  {
    name: 'request header classification x9: before (Set)',
    run(n) {
      for (let i = 0; i < n; i++) for (let j = 0; j < NAMES.length; j++) sink += DROPPED_OLD.has(NAMES[j]) ? 1 : 0;
    },
  },
  {
    name: 'request header classification x9: now (byte table)',
    run(n) {
      for (let i = 0; i < n; i++) for (let j = 0; j < NAMES.length; j++) sink += isDroppedRequestHeader(NAMES[j]) ? 1 : 0;
    },
  },
  {
    name: 'upstream header build: before (Set)',
    run(n) {
      for (let i = 0; i < n; i++) sink += buildUpstreamHeadersOld(head0, 'upstream:8080', '8000', 'c0ffee-1', 'x-floodgate-request-id').length;
    },
  },
  {
    name: 'upstream header build: now (byte table, ForwardedParts)',
    run(n) {
      for (let i = 0; i < n; i++) sink += buildUpstreamHeaders(head0, 'upstream:8080', 0, null, 'c0ffee-1', parts, null, null).length;
    },
  },
  {
    // Before: every header checked again by the engine (two regex tests each) and the head
    // copied into a Buffer; now the proxy's list is trusted (checked as it is built) and the
    // latin1 string goes to socket.write, whose native side copies it (that copy is not here).
    name: 'engine write: before (checked per header, Buffer)',
    run(n) {
      for (let i = 0; i < n; i++) {
        exchange.prepare('GET', '/api/users/42', upstreamHeaders, null, -1, 60_000, 60_000, false);
        sink += Buffer.from(exchange.head!, 'latin1').length;
      }
    },
  },
  {
    name: 'engine write: now (validated list, latin1 string)',
    run(n) {
      for (let i = 0; i < n; i++) sink += exchange.prepare('GET', '/api/users/42', upstreamHeaders, null, -1, 60_000, 60_000, true) ? 1 : 0;
    },
  },
  {
    name: 'parse (response head + 2-byte body)',
    run(n) {
      for (let i = 0; i < n; i++) {
        parser.reset(false);
        parser.execute(RESPONSE);
        sink += parserSink.bodyBytes;
      }
    },
  },
  {
    // Before: one writeHeader per kept header, each with two Buffer views (the h2 path still
    // writes so). Now: the kept lines copied into one block, one writeHeader. The stand-in's calls
    // cost nothing here; with uWS each call is also a crossing into C++ (not counted).
    name: 'response head: before (a call per header)',
    run(n) {
      for (let i = 0; i < n; i++) {
        perHeaderWriter.headSent = false;
        perHeaderWriter.writeHead();
        sink += perHeaderWriter.headSent ? 1 : 0;
      }
    },
  },
  {
    name: 'response head: now (one header block)',
    run(n) {
      for (let i = 0; i < n; i++) {
        writer.headSent = false;
        writer.writeHead();
        sink += writer.headSent ? 1 : 0;
      }
    },
  },
  {
    // The JS side only: with uWS, each edit given to writeHeader on its own was one more
    // crossing with two UTF-8 conversions, which the stand-in does not cost (callgrind does:
    // README "Performance").
    name: 'response head, 5 rate-limiting edits (in the block)',
    extra: true,
    run(n) {
      for (let i = 0; i < n; i++) {
        editsWriter.headSent = false;
        editsWriter.writeHead();
        sink += editsWriter.headSent ? 1 : 0;
      }
    },
  },
  {
    name: 'plugin header names x5: before (toLowerCase, token regex)',
    run(n) {
      for (let i = 0; i < n; i++) for (let j = 0; j < PLUGIN_NAMES.length; j++) sink += TOKEN_OLD.test(PLUGIN_NAMES[j].toLowerCase()) ? 1 : 0;
    },
  },
  {
    name: 'plugin header names x5: now (lowerTokenName)',
    extra: true,
    run(n) {
      for (let i = 0; i < n; i++) for (let j = 0; j < PLUGIN_NAMES.length; j++) sink += lowerTokenName(PLUGIN_NAMES[j]) === null ? 0 : 1;
    },
  },
  {
    name: 'log and metrics decision',
    run(n) {
      for (let i = 0; i < n; i++) {
        sink += shouldLog(record, 0.01) ? 1 : 0;
        metrics.record(record);
      }
    },
  },
];

function nsPerOp(step: Step): number {
  const start = process.hrtime.bigint();
  step.run(ITERATIONS);
  return Number(process.hrtime.bigint() - start) / ITERATIONS;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function main(): void {
  // Warm up every step first so each is optimized before timing.
  for (const step of steps) step.run(Math.min(ITERATIONS, 50_000));
  const samples = steps.map(() => [] as number[]);
  // Interleaved: every round runs every step once, so noise spreads evenly.
  for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < steps.length; i++) samples[i].push(nsPerOp(steps[i]));
  console.log(`pipeline micro-benchmark: ${ROUNDS} rounds x ${ITERATIONS} iterations, median ns per request`);
  let total = 0;
  for (let i = 0; i < steps.length; i++) {
    const ns = median(samples[i]);
    // Classification is part of the header build: counted there, not twice.
    if (!steps[i].name.includes('before') && !steps[i].name.includes('classification') && steps[i].extra !== true) total += ns;
    console.log(`  ${steps[i].name.padEnd(58)} ${ns.toFixed(1).padStart(8)} ns`);
  }
  console.log(`  ${'sum of current steps'.padEnd(58)} ${total.toFixed(1).padStart(8)} ns`);
  if (sink === 0.5) console.log('');
  process.exit(0);
}

main();
