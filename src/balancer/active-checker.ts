/**
 * Active health checks, once per node, on the primary (cold code): each target of an upstream with
 * a non-zero `healthchecks.active.healthy.interval` or `unhealthy.interval` is probed on its own
 * timer, every `healthy.interval` while healthy and every `unhealthy.interval` while not (an
 * interval of 0 stops probing in that state, as in Kong). An `http`/`https` probe is a GET on
 * `http_path` with the configured headers on a fresh connection; a `tcp` probe only connects.
 * Results go through the same state machine as passive checks (health-state.ts), straight into
 * the SharedArrayBuffer every worker reads.
 *
 * `healthchecks.active.concurrency` (Kong's) caps the probes of one upstream in flight at once: a
 * probe whose timer fires while the upstream is at its cap waits for one to finish, so a large
 * upstream is checked in waves instead of opening a connection to every target at once.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/types';
import { CheckThresholds, Outcome, recordOutcome } from './health-state';
import { HealthState, type SharedBalancerState } from './shared-state';
import type { ResolvedTarget, Topology } from './topology';

/** While probing is off in the current state, look again this often (passive checks may flip it). */
const IDLE_RECHECK_MS = 1000;

interface Probe {
  readonly upstream: UpstreamConfig;
  readonly target: ResolvedTarget;
  readonly thresholds: CheckThresholds;
  readonly gate: ConcurrencyGate;
  timer: NodeJS.Timeout | null;
  stopped: boolean;
}

/** One upstream's probes in flight, and those waiting for a free place. */
interface ConcurrencyGate {
  readonly limit: number;
  running: number;
  readonly waiting: Probe[];
}

export class ActiveChecker {
  readonly #shared: SharedBalancerState;
  readonly #logger: Logger;
  readonly #now: () => number;
  #probes: Probe[] = [];

  constructor(shared: SharedBalancerState, logger: Logger, now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#shared = shared;
    this.#logger = logger;
    this.#now = now;
  }

  /** Replace every probe (config reload or DNS change). Health state itself lives on in its slots. */
  update(upstreams: readonly UpstreamConfig[], topology: Topology): void {
    this.stop();
    for (const u of upstreams) {
      const active = u.healthchecks.active;
      if (active.healthy.interval <= 0 && active.unhealthy.interval <= 0) continue;
      const thresholds = CheckThresholds.active(u.healthchecks);
      const gate: ConcurrencyGate = { limit: Math.max(1, active.concurrency), running: 0, waiting: [] };
      for (const target of topology[u.name]?.targets ?? []) {
        if (target.slot < 0 || target.dnsError) continue;
        const probe: Probe = { upstream: u, target, thresholds, gate, timer: null, stopped: false };
        this.#probes.push(probe);
        this.#schedule(probe);
      }
    }
  }

  stop(): void {
    for (const p of this.#probes) {
      p.stopped = true;
      if (p.timer !== null) clearTimeout(p.timer);
    }
    this.#probes = [];
  }

  #schedule(p: Probe): void {
    if (p.stopped) return;
    const active = p.upstream.healthchecks.active;
    const healthy = this.#shared.state(p.target.slot) === HealthState.Healthy;
    const interval = healthy ? active.healthy.interval : active.unhealthy.interval;
    const delay = interval > 0 ? interval * 1000 : IDLE_RECHECK_MS;
    p.timer = setTimeout(() => {
      p.timer = null;
      if (interval <= 0) return this.#schedule(p);
      if (p.gate.running >= p.gate.limit) p.gate.waiting.push(p);
      else this.#run(p);
    }, delay);
    p.timer.unref();
  }

  #run(p: Probe): void {
    p.gate.running++;
    void this.#probe(p).then((outcome) => {
      const gate = p.gate;
      gate.running--;
      const next = gate.waiting.shift();
      if (next !== undefined && !next.stopped) this.#run(next);
      if (p.stopped) return;
      const [kind, status] = outcome;
      if (kind >= 0) {
        const changed = recordOutcome(this.#shared, p.target.slot, kind, status, p.thresholds, false, this.#now(), null);
        if (changed) {
          const state = this.#shared.state(p.target.slot) === HealthState.Healthy ? 'healthy' : 'unhealthy';
          this.#logger.info({ upstream: p.upstream.name, target: p.target.target, address: p.target.address, state }, 'active health check changed target state');
        }
      }
      this.#schedule(p);
    });
  }

  /** [outcome or -1, http status]. */
  #probe(p: Probe): Promise<[number, number]> {
    const active = p.upstream.healthchecks.active;
    const timeoutMs = Math.max(1, active.timeout * 1000);
    const { address, port } = p.target;
    if (active.type === 'tcp') {
      return new Promise((resolve) => {
        const socket = net.connect({ host: address, port });
        socket.setTimeout(timeoutMs, () => {
          socket.destroy();
          resolve([Outcome.Timeout, 0]);
        });
        socket.once('connect', () => {
          socket.destroy();
          resolve([Outcome.Success, 0]);
        });
        socket.once('error', () => resolve([Outcome.TcpFailure, 0]));
      });
    }
    const secure = active.type === 'https' || active.type === 'grpcs';
    const headers: Record<string, string | string[]> = { host: hostHeader(p.target, secure) };
    if (active.headers !== null) for (const [k, v] of Object.entries(active.headers)) headers[k] = [...v];
    return new Promise((resolve) => {
      let settled = false;
      const done = (r: [number, number]) => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const req = (secure ? https : http).request(
        {
          host: address,
          port,
          method: 'GET',
          path: active.http_path,
          headers,
          agent: false,
          timeout: timeoutMs,
          ...(secure ? { servername: active.https_sni ?? undefined, rejectUnauthorized: active.https_verify_certificate } : {}),
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          const kind = p.thresholds.classifyStatus(status);
          // A status in neither list counts for nothing, as in Kong.
          done([kind, status]);
          res.once('end', () => req.destroy());
        },
      );
      req.once('timeout', () => {
        done([Outcome.Timeout, 0]);
        req.destroy();
      });
      req.once('error', () => done([Outcome.TcpFailure, 0]));
      req.end();
    });
  }
}

function hostHeader(t: ResolvedTarget, secure: boolean): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return t.port === (secure ? 443 : 80) ? host : `${host}:${t.port}`;
}
