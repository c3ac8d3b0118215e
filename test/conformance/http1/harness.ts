/**
 * The HTTP/1.1 conformance harness: raw bytes on one TCP connection per case, against a proxy whose
 * upstream records every byte it receives.
 *
 * - RecordingUpstream: a `net` server (no HTTP library, so it accepts and logs whatever a proxy
 *   forwards). It splits what it gets into requests (Content-Length or chunked), answers each with
 *   200 and a small body, and keeps the raw bytes and the parsed requests of the current case.
 * - exchange(): writes a case's bytes (in one write, or in parts with a pause between them), then
 *   reads the answer until the server closes, the expected answers arrived and the connection
 *   stayed quiet for a moment, or the wait is over.
 * - parseResponses(): the responses in what came back, in order.
 * - outcomeOf(): sorts one run into the report's buckets (rejected, normalized, closed, hung,
 *   smuggled).
 */
import net from 'node:net';

// ---------------------------------------------------------------- recording upstream

export interface RecordedRequest {
  readonly method: string;
  readonly target: string;
  /** Header fields as received, names in their case, values as latin1 strings of their bytes. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  /** The body was still arriving when the case ended (a long upload, say). */
  readonly complete: boolean;
}

export class RecordingUpstream {
  port = 0;
  /** Every byte received on any connection since the last reset, in arrival order. */
  raw: Buffer[] = [];
  requests: RecordedRequest[] = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  constructor() {
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  start(): Promise<void> {
    return new Promise((resolve) =>
      this.#server.listen(0, '127.0.0.1', () => {
        this.port = (this.#server.address() as net.AddressInfo).port;
        resolve();
      }),
    );
  }

  reset(): void {
    this.raw = [];
    this.requests = [];
  }

  get bytes(): Buffer {
    return Buffer.concat(this.raw);
  }

  header(req: RecordedRequest, name: string): string | undefined {
    const lower = name.toLowerCase();
    return req.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let partial: { method: string; target: string; headers: Array<[string, string]>; body: Buffer[] } | null = null;
    socket.on('data', (chunk: Buffer) => {
      this.raw.push(chunk);
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = parseRequest(buf);
        if (parsed === 'bad') {
          socket.destroy();
          return;
        }
        if (parsed === null) break;
        if (!parsed.complete) {
          // Record what arrived so far; the request is replaced when it completes.
          if (partial === null) {
            partial = { method: parsed.method, target: parsed.target, headers: parsed.headers, body: [] };
            this.requests.push({ ...partial, body: parsed.body, complete: false });
          } else {
            this.requests[this.requests.length - 1] = { ...partial, body: parsed.body, complete: false };
          }
          break;
        }
        if (partial !== null) this.requests.pop();
        partial = null;
        this.requests.push({ method: parsed.method, target: parsed.target, headers: parsed.headers, body: parsed.body, complete: true });
        buf = buf.subarray(parsed.consumed);
        const body = `upstream saw ${parsed.method} ${parsed.target}`;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`, 'latin1');
      }
    });
  }
}

interface ParsedRequest {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
  complete: boolean;
  consumed: number;
}

/** One request from the front of `buf`: null when the head is incomplete, 'bad' when unparseable. */
function parseRequest(buf: Buffer): ParsedRequest | 'bad' | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const [method, target] = lines[0].split(' ');
  if (method === undefined || target === undefined) return 'bad';
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'bad';
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const find = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  let at = end + 4;
  const te = find('transfer-encoding');
  if (te !== undefined) {
    const body: Buffer[] = [];
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol === -1) return { method, target, headers, body: Buffer.concat(body), complete: false, consumed: 0 };
      const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
      if (!Number.isFinite(size)) return 'bad';
      if (size === 0) {
        const last = buf.indexOf('\r\n\r\n', eol);
        if (last === -1) return { method, target, headers, body: Buffer.concat(body), complete: false, consumed: 0 };
        return { method, target, headers, body: Buffer.concat(body), complete: true, consumed: last + 4 };
      }
      if (buf.length < eol + 2 + size + 2) {
        body.push(buf.subarray(eol + 2, Math.min(buf.length, eol + 2 + size)));
        return { method, target, headers, body: Buffer.concat(body), complete: false, consumed: 0 };
      }
      body.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  const cl = Number(find('content-length') ?? '0');
  if (buf.length < at + cl) return { method, target, headers, body: buf.subarray(at), complete: false, consumed: 0 };
  return { method, target, headers, body: buf.subarray(at, at + cl), complete: true, consumed: at + cl };
}

// ---------------------------------------------------------------- raw client

export interface ParsedResponse {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
  /** The response carries `Connection: close`. */
  readonly close: boolean;
}

export interface Exchange {
  /** Everything the server sent, latin1. */
  readonly raw: string;
  readonly responses: ParsedResponse[];
  /** The server closed (FIN or reset) before the wait was over. */
  readonly closed: boolean;
  /** Milliseconds from the last write to the close, or to the end of the wait. */
  readonly ms: number;
}

export interface ExchangeOptions {
  /** Pause between the parts of a case sent in several writes. */
  readonly gapMs?: number;
  /** Answers to wait for before judging that the connection stays open. */
  readonly expectResponses?: number;
  /** After the expected answers, how long the connection must stay quiet and open. */
  readonly lingerMs?: number;
  /** The longest wait for a close or for answers: past it the case "hung". */
  readonly waitMs?: number;
  /**
   * Before each later part, wait (up to waitMs) for one more answer or the close: the part then
   * arrives after the answer, however slow the server is, rather than while the request is pending.
   */
  readonly partsAfterAnswers?: boolean;
}

export async function exchange(port: number, parts: readonly Buffer[], opts: ExchangeOptions = {}): Promise<Exchange> {
  const gap = opts.gapMs ?? 50;
  const expect = opts.expectResponses ?? 1;
  const linger = opts.lingerMs ?? 150;
  const waitMs = opts.waitMs ?? 2000;
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let closed = false;
  let lastWriteAt = 0;
  let closedAt = 0;
  let wake: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    wake?.();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    closedAt = performance.now();
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) await sleep(gap);
    if (i > 0 && opts.partsAfterAnswers === true) {
      const until = performance.now() + waitMs;
      while (!closed && parseResponses(Buffer.concat(chunks)).length < i && performance.now() < until) await sleep(10);
    }
    if (closed) break;
    socket.write(parts[i]);
    lastWriteAt = performance.now();
  }
  const deadline = lastWriteAt + waitMs;
  let quietSince = 0;
  for (;;) {
    if (closed) break;
    const now = performance.now();
    if (now >= deadline) break;
    const complete = parseResponses(Buffer.concat(chunks)).length;
    if (complete >= expect) {
      if (quietSince === 0) quietSince = now;
      if (now - quietSince >= linger) break;
    } else {
      quietSince = 0;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 10);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    wake = null;
  }
  const end = closed ? closedAt : performance.now();
  socket.destroy();
  const raw = Buffer.concat(chunks);
  return { raw: raw.toString('latin1'), responses: parseResponses(raw), closed, ms: Math.round(end - lastWriteAt) };
}

/** The complete responses at the front of `raw`, in order (a truncated last one is left out). */
export function parseResponses(raw: Buffer): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end === -1) return out;
    const lines = raw.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    if (!lines[0].startsWith('HTTP/1.') || !Number.isInteger(status)) return out;
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
    }
    const find = (n: string) => headers.find(([k]) => k === n)?.[1];
    let bodyStart = end + 4;
    let body = '';
    if (status >= 100 && status < 200) {
      // An interim response has no body; the final one follows.
    } else if (find('transfer-encoding') !== undefined) {
      let p = bodyStart;
      const parts: Buffer[] = [];
      for (;;) {
        const eol = raw.indexOf('\r\n', p);
        if (eol === -1) return out;
        const size = parseInt(raw.subarray(p, eol).toString('latin1'), 16);
        if (!Number.isFinite(size)) return out;
        if (size === 0) {
          if (raw.length < eol + 4) return out;
          bodyStart = eol + 4;
          break;
        }
        if (raw.length < eol + 2 + size + 2) return out;
        parts.push(raw.subarray(eol + 2, eol + 2 + size));
        p = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('latin1');
    } else {
      const cl = find('content-length');
      if (cl !== undefined) {
        const n = Number(cl);
        if (raw.length < bodyStart + n) return out;
        body = raw.subarray(bodyStart, bodyStart + n).toString('latin1');
        bodyStart += n;
      } else {
        // Delimited by the close (uWS's own error pages): the rest is the body.
        body = raw.subarray(bodyStart).toString('latin1');
        bodyStart = raw.length;
      }
    }
    out.push({ status, headers, body, close: (find('connection') ?? '').toLowerCase() === 'close' });
    at = bodyStart;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- outcomes for the report

export type Outcome = 'rejected' | 'normalized' | 'closed' | 'hung' | 'smuggled';

/** The marker every smuggling case puts in the request it hides: seen upstream = smuggled. */
export const SMUGGLED_MARKER = '/smuggled';

/**
 * One run in the report's terms. `smuggled` wins over everything (the upstream saw the hidden
 * request, or a following request swallowed as body); then the first answer: 4xx/5xx = rejected
 * politely, 1xx-3xx = normalized (accepted and forwarded in a canonical form); no answer = closed at
 * once, or hung when the connection was still open at the end of the wait.
 */
export function outcomeOf(x: Exchange, upstreamBytes: Buffer): Outcome {
  if (upstreamBytes.includes(SMUGGLED_MARKER)) return 'smuggled';
  const first = x.responses.find((r) => r.status >= 200) ?? x.responses[0];
  if (first !== undefined) return first.status >= 400 ? 'rejected' : 'normalized';
  return x.closed ? 'closed' : 'hung';
}
