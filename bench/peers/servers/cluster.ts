/**
 * Shared plumbing of the Node peer servers: `--port P --upstream URL --workers N` arguments, and
 * node:cluster for N > 1 (one process for N = 1). Prints "ready" on stdout once every worker listens.
 *
 * Cluster uses Node's default scheduling on Linux (round-robin: the primary accepts and hands each
 * connection to a worker). wrk's connections are keep-alive, so that hand-off happens once per
 * connection, and it spreads them evenly (with SCHED_NONE one worker may grab most of them).
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';

export interface PeerArgs {
  port: number;
  upstream: string;
  workers: number;
}

export function peerArgs(): PeerArgs {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      upstream: { type: 'string' },
      workers: { type: 'string', default: '1' },
    },
  });
  const port = Number(values.port);
  const workers = Number(values.workers);
  if (!port || !values.upstream || !(workers >= 1)) {
    throw new Error('usage: --port P --upstream http://HOST:PORT [--workers N]');
  }
  return { port, upstream: values.upstream, workers };
}

/** Runs `listen` in this process (1 worker) or in N cluster workers. */
export function serve(name: string, listen: (args: PeerArgs) => Promise<void>): void {
  const args = peerArgs();
  const fail = (e: unknown) => {
    console.error(`${name}:`, e);
    process.exit(1);
  };
  if (args.workers === 1) {
    listen(args).then(() => console.log('ready'), fail);
    return;
  }
  if (cluster.isPrimary) {
    let listening = 0;
    cluster.on('listening', () => {
      if (++listening === args.workers) console.log('ready');
    });
    cluster.on('exit', (worker, code, signal) => {
      console.error(`${name}: worker ${worker.process.pid} exited (${signal ?? code})`);
    });
    for (let i = 0; i < args.workers; i++) cluster.fork();
  } else {
    listen(args).catch(fail);
  }
}
