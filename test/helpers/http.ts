/** Small real-client helpers for integration tests. */
import net from 'node:net';
import { Agent, request } from 'undici';

export const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });

export interface SimpleResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = any>(): T;
}

export async function get(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<SimpleResponse> {
  const res = await request(url, {
    dispatcher: agent,
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers,
    body: init.body,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text),
  };
}

/**
 * Send raw bytes on a fresh connection and collect everything the server answers until it closes
 * the connection or `idleMs` passes without data. For requests no well-behaved client would send.
 */
export function rawRequest(port: number, payload: string | Buffer, idleMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let timer = setTimeout(() => sock.destroy(), idleMs);
    sock.on('data', (c) => {
      data += c.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(() => sock.destroy(), idleMs);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.write(payload);
  });
}

export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return m === null ? 0 : Number(m[1]);
}

/** The body of a raw response, with chunked transfer coding removed. */
export function bodyOf(raw: string): string {
  const i = raw.indexOf('\r\n\r\n');
  if (i === -1) return '';
  const body = raw.slice(i + 4);
  if (!/\r\ntransfer-encoding: chunked\r\n/i.test(raw.slice(0, i + 2))) return body;
  let out = '';
  let pos = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', pos);
    if (eol === -1) return out;
    const size = parseInt(body.slice(pos, eol), 16);
    if (!(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    pos = eol + 2 + size + 2;
  }
}
