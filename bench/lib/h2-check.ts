/**
 * One HTTP/2 request over TLS (ALPN h2, certificate not verified: the benches make their own),
 * for the checks made before any load: the h2 and gRPC benches must see each contender answer
 * the exact request the load tool will send.
 */
import http2 from 'node:http2';

export interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

export function h2Request(o: { port: number; path: string; method?: string; headers?: Record<string, string>; body?: Buffer; timeoutMs?: number }): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${o.port}`, { rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const fail = (e: Error) => {
      session.destroy();
      reject(e);
    };
    session.on('error', fail);
    const timer = setTimeout(() => fail(new Error(`h2 ${o.method ?? 'GET'} ${o.path} on :${o.port}: timeout`)), o.timeoutMs ?? 5_000);
    const stream = session.request({ ':method': o.method ?? 'GET', ':path': o.path, ...o.headers }, { endStream: o.body === undefined });
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', fail);
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, headers, trailers, body: Buffer.concat(chunks) });
    });
    if (o.body !== undefined) stream.end(o.body);
  });
}
