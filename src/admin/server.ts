/**
 * The admin listener: a plain node:http server on the primary thread, apart from the proxy port.
 * Loopback by default; with a token set, every endpoint but /healthz and /ready needs
 * `Authorization: Bearer <token>` (load balancers probe those two without credentials).
 *
 * Replies are JSON. Handler errors become a 500 with the message, never a crashed primary.
 */
import http from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminReply, AdminRequest, AdminRouter } from './router';

/** A POST /config body bigger than this is refused (413) before it is parsed. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const UNAUTHENTICATED_PATHS = new Set(['/healthz', '/ready']);
const JSON_TYPE = 'application/json; charset=utf-8';

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  /** Bearer token; `null` leaves the API open (then keep it on loopback). */
  readonly token: string | null;
}

export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #router: AdminRouter;
  readonly #logger: Logger;
  readonly #tokenDigest: Buffer | null;
  #server: http.Server | null = null;

  constructor(options: AdminServerOptions, router: AdminRouter, logger: Logger) {
    this.#options = options;
    this.#router = router;
    this.#logger = logger;
    this.#tokenDigest = options.token === null ? null : digest(options.token);
  }

  listen(): Promise<void> {
    const server = http.createServer((req, res) => void this.#handle(req, res));
    server.keepAliveTimeout = 5_000;
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  close(): void {
    this.#server?.close();
    this.#server?.closeAllConnections();
    this.#server = null;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let reply: AdminReply;
    try {
      reply = await this.#route(req);
    } catch (err) {
      this.#logger.error({ err, method: req.method, url: req.url }, 'admin handler failed');
      reply = { status: 500, body: { message: `internal error: ${(err as Error).message}` } };
    }
    const text = reply.contentType === undefined ? JSON.stringify(reply.body) + '\n' : String(reply.body);
    res.writeHead(reply.status, {
      'content-type': reply.contentType ?? JSON_TYPE,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...reply.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  async #route(req: http.IncomingMessage): Promise<AdminReply> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    if (!UNAUTHENTICATED_PATHS.has(url.pathname) && !this.#authorized(req)) {
      return { status: 401, body: { message: 'admin API needs Authorization: Bearer <token>' }, headers: { 'www-authenticate': 'Bearer' } };
    }
    const match = this.#router.match(method, url.pathname);
    if (match.kind === 'not-found') return { status: 404, body: { message: `no admin endpoint ${url.pathname}` } };
    if (match.kind === 'method-not-allowed') {
      return { status: 405, body: { message: `${method} not allowed on ${url.pathname}` }, headers: { allow: match.allow.join(', ') } };
    }
    const body = await readBody(req);
    if (body === null) return { status: 413, body: { message: `admin request body over ${MAX_BODY_BYTES} bytes` } };
    const request: AdminRequest = { method, path: url.pathname, params: match.params, query: url.searchParams, headers: req.headers, body };
    return match.handler(request);
  }

  #authorized(req: http.IncomingMessage): boolean {
    const expected = this.#tokenDigest;
    if (expected === null) return true;
    const header = req.headers.authorization;
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    // Compare digests, so the comparison takes the same time whatever the length of the guess.
    return timingSafeEqual(digest(header.slice(7).trim()), expected);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
