/**
 * One worker's connection to one redis server for the redis policy (ioredis), shared by every
 * plugin instance that names the same server, across config reloads.
 *
 * Failure behaviour, chosen for a gateway: commands never queue while the connection is down
 * (enableOfflineQueue off, no per-command retries), so a request learns at once that redis is
 * unreachable and the plugin can fail open or answer 500 (fault_tolerant). ioredis keeps
 * reconnecting in the background (backoff up to 1 s), and the first command after it is back
 * works again: no restart. Failures are logged once per interval, not once per request.
 */
import os from 'node:os';
import { threadId } from 'node:worker_threads';
import Redis from 'ioredis';
import { HIT_WINDOWS, SYNC_WINDOWS, TAKE_TOKENS } from './redis-scripts';

export interface RedisSettings {
  readonly host: string;
  readonly port: number;
  readonly username: string | null;
  readonly password: string | null;
  readonly database: number;
  readonly timeout: number;
  readonly ssl: boolean;
  readonly ssl_verify: boolean;
  readonly server_name: string | null;
}

/** What the store needs to say that redis is down or back (the worker's system logger). */
export interface FaultLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** How often a store may log that redis is unreachable (ms). */
export const FAULT_LOG_INTERVAL_MS = 10_000;

type ScriptClient = Redis & {
  rlHit(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  rlTokens(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  rlSync(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

export class RedisCounterStore {
  readonly client: ScriptClient;
  readonly address: string;
  /** This worker in the sets of workers sharing a budget (sync_rate). */
  readonly member = `${os.hostname()}:${process.pid}:${threadId}`;
  readonly #log: FaultLog;
  #ready: Promise<void> | null = null;
  #lastFaultLogAt = -Infinity;
  #faultsSinceLog = 0;
  #down = false;

  constructor(settings: RedisSettings, log: FaultLog) {
    this.address = `${settings.host}:${settings.port}/${settings.database}`;
    this.#log = log;
    const client = new Redis({
      host: settings.host,
      port: settings.port,
      username: settings.username ?? undefined,
      password: settings.password ?? undefined,
      db: settings.database,
      connectTimeout: settings.timeout,
      commandTimeout: settings.timeout,
      tls: settings.ssl ? { rejectUnauthorized: settings.ssl_verify, servername: settings.server_name ?? undefined } : undefined,
      lazyConnect: true,
      enableOfflineQueue: false,
      // Commands issued in the same event-loop turn (many requests at once) go out in one write.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
    });
    client.defineCommand('rlHit', { lua: HIT_WINDOWS });
    client.defineCommand('rlTokens', { lua: TAKE_TOKENS });
    client.defineCommand('rlSync', { lua: SYNC_WINDOWS });
    // Errors surface through the commands; without a listener ioredis would print each one.
    client.on('error', () => {});
    client.on('ready', () => {
      if (this.#down) {
        this.#down = false;
        this.#log.info({ redis: this.address }, 'rate limiting: redis reachable again');
      }
    });
    this.client = client as ScriptClient;
  }

  /** Resolves once the first connection is up (or failed); later calls cost nothing. */
  ready(): Promise<void> {
    if (this.#ready === null) this.#ready = this.client.connect().catch(() => {});
    return this.#ready;
  }

  /** A command failed: log it, at most once per interval, with how many failed since. */
  fault(err: unknown, failOpen: boolean, nowMs: number): void {
    this.#down = true;
    this.#faultsSinceLog++;
    if (nowMs - this.#lastFaultLogAt < FAULT_LOG_INTERVAL_MS) return;
    this.#log.warn(
      { redis: this.address, err: err instanceof Error ? err.message : String(err), failures: this.#faultsSinceLog, failOpen },
      failOpen ? 'rate limiting: redis unreachable, letting requests through (fault_tolerant)' : 'rate limiting: redis unreachable, answering 500 (fault_tolerant is false)',
    );
    this.#lastFaultLogAt = nowMs;
    this.#faultsSinceLog = 0;
  }

  close(): void {
    this.client.disconnect();
  }
}

const stores = new Map<string, RedisCounterStore>();

/** This thread's store for `settings` (one connection per server per worker thread). */
export function redisStoreFor(settings: RedisSettings, log: FaultLog): RedisCounterStore {
  const key = JSON.stringify([settings.host, settings.port, settings.username, settings.password, settings.database, settings.timeout, settings.ssl, settings.ssl_verify, settings.server_name]);
  let store = stores.get(key);
  if (store === undefined) {
    store = new RedisCounterStore(settings, log);
    stores.set(key, store);
  }
  return store;
}

/** Close every store of this thread (tests, shutdown). */
export function closeRedisStores(): void {
  for (const s of stores.values()) s.close();
  stores.clear();
}
