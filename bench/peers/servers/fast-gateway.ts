/** Peer: fast-gateway 3.4.7 (restana + fast-proxy-lite on node:http), one catch-all route. */
import gateway from 'fast-gateway';
import { serve } from './cluster';

serve('fast-gateway', async ({ port, upstream }) => {
  // prefix '' + the default pathRegex '/*' registers '/*' and leaves req.url as it is.
  const server = gateway({ routes: [{ prefix: '', target: upstream }] });
  await server.start(port, '127.0.0.1');
});
