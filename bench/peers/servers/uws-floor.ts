/**
 * The floor of Floodgate's architecture, not a product: the uWS.js build Floodgate loads, in front
 * of the smallest keep-alive `net.Socket` client that proxies the bench's requests. No routing,
 * no validation, no X-Forwarded-*, no timeouts, no plugins, Content-Length framing only, headers
 * found with indexOf: what a proxy on uWS.js + Node costs before it does any gateway work.
 * Floodgate's ratio to this contender is the share of its cost that is its own.
 *
 * Sound for the bench's requests only: GET /tiny, GET /64k, POST /upload with a Content-Length
 * body, upstream answers with a Content-Length. N workers are N threads with an app each on the same
 * port (SO_REUSEPORT), as Floodgate runs them; "ready" on stdout once all listen. Like the other
 * Node peers it runs on node's defaults (V8's background GC threads), not Floodgate's NODE_FLAGS.
 */
import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { HttpResponse } from 'uWebSockets.js';
import { uws } from '../../../src/proxy/uws';
import { peerArgs, type PeerArgs } from './cluster';

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** One upstream connection; `waiting` is the request its next response answers. */
class UpstreamLink {
  readonly socket: net.Socket;
  pending: Buffer | null = null;
  waiting: Exchange | null = null;

  constructor(port: number, host: string, ready: (link: UpstreamLink) => void) {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.once('connect', () => ready(this));
    this.socket.on('error', () => this.waiting?.fail());
  }

  onData(d: Buffer): void {
    const buf = this.pending === null ? d : Buffer.concat([this.pending, d]);
    const end = buf.indexOf(HEAD_END);
    if (end < 0) return void (this.pending = buf);
    const head = buf.toString('latin1', 0, end);
    const length = Number(headerValue(head, 'content-length') || '0');
    if (buf.length < end + 4 + length) return void (this.pending = buf);
    this.pending = null;
    const exchange = this.waiting!;
    this.waiting = null;
    idle.push(this);
    exchange.answer(head, buf.subarray(end + 4, end + 4 + length));
  }
}

/** The value of a header in a latin1 head, '' when absent (lower-case `name`). */
function headerValue(head: string, name: string): string {
  const at = head.toLowerCase().indexOf('\r\n' + name + ':');
  if (at < 0) return '';
  const from = at + name.length + 3;
  const to = head.indexOf('\r\n', from);
  return head.slice(from, to < 0 ? head.length : to).trim();
}

class Exchange {
  aborted = false;
  constructor(readonly res: HttpResponse) {}

  answer(head: string, body: Buffer): void {
    if (this.aborted) return;
    const res = this.res;
    res.cork(() => {
      res.writeStatus(head.slice(9, head.indexOf('\r\n')));
      res.writeHeader('content-type', headerValue(head, 'content-type'));
      res.writeHeader('x-bench-upstream', headerValue(head, 'x-bench-upstream'));
      res.end(body);
    });
  }

  fail(): void {
    if (!this.aborted) this.res.cork(() => this.res.writeStatus('502 Bad Gateway').end());
  }
}

const idle: UpstreamLink[] = [];

function listen({ port, upstream }: PeerArgs): void {
  const target = new URL(upstream);
  const upstreamPort = Number(target.port);
  uws
    .App()
    .any('/*', (res, req) => {
      const exchange = new Exchange(res);
      res.onAborted(() => void (exchange.aborted = true));
      const query = req.getQuery();
      const length = req.getHeader('content-length');
      const framing = length === '' ? '' : `content-length: ${length}\r\n`;
      const head = `${req.getMethod().toUpperCase()} ${req.getUrl()}${query ? '?' + query : ''} HTTP/1.1\r\nhost: ${req.getHeader('host')}\r\n${framing}\r\n`;
      // A body streams as it comes: each uWS chunk copied (uWS reuses its buffer), written, and
      // the client paused while the upstream socket is full. Chunks before the link is up wait.
      let link: UpstreamLink | null = null;
      const early: Buffer[] = [];
      if (framing !== '') {
        res.onData((chunk) => {
          const copy = Buffer.copyBytesFrom(new Uint8Array(chunk));
          if (link === null) early.push(copy);
          else if (!link.socket.write(copy)) {
            res.pause();
            link.socket.once('drain', () => exchange.aborted || res.resume());
          }
        });
      }
      const send = (ready: UpstreamLink) => {
        link = ready;
        ready.waiting = exchange;
        ready.socket.write(head, 'latin1');
        for (const chunk of early) ready.socket.write(chunk);
      };
      const idleLink = idle.pop();
      if (idleLink !== undefined) send(idleLink);
      else new UpstreamLink(upstreamPort, target.hostname, send);
    })
    .listen('127.0.0.1', port, (token) => {
      if (!token) throw new Error(`uws-floor: cannot listen on ${port}`);
    });
}

if (isMainThread) {
  const args = peerArgs();
  listen(args);
  let listening = 1;
  const ready = () => {
    if (++listening === args.workers) console.log('ready');
  };
  if (args.workers === 1) console.log('ready');
  for (let i = 1; i < args.workers; i++) new Worker(__filename, { workerData: args }).once('message', ready);
} else {
  listen(workerData as PeerArgs);
  parentPort!.postMessage('listening');
}
