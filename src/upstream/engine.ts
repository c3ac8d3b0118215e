/**
 * The worker's upstream HTTP/1.1 engine: one pool per target address and connection options,
 * and one coarse clock. Instead of a timer per request, one interval (TICK_MS) advances `now`
 * and sweeps every pool's deadlines; it runs only while some pool has a connection or a waiting
 * request. A deadline therefore fires between its time and one tick later, never early.
 *
 * Pools outlive snapshots: a reload that keeps a target keeps its warm connections. A pool the
 * new snapshot no longer references stops taking requests and closes after its exchanges end.
 */
import { isIP } from 'node:net';
import { UpstreamPool, type PoolOptions } from './pool';
import { jsKernel, type ParserKernel } from './parser-kernel';
import { nativeKernel, nativeKernelUnavailableReason } from './native-kernel';
import { nativeSocketsAvailable } from './native-socket';

export const TICK_MS = 50;

export interface EngineSettings {
  /** Connections per target per worker; 0 = unlimited. */
  readonly upstreamConnections: number;
  readonly upstreamKeepAliveMs: number;
  /** Requests per connection before it is closed; 0 = unlimited. */
  readonly upstreamKeepAliveRequests?: number;
  /** Largest upstream response head (status line + headers), else 502. */
  readonly upstreamMaxHeadBytes?: number;
  /** --upstream-engine: who does the byte work, parsing and plain-TCP socket I/O (default js). */
  readonly upstreamEngine?: 'js' | 'native';
}

/** What a service and its upstream say about one target's pool. */
export interface TargetPoolSpec {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  /** The target's name, for SNI ('' or an IP: none). */
  readonly servername: string;
  readonly tlsVerify: boolean;
  readonly connectTimeoutMs: number;
  /** The upstream's circuit_breakers.max_connections; 0 = none. */
  readonly maxConnections: number;
  /** The upstream's circuit_breakers.max_pending_requests (0 = no queue); -1 = none set. */
  readonly maxPending: number;
}

/** Pending requests allowed when the config sets no max_pending_requests. */
const DEFAULT_MAX_PENDING = 1024;

export class UpstreamEngine {
  readonly #pools = new Map<string, UpstreamPool>();
  readonly #settings: EngineSettings;
  /** The coarse clock (performance.now() at the last tick). */
  now = performance.now();
  #timer: NodeJS.Timeout | null = null;

  /** The parser kernel every connection uses (parser-kernel.ts). */
  readonly kernel: ParserKernel;
  /** Plain-TCP connections to IP targets use the addon's sockets (native-socket.ts). */
  readonly nativeSockets: boolean;
  /**
   * Why `native` was asked for and `js` runs ('' otherwise): the addon is not built or is older
   * than 1.5.0. The worker logs it once; the js engine behaves identically, only its speed
   * differs.
   */
  readonly kernelFallbackReason: string;

  constructor(settings: EngineSettings) {
    this.#settings = settings;
    const native = settings.upstreamEngine === 'native';
    if (native && (nativeKernel === null || !nativeSocketsAvailable)) {
      this.kernel = jsKernel;
      this.nativeSockets = false;
      const why = nativeKernel === null ? nativeKernelUnavailableReason : 'the native addon is out of date (no transport; rebuild with `sh native/build.sh`)';
      this.kernelFallbackReason = `--upstream-engine native: ${why}; using the js engine`;
    } else {
      this.kernel = native ? nativeKernel! : jsKernel;
      this.nativeSockets = native;
      this.kernelFallbackReason = '';
    }
  }

  static key(spec: TargetPoolSpec): string {
    return `${spec.secure ? 'https' : 'http'}://${spec.host}:${spec.port}|${spec.servername}|${spec.tlsVerify ? 1 : 0}|${spec.connectTimeoutMs}|${spec.maxConnections}|${spec.maxPending}`;
  }

  get(spec: TargetPoolSpec): UpstreamPool {
    const key = UpstreamEngine.key(spec);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      const s = this.#settings;
      const caps = [s.upstreamConnections, spec.maxConnections].filter((n) => n > 0);
      const options: PoolOptions = {
        secure: spec.secure,
        host: spec.host,
        port: spec.port,
        servername: spec.servername,
        tlsVerify: spec.tlsVerify,
        connectTimeoutMs: spec.connectTimeoutMs,
        maxConnections: caps.length === 0 ? 0 : Math.min(...caps),
        maxPending: spec.maxPending >= 0 ? spec.maxPending : DEFAULT_MAX_PENDING,
        // Waiting for a connection is bounded like making one: by the service's connect_timeout.
        queueTimeoutMs: spec.connectTimeoutMs,
        keepAliveMs: s.upstreamKeepAliveMs,
        maxRequestsPerConnection: s.upstreamKeepAliveRequests ?? 0,
        maxHeadBytes: s.upstreamMaxHeadBytes ?? 32 * 1024,
        kernel: this.kernel,
        nativeSockets: this.nativeSockets && !spec.secure && isIP(spec.host) !== 0,
      };
      pool = new UpstreamPool(this, key, options);
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** A deadline `ms` from now on the coarse clock, rounded up so it never fires early. */
  deadlineIn(ms: number): number {
    return this.now + ms + TICK_MS;
  }

  /** Some pool has work: make sure the clock runs. */
  wake(): void {
    if (this.#timer !== null) return;
    this.now = performance.now();
    this.#timer = setInterval(this.#tick, TICK_MS);
    this.#timer.unref();
  }

  #tick = (): void => {
    const now = (this.now = performance.now());
    let busy = false;
    for (const pool of this.#pools.values()) {
      pool.sweep(now);
      if (pool.busy) busy = true;
    }
    for (const pool of this.#retiring) {
      pool.sweep(now);
      if (pool.busy) busy = true;
    }
    if (this.#retiring.size > 0) for (const pool of this.#retiring) if (!pool.busy) this.#retiring.delete(pool);
    if (!busy && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  };

  /** Pools closed by a reload whose exchanges still run: swept until they are done. */
  readonly #retiring = new Set<UpstreamPool>();

  /** Close every pool whose key is not in `keep`, after its exchanges end. */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const [key, pool] of this.#pools) {
      if (keep.has(key)) continue;
      this.#pools.delete(key);
      pool.close();
      if (pool.busy) this.#retiring.add(pool);
    }
  }

  async closeAll(): Promise<void> {
    const pools = [...this.#pools.values(), ...this.#retiring];
    this.#pools.clear();
    this.#retiring.clear();
    for (const pool of pools) pool.destroy();
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}
