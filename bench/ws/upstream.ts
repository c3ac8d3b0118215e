/**
 * The WebSocket bench's upstream: a `ws` server that sends every message back as it came (text or
 * binary), no permessage-deflate. Prints "ready" on stdout once listening.
 *
 *   node dist/bench/ws/upstream.js --port N
 */
import { WebSocketServer } from './ws-package';

function main(): void {
  const at = process.argv.indexOf('--port');
  const port = at > 0 ? Number(process.argv[at + 1]) : 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, maxPayload: 16 << 20 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
  wss.on('listening', () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => process.exit(0));
  });
}

if (require.main === module) main();
