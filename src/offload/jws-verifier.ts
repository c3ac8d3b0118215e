/**
 * Where the jwt plugin's signature checks run (--jwt-verify), on a cache miss:
 *
 *   inline  on the worker's own thread, synchronously (the default; see bench/offload/main.ts)
 *   pool    one piscina task per verification, on this worker's own small pool
 *   batch   verifications collected for up to `windowMs` or `maxItems`, then one piscina task
 *
 * One verifier per data-plane worker, shared by every snapshot it compiles; the pool is made on
 * the first offloaded verification, so `inline` never starts a thread. `close()` ends the pool.
 */
import path from 'node:path';
import { Piscina } from 'piscina';
import type { JwtAlgorithm } from '../config/types';
import { keyMaterial, verifySignature, type PreparedKey } from '../plugins/jwt/jws';
import type { VerifyItem } from './jws-task';
import { JWT_VERIFY_MODES, type JwtVerifyMode } from './modes';
import { ResourceKey } from '../plugins/resources';

export { JWT_VERIFY_MODES, type JwtVerifyMode };

/** The worker's --jwt-verify verifier, as a plugin resource (plugins/resources.ts). */
export const JWS_VERIFIER = new ResourceKey<JwsVerifier>('jws-verifier');

export interface JwsVerifier {
  readonly mode: JwtVerifyMode;
  /**
   * True only for a valid signature of `input` by `key` (a key prepared for `alg`). Synchronous
   * inline; a promise when offloaded, which rejects only if the pool itself fails.
   */
  verify(alg: JwtAlgorithm, key: PreparedKey, input: string, sig: Buffer): boolean | Promise<boolean>;
  close(): Promise<void>;
}

export interface OffloadOptions {
  /** Threads of the pool (default 1: there is already one worker per core). */
  readonly threads?: number;
  /** batch: flush after this long (default 1 ms) ... */
  readonly windowMs?: number;
  /** ... or once this many are waiting (default 32). */
  readonly maxItems?: number;
}

export const inlineVerifier: JwsVerifier = {
  mode: 'inline',
  verify: (_alg, key, input, sig) => verifySignature(key, input, sig),
  close: () => Promise.resolve(),
};

export function createJwsVerifier(mode: JwtVerifyMode, options: OffloadOptions = {}): JwsVerifier {
  switch (mode) {
    case 'inline':
      return inlineVerifier;
    case 'pool':
      return new PoolVerifier(options);
    case 'batch':
      return new BatchVerifier(options);
  }
}

const TASK_FILE = path.join(__dirname, 'jws-task.js');

/** Key bytes and the id the offload thread caches them under, made once per prepared key. */
const wireKeys = new WeakMap<PreparedKey, { readonly id: number; readonly material: Uint8Array }>();
let nextKeyId = 1;

function toItem(alg: JwtAlgorithm, key: PreparedKey, input: string, sig: Buffer): VerifyItem {
  let wire = wireKeys.get(key);
  if (wire === undefined) {
    wire = { id: nextKeyId++, material: new Uint8Array(keyMaterial(key)) };
    wireKeys.set(key, wire);
  }
  // A copy: `sig` may be a view of Buffer's shared 8 KB pool, which postMessage would clone whole.
  return { alg, keyId: wire.id, material: wire.material, input, sig: new Uint8Array(sig) };
}

/** The per-worker piscina pool, made on first use. */
class LazyPool {
  readonly #threads: number;
  #pool: Piscina | null = null;
  #closed = false;

  constructor(threads: number) {
    this.#threads = threads;
  }

  run(task: unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('jwt offload pool is closed'));
    let pool = this.#pool;
    if (pool === null) {
      pool = new Piscina({ filename: TASK_FILE, minThreads: this.#threads, maxThreads: this.#threads, idleTimeout: Infinity });
      this.#pool = pool;
    }
    return pool.run(task);
  }

  get started(): boolean {
    return this.#pool !== null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = null;
    if (pool !== null) await pool.close({ force: true });
  }
}

class PoolVerifier implements JwsVerifier {
  readonly mode = 'pool';
  readonly #pool: LazyPool;

  constructor(options: OffloadOptions) {
    this.#pool = new LazyPool(options.threads ?? 1);
  }

  verify(alg: JwtAlgorithm, key: PreparedKey, input: string, sig: Buffer): Promise<boolean> {
    return this.#pool.run(toItem(alg, key, input, sig)) as Promise<boolean>;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

interface Waiter {
  resolve(ok: boolean): void;
  reject(err: unknown): void;
}

class BatchVerifier implements JwsVerifier {
  readonly mode = 'batch';
  readonly #pool: LazyPool;
  readonly #windowMs: number;
  readonly #maxItems: number;
  #items: VerifyItem[] = [];
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | null = null;
  readonly #flush = () => this.flush();

  constructor(options: OffloadOptions) {
    this.#pool = new LazyPool(options.threads ?? 1);
    this.#windowMs = options.windowMs ?? 1;
    this.#maxItems = options.maxItems ?? 32;
  }

  verify(alg: JwtAlgorithm, key: PreparedKey, input: string, sig: Buffer): Promise<boolean> {
    const promise = new Promise<boolean>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#items.push(toItem(alg, key, input, sig));
    if (this.#items.length >= this.#maxItems) this.flush();
    else if (this.#timer === null) this.#timer = setTimeout(this.#flush, this.#windowMs);
    return promise;
  }

  /** Send what is waiting now (the timer and the size limit call this). */
  flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const items = this.#items;
    if (items.length === 0) return;
    const waiters = this.#waiters;
    this.#items = [];
    this.#waiters = [];
    this.#pool.run(items).then(
      (result) => {
        const ok = result as Uint8Array;
        for (let i = 0; i < waiters.length; i++) waiters[i].resolve(ok[i] === 1);
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }

  async close(): Promise<void> {
    this.flush();
    await this.#pool.close();
  }
}
