/**
 * The health state machine of a target, with Kong's counters: each outcome (success, HTTP
 * failure, TCP failure, timeout) increments its counter and resets the opposite ones; a counter
 * reaching its threshold flips the state. Active checks (primary) and passive checks (workers,
 * from real traffic) share the same counters in the SharedArrayBuffer, as in Kong.
 *
 * Transitions use compare-and-swap, so two workers seeing the same failure flip the state once.
 */
import type { HealthchecksConfig } from '../config/types';
import { HealthState, Reason, type SharedBalancerState, T } from './shared-state';

export const enum Outcome {
  Success = 0,
  HttpFailure = 1,
  TcpFailure = 2,
  Timeout = 3,
}

/** One side's (active or passive) thresholds, compiled: statuses as lookup tables. */
export class CheckThresholds {
  readonly successes: number;
  readonly httpFailures: number;
  readonly tcpFailures: number;
  readonly timeouts: number;
  readonly #healthy = new Uint8Array(1000);
  readonly #unhealthy = new Uint8Array(1000);
  /** Whether any counter can flip the state (all zero = this side is off). */
  readonly enabled: boolean;

  constructor(
    healthy: { readonly http_statuses: readonly number[]; readonly successes: number },
    unhealthy: { readonly http_statuses: readonly number[]; readonly tcp_failures: number; readonly timeouts: number; readonly http_failures: number },
  ) {
    this.successes = healthy.successes;
    this.httpFailures = unhealthy.http_failures;
    this.tcpFailures = unhealthy.tcp_failures;
    this.timeouts = unhealthy.timeouts;
    for (const s of healthy.http_statuses) this.#healthy[s] = 1;
    for (const s of unhealthy.http_statuses) this.#unhealthy[s] = 1;
    this.enabled = this.successes > 0 || this.httpFailures > 0 || this.tcpFailures > 0 || this.timeouts > 0;
  }

  static passive(h: HealthchecksConfig): CheckThresholds {
    return new CheckThresholds(h.passive.healthy, h.passive.unhealthy);
  }

  static active(h: HealthchecksConfig): CheckThresholds {
    return new CheckThresholds(h.active.healthy, h.active.unhealthy);
  }

  /** Success, HttpFailure, or -1 for a status that is neither (it counts for nothing). */
  classifyStatus(status: number): number {
    if (status >= 0 && status < 1000) {
      if (this.#unhealthy[status] === 1) return Outcome.HttpFailure;
      if (this.#healthy[status] === 1) return Outcome.Success;
    }
    return -1;
  }
}

/** Decides whether a passive ejection may happen (max_ejection_percent, never the last healthy target). */
export interface EjectionGuard {
  mayEject(slot: number): boolean;
}

const COUNTER_OF = [T.Successes, T.HttpFailures, T.TcpFailures, T.Timeouts] as const;

/**
 * Record one outcome for `slot`. Returns true when it changed the state. `now` is unix seconds
 * (a fake clock in tests). `guard` is null for active checks, which may take every target out.
 */
export function recordOutcome(
  shared: SharedBalancerState,
  slot: number,
  outcome: Outcome,
  status: number,
  th: CheckThresholds,
  passive: boolean,
  now: number,
  guard: EjectionGuard | null,
): boolean {
  if (slot < 0) return false;
  const mem = shared.targets;
  const base = slot * T.Stride;
  const state = mem[base + T.State];
  if (outcome === Outcome.Success) {
    // Reset failure counters only when set: a healthy target under load stays write-free.
    if (mem[base + T.HttpFailures] !== 0) Atomics.store(mem, base + T.HttpFailures, 0);
    if (mem[base + T.TcpFailures] !== 0) Atomics.store(mem, base + T.TcpFailures, 0);
    if (mem[base + T.Timeouts] !== 0) Atomics.store(mem, base + T.Timeouts, 0);
    if (state !== HealthState.Unhealthy || th.successes === 0) return false;
    const count = Atomics.add(mem, base + T.Successes, 1) + 1;
    if (count < th.successes) return false;
    if (Atomics.compareExchange(mem, base + T.State, HealthState.Unhealthy, HealthState.Healthy) !== HealthState.Unhealthy) return false;
    setReason(mem, base, passive ? Reason.PassiveSuccess : Reason.ActiveSuccess, count, status);
    clearCounters(mem, base);
    Atomics.store(mem, base + T.EjectedAt, 0);
    return true;
  }
  const limit = outcome === Outcome.HttpFailure ? th.httpFailures : outcome === Outcome.TcpFailure ? th.tcpFailures : th.timeouts;
  if (mem[base + T.Successes] !== 0) Atomics.store(mem, base + T.Successes, 0);
  if (limit === 0 || state !== HealthState.Healthy) return false;
  const count = Atomics.add(mem, base + COUNTER_OF[outcome], 1) + 1;
  if (count < limit) return false;
  if (guard !== null && !guard.mayEject(slot)) return false;
  if (Atomics.compareExchange(mem, base + T.State, HealthState.Healthy, HealthState.Unhealthy) !== HealthState.Healthy) return false;
  const reason = passive
    ? outcome === Outcome.HttpFailure ? Reason.PassiveHttp : outcome === Outcome.TcpFailure ? Reason.PassiveTcp : Reason.PassiveTimeout
    : outcome === Outcome.HttpFailure ? Reason.ActiveHttp : outcome === Outcome.TcpFailure ? Reason.ActiveTcp : Reason.ActiveTimeout;
  setReason(mem, base, reason, count, status);
  clearCounters(mem, base);
  Atomics.store(mem, base + T.EjectedAt, passive ? now : 0);
  return true;
}

/** Passive ejections older than `ejectionTime` seconds end (primary, once a second). */
export function expireEjection(shared: SharedBalancerState, slot: number, ejectionTime: number, now: number): boolean {
  if (slot < 0 || ejectionTime <= 0) return false;
  const mem = shared.targets;
  const base = slot * T.Stride;
  const at = Atomics.load(mem, base + T.EjectedAt);
  if (at === 0 || now - at < ejectionTime) return false;
  if (Atomics.compareExchange(mem, base + T.State, HealthState.Unhealthy, HealthState.Healthy) !== HealthState.Unhealthy) return false;
  setReason(mem, base, Reason.EjectionExpired, 0, 0);
  clearCounters(mem, base);
  Atomics.store(mem, base + T.EjectedAt, 0);
  return true;
}

/** DNS gave no address for a target: it stays out until a resolution succeeds. */
export function markDns(shared: SharedBalancerState, slot: number, failed: boolean): void {
  if (slot < 0) return;
  const mem = shared.targets;
  const base = slot * T.Stride;
  if (failed) {
    Atomics.store(mem, base + T.State, HealthState.DnsError);
    setReason(mem, base, Reason.DnsFailed, 0, 0);
  } else if (Atomics.compareExchange(mem, base + T.State, HealthState.DnsError, HealthState.Healthy) === HealthState.DnsError) {
    setReason(mem, base, Reason.None, 0, 0);
  }
}

function setReason(mem: Int32Array, base: number, reason: Reason, count: number, status: number): void {
  Atomics.store(mem, base + T.Reason, reason);
  Atomics.store(mem, base + T.ReasonCount, count);
  Atomics.store(mem, base + T.ReasonStatus, status);
}

function clearCounters(mem: Int32Array, base: number): void {
  Atomics.store(mem, base + T.Successes, 0);
  Atomics.store(mem, base + T.HttpFailures, 0);
  Atomics.store(mem, base + T.TcpFailures, 0);
  Atomics.store(mem, base + T.Timeouts, 0);
}

/** Why a target is in its state, for the admin API: "active: 3 consecutive tcp failures". */
export function describeReason(shared: SharedBalancerState, slot: number): string {
  if (slot < 0) return 'not tracked';
  const mem = shared.targets;
  const base = slot * T.Stride;
  const n = Atomics.load(mem, base + T.ReasonCount);
  const status = Atomics.load(mem, base + T.ReasonStatus);
  const plural = (word: string) => (n === 1 ? word : word + 's');
  switch (Atomics.load(mem, base + T.Reason) as Reason) {
    case Reason.ActiveTcp:
      return `active: ${n} consecutive tcp ${plural('failure')}`;
    case Reason.ActiveTimeout:
      return `active: ${n} consecutive ${plural('timeout')}`;
    case Reason.ActiveHttp:
      return `active: ${n} consecutive http ${status}`;
    case Reason.ActiveSuccess:
      return `active: ${n} consecutive ${plural('success').replace('successs', 'successes')}`;
    case Reason.PassiveTcp:
      return `passive: ${n} consecutive tcp ${plural('failure')}`;
    case Reason.PassiveTimeout:
      return `passive: ${n} consecutive ${plural('timeout')}`;
    case Reason.PassiveHttp:
      return `passive: ${n} consecutive http ${status}`;
    case Reason.PassiveSuccess:
      return `passive: ${n} consecutive ${plural('success').replace('successs', 'successes')}`;
    case Reason.EjectionExpired:
      return 'passive: ejection time over, back in rotation';
    case Reason.DnsFailed:
      return 'dns: name resolution failed';
    default:
      return 'no failures recorded';
  }
}
