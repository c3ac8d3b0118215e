/**
 * A real HTTP log/trace collector on a free loopback port, for http-log and opentelemetry tests:
 * it records every request body it receives and can be told to fail the first N requests (to
 * exercise retries) or to never answer (to fill a sender's queue).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CollectorRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The status this collector answered with (0 when it never answered). */
  readonly status: number;
}

export interface Collector {
  readonly port: number;
  readonly requests: CollectorRequest[];
  url(p: string): string;
  /** Resolves once `predicate` holds over the recorded requests; rejects after `timeoutMs`. */
  waitFor(predicate: (reqs: CollectorRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface CollectorOptions {
  /** Answer the first N requests with 500. */
  readonly failFirst?: number;
  /** Never answer (bodies are still recorded). */
  readonly hang?: boolean;
}

export async function startCollector(opts: CollectorOptions = {}): Promise<Collector> {
  const requests: CollectorRequest[] = [];
  const waiters = new Set<() => void>();
  let seen = 0;
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen++;
      const body = Buffer.concat(chunks).toString('utf8');
      if (opts.hang) {
        requests.push({ method: req.method!, url: req.url!, headers: req.headers, body, status: 0 });
        hanging.push(res);
      } else {
        const status = seen <= (opts.failFirst ?? 0) ? 500 : 200;
        requests.push({ method: req.method!, url: req.url!, headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      }
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    waitFor(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(requests)) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`collector: condition not met in ${timeoutMs} ms; got ${requests.length} requests:\n${requests.map((r) => r.body).join('\n')}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
