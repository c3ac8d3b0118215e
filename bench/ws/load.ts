/**
 * The WebSocket bench's load generator, run as its own process so it never shares a thread with a
 * contender: CONNS `ws` connections to URL, each keeping INFLIGHT binary messages of BYTES bytes in
 * flight (a new one goes out as each echo comes back), for SECONDS. Messages on one connection come
 * back in order, so each echo's round trip is now minus the send time at the head of that
 * connection's queue. Prints one JSON line: messages echoed in the window, its length, p50/p99 of
 * the round trips, and errors (failed connections, early closes, echoes of the wrong size).
 *
 *   node dist/bench/ws/load.js --url ws://127.0.0.1:P/echo --conns 50 --inflight 4 --bytes 64 --seconds 5
 */
import { WebSocket, type WsSocket } from './ws-package';
import { percentile } from '../peers/stats';

export interface WsLoadResult {
  messages: number;
  seconds: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  /** what went wrong, first few */
  problems: string[];
}

function arg(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const v = at > 0 ? process.argv[at + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

/** One connection's in-flight send times, oldest first (a ring over a fixed array). */
class SendTimes {
  readonly #at: Float64Array;
  #head = 0;
  #size = 0;
  constructor(capacity: number) {
    this.#at = new Float64Array(capacity);
  }
  push(t: number): void {
    this.#at[(this.#head + this.#size) % this.#at.length] = t;
    this.#size++;
  }
  shift(): number {
    const t = this.#at[this.#head];
    this.#head = (this.#head + 1) % this.#at.length;
    this.#size--;
    return t;
  }
  get size(): number {
    return this.#size;
  }
}

/** The whole run's shared state: the window flag, the round trips and the errors. */
class Run {
  readonly startedAt = performance.now();
  running = false;
  finished = false;
  errors = 0;
  readonly problems: string[] = [];
  readonly rtts: number[] = [];
  problem(p: string): void {
    this.errors++;
    if (this.problems.length < 5) this.problems.push(`${p} at ${((performance.now() - this.startedAt) / 1000).toFixed(2)} s (${this.running ? 'in the window' : 'outside the window'})`);
  }
}

/** One client connection keeping `inflight` messages in flight while the run's window is open. */
class Conn {
  readonly #ws: WsSocket;
  readonly #times: SendTimes;
  readonly #run: Run;
  readonly #payload: Buffer;
  readonly #inflight: number;
  readonly opened: Promise<boolean>;

  constructor(url: string, run: Run, payload: Buffer, inflight: number) {
    this.#run = run;
    this.#payload = payload;
    this.#inflight = inflight;
    this.#times = new SendTimes(inflight);
    this.#ws = new WebSocket(url, { perMessageDeflate: false });
    this.#ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve) => {
      this.#ws.on('open', () => resolve(true));
      this.#ws.on('error', (e) => {
        run.problem(`connection: ${e.message}`);
        resolve(false);
      });
    });
    this.#ws.on('close', (code) => {
      if (!run.finished) run.problem(`closed early (${code})`);
    });
    this.#ws.on('message', (data: Buffer) => this.#onEcho(data));
  }

  start(): void {
    for (let i = 0; i < this.#inflight; i++) this.#send();
  }

  stop(): void {
    this.#ws.terminate();
  }

  #send(): void {
    this.#times.push(performance.now());
    this.#ws.send(this.#payload);
  }

  #onEcho(data: Buffer): void {
    const sent = this.#times.shift();
    if (data.length !== this.#payload.length) this.#run.problem(`echo of ${data.length} bytes, sent ${this.#payload.length}`);
    if (!this.#run.running) return;
    this.#run.rtts.push(performance.now() - sent);
    this.#send();
  }
}

async function main(): Promise<void> {
  const url = arg('url');
  const conns = Number(arg('conns', '50'));
  const inflight = Number(arg('inflight', '4'));
  const payload = Buffer.alloc(Number(arg('bytes', '64')), 'w');
  const seconds = Number(arg('seconds', '5'));

  const run = new Run();
  const all = Array.from({ length: conns }, () => new Conn(url, run, payload, inflight));
  const ok = await Promise.all(all.map((c) => c.opened));
  const open = all.filter((_, i) => ok[i]);
  run.running = true;
  const t0 = performance.now();
  for (const c of open) c.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  run.running = false;
  const elapsed = (performance.now() - t0) / 1000;
  run.finished = true;
  for (const c of open) c.stop();
  const rtts = run.rtts.sort((a, b) => a - b);
  const out: WsLoadResult = { messages: rtts.length, seconds: elapsed, p50ms: percentile(rtts, 50), p99ms: percentile(rtts, 99), errors: run.errors, problems: run.problems };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`ws load: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
