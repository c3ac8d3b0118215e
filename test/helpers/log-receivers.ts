/**
 * Real receivers on loopback for the socket log shippers (tcp-log, udp-log, syslog, statsd): a
 * UDP socket that records datagrams, and a TCP (optionally TLS) or unix-socket server that records
 * newline-separated lines and the connections they came on.
 */
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface Received {
  /** Datagrams (UDP) or lines (stream), in arrival order. */
  readonly messages: string[];
  waitFor(predicate: (messages: string[]) => boolean, timeoutMs?: number): Promise<void>;
}

function waiting(messages: string[]): { notify(): void; waitFor: Received['waitFor'] } {
  const waiters = new Set<() => boolean>();
  return {
    notify() {
      for (const w of [...waiters]) w();
    },
    waitFor(predicate, timeoutMs = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate(messages)) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: condition not met in ${timeoutMs} ms; got ${messages.length}:\n${messages.slice(-20).join('\n')}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
  };
}

export interface UdpReceiver extends Received {
  readonly port: number;
  close(): Promise<void>;
}

export async function startUdpReceiver(): Promise<UdpReceiver> {
  const messages: string[] = [];
  const w = waiting(messages);
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg) => {
    messages.push(msg.toString('utf8'));
    w.notify();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: (socket.address() as AddressInfo).port,
    messages,
    waitFor: w.waitFor,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

export interface StreamReceiver extends Received {
  /** TCP port (0 for a unix socket). */
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Close every open connection (the sender must reconnect). */
  dropConnections(): void;
  close(): Promise<void>;
}

export interface StreamReceiverOptions {
  /** Serve TLS with this key and certificate. */
  readonly tls?: { key: string; cert: string };
  /** Listen on this unix socket path instead of a loopback port. */
  readonly unixPath?: string;
}

export async function startStreamReceiver(opts: StreamReceiverOptions = {}): Promise<StreamReceiver> {
  const messages: string[] = [];
  const w = waiting(messages);
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const onSocket = (socket: net.Socket) => {
    accepted++;
    sockets.add(socket);
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        messages.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
      w.notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server = opts.tls ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onSocket) : net.createServer(onSocket);
  if (opts.unixPath !== undefined) {
    fs.rmSync(opts.unixPath, { force: true });
    await new Promise<void>((resolve) => server.listen(opts.unixPath, resolve));
  } else await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: opts.unixPath !== undefined ? 0 : (server.address() as AddressInfo).port,
    messages,
    waitFor: w.waitFor,
    connections: () => accepted,
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A throwaway self-signed certificate for 127.0.0.1 / localhost, made by openssl for this run. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
