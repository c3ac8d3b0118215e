/**
 * Open downstream connections, node-wide. Each worker counts its own through uWS's connection
 * filter (proxy/connection-limit.ts); this is the kernel's view, which also covers a worker that
 * is gone or the v20.30 fallback (no filter). The primary counts at scrape time what the kernel holds: TCP sockets in ESTABLISHED state whose local port
 * is the proxy port, from /proc/net/tcp and /proc/net/tcp6 (Linux; `null` elsewhere). This is the
 * network namespace's view, so it is exact unless another process there shares the port.
 */
import { readFile } from 'node:fs/promises';

const ESTABLISHED = '01';

export async function countEstablished(port: number): Promise<number | null> {
  let found = false;
  let count = 0;
  const portHex = ':' + port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(file, 'latin1');
    } catch {
      continue;
    }
    found = true;
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      // "  sl  local_address rem_address   st ..."; fields are space-separated.
      const fields = lines[i].trim().split(/\s+/);
      if (fields.length < 4) continue;
      if (fields[3] === ESTABLISHED && fields[1].endsWith(portHex)) count++;
    }
  }
  return found ? count : null;
}
