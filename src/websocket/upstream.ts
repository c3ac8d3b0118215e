/**
 * The upstream half of a WebSocket upgrade: one GET with `Upgrade: websocket` to the target the
 * balancer picked, over node:http (or node:https for https services), outside the HTTP engine's
 * pools since the connection leaves HTTP for good. The outcome goes back to the request context:
 * the 101 and its socket, another answer (relayed to the client as it is), or a failure.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Errors, type ProxyError } from '../proxy/errors';

export interface UpgradeOutcome {
  /** The upstream switched protocols: its raw response headers, the socket and any bytes after the head. */
  upgraded(rawHeaders: readonly string[], socket: Socket, head: Buffer): void;
  /** Any other answer, body included (bounded): the client gets it as it is. */
  answered(status: number, rawHeaders: readonly string[], body: Buffer): void;
  failed(error: ProxyError): void;
}

export interface UpgradeTarget {
  /** `host:port`, IPv6 in brackets. */
  readonly address: string;
  readonly tls: boolean;
  /** SNI and certificate name for https services. */
  readonly servername: string;
  readonly verify: boolean;
}

/** A refused upgrade's body is relayed to the client; past this it is cut. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Returns a function that cancels the attempt (the client went away). */
export function requestUpgrade(target: UpgradeTarget, path: string, headers: readonly string[], timeoutMs: number, outcome: UpgradeOutcome): () => void {
  const colon = target.address.lastIndexOf(':');
  const host = target.address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(target.address.slice(colon + 1));
  const flat: string[] = [...headers, 'connection', 'Upgrade', 'upgrade', 'websocket'];
  const options: https.RequestOptions = { host, port, method: 'GET', path, headers: flat as unknown as http.OutgoingHttpHeaders, agent: false };
  if (target.tls) {
    options.servername = target.servername;
    options.rejectUnauthorized = target.verify;
  }
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    return true;
  };
  const req = (target.tls ? https : http).request(options);
  req.setTimeout(timeoutMs, () => {
    if (settle()) outcome.failed(Errors.upstreamReadTimeout);
    req.destroy();
  });
  req.on('upgrade', (res, socket, head) => {
    if (!settle()) return void socket.destroy();
    socket.setTimeout(0);
    outcome.upgraded(res.rawHeaders, socket as Socket, head);
  });
  req.on('response', (res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size < MAX_ANSWER_BYTES) chunks.push(c);
      size += c.length;
    });
    res.on('end', () => {
      if (settle()) outcome.answered(res.statusCode ?? 502, res.rawHeaders, Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES));
    });
    res.on('error', () => {
      if (settle()) outcome.failed(Errors.upstreamReset);
    });
  });
  req.on('error', (err: NodeJS.ErrnoException) => {
    if (!settle()) return;
    const code = err.code ?? '';
    outcome.failed(
      code === 'ECONNREFUSED' ? Errors.upstreamRefused
        : code === 'ECONNRESET' ? Errors.upstreamReset
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? Errors.upstreamDns
            : code.startsWith('ERR_TLS') || code.includes('CERT') ? Errors.upstreamTls
              : Errors.upstreamUnavailable,
    );
  });
  req.end();
  return () => {
    settled = true;
    req.destroy();
  };
}
