/** Peer: node-http-proxy on node:http, with a keep-alive agent towards the upstream. */
import http from 'node:http';
import { serve } from './cluster';

// http-proxy ships no types; this is the part used here.
interface ProxyServer {
  web(req: http.IncomingMessage, res: http.ServerResponse): void;
  on(event: 'error', cb: (err: Error, req: http.IncomingMessage, res: http.ServerResponse) => void): void;
}
const httpProxy = require('http-proxy') as {
  createProxyServer(opts: { target: string; agent: http.Agent }): ProxyServer;
};

serve('http-proxy', async ({ port, upstream }) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ target: upstream, agent });
  proxy.on('error', (_err, _req, res) => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  const server = http.createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 75_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
});
