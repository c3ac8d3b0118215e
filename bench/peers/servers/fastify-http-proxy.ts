/** Peer: Fastify + @fastify/http-proxy (undici via @fastify/reply-from), documented defaults. */
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { serve } from './cluster';

serve('fastify-http-proxy', async ({ port, upstream }) => {
  const app = Fastify({ logger: false });
  await app.register(proxy, { upstream });
  await app.listen({ port, host: '127.0.0.1' });
});
