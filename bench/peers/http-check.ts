/** A minimal HTTP client for readiness and verification (one request, one fresh connection). */
import { request } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface CheckRequest {
  port: number;
  path: string;
  method?: string;
  host?: string;
  /** extra request headers (credentials) */
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs?: number;
}

export function fetchOnce(req: CheckRequest): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers, connection: 'close' };
    if (req.host) headers.host = req.host;
    if (req.body) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = req.body.length;
    }
    const r = request(
      { host: '127.0.0.1', port: req.port, path: req.path, method: req.method ?? 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    r.setTimeout(req.timeoutMs ?? 5_000, () => r.destroy(new Error(`timeout on ${req.method ?? 'GET'} ${req.path}`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** true once GET `path` answers `status` (any body). */
export async function answers(port: number, path: string, status = 200): Promise<boolean> {
  try {
    return (await fetchOnce({ port, path, timeoutMs: 1_000 })).status === status;
  } catch {
    return false;
  }
}
