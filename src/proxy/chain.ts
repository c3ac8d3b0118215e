/**
 * The plugin chain: runs a request's compiled phase arrays (plugin-chains.ts) with ONE exception
 * policy, as Envoy's filter manager does (no exception escapes the data plane):
 *
 *   whatever a plugin throws, in any phase, synchronously or as a rejected promise after an await,
 *   - the request gets Kong's 500 `{"message":"An unexpected error occurred"}` while no response
 *     head went out, or its connection is closed once one did;
 *   - one log line names the plugin, the phase and the route;
 *   - the worker goes on (nothing reaches uncaughtException or unhandledRejection).
 *
 * onLog plugins are isolated from each other: one that throws is logged and the next one runs.
 * A throwing onResponse is the gateway's error (source 'error', 500), never an upstream 502, and
 * it does not count against the target's health.
 *
 * The sync fast path stays a plain loop: a try/catch around a call costs nothing in V8 until it
 * throws, and only an onRequest that returns a promise pays for the two continuation closures.
 */
import type { Logger } from 'pino';
import { Verdict, type PluginContext } from '../plugins/api';
import type { PluginChain } from './plugin-chains';

/** What the chain needs from the request it runs on (request-context.ts implements it). */
export interface ChainHost extends PluginContext {
  /** The plugins this request runs (a consumer's chain once authentication switched it). */
  chain: PluginChain;
  /** The next onRequest plugin to run in `chain`; the running one is at chainIndex - 1. */
  chainIndex: number;
  /** The onResponse plugin running now (index in chain.onResponse). */
  responsePluginAt: number;
  /** The client went away, or the response ended: nothing more to answer. */
  readonly finished: boolean;
  readonly logger: Logger;
  /** Every onRequest plugin continued: pick a target, run onUpstreamRequest, dispatch. */
  forward(): void;
  /** The policy's answer: a 500 when no head went out, else close the connection. */
  failInternal(): void;
}

/** Phase names as they appear in the failure log line. */
export type PhaseName = 'onRequest' | 'onUpstreamRequest' | 'onResponse' | 'onResponseBody' | 'onLog';

/** The one place a plugin failure is logged (once per failure, with plugin, phase and route). */
export function logPluginFailure(host: ChainHost, err: unknown, plugin: string, phase: PhaseName): void {
  host.logger.error({ err, plugin, phase, route: host.routeName }, 'plugin failed');
}

/** The policy, whole: log it, then a 500 or a closed connection. */
export function pluginFailed(host: ChainHost, err: unknown, plugin: string, phase: PhaseName): void {
  logPluginFailure(host, err, plugin, phase);
  if (!host.finished) host.failInternal();
}

/** Run the onRequest plugins from where the request left off; forward when all continue. */
export function runRequestPhase(host: ChainHost): void {
  for (;;) {
    // Re-read each time: authentication may have switched to a consumer's chain.
    const chain = host.chain;
    const plugins = chain.onRequest;
    const i = host.chainIndex;
    if (plugins === null || i >= plugins.length) break;
    host.chainIndex = i + 1;
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = plugins[i].onRequest!(host);
    } catch (err) {
      return pluginFailed(host, err, chain.onRequestNames[i], 'onRequest');
    }
    if (verdict === Verdict.Continue) continue;
    if (verdict === Verdict.Stop) return;
    awaitVerdict(host, verdict, chain.onRequestNames[i]);
    return;
  }
  host.forward();
}

/** Only an asynchronous plugin pays for these closures. */
function awaitVerdict(host: ChainHost, pending: Promise<Verdict>, plugin: string): void {
  pending.then(
    (verdict) => resumeAfter(host, verdict),
    (err) => pluginFailed(host, err, plugin, 'onRequest'),
  );
}

/**
 * After an await. Everything this runs (the next plugins, onUpstreamRequest, the dispatch) has its
 * own guard; the outer one catches the gateway's own bugs, which must cost one request too and
 * never become an unhandled rejection.
 */
function resumeAfter(host: ChainHost, verdict: Verdict): void {
  if (host.finished || verdict === Verdict.Stop) return;
  try {
    runRequestPhase(host);
  } catch (err) {
    host.logger.error({ err, route: host.routeName }, 'unexpected error after an asynchronous plugin');
    if (!host.finished) host.failInternal();
  }
}

/** onUpstreamRequest; false when a plugin threw (the request has then been answered). */
export function runUpstreamRequestPhase(host: ChainHost): boolean {
  const chain = host.chain;
  const plugins = chain.onUpstreamRequest;
  if (plugins === null) return true;
  for (let i = 0; i < plugins.length; i++) {
    try {
      plugins[i].onUpstreamRequest!(host);
    } catch (err) {
      pluginFailed(host, err, chain.onUpstreamRequestNames[i], 'onUpstreamRequest');
      return false;
    }
  }
  return true;
}

/**
 * onResponse; for an upstream response it stops early when a plugin answered instead (`finished`). False when a plugin
 * threw: it is logged here, and the caller decides what that costs (the upstream response, or a
 * local reply being decorated). `responsePluginAt` tells filterResponseBody whose filter it gets.
 */
export function runResponsePhase(host: ChainHost, stopWhenAnswered: boolean): boolean {
  const chain = host.chain;
  const plugins = chain.onResponse;
  if (plugins === null) return true;
  for (let i = 0; i < plugins.length; i++) {
    if (stopWhenAnswered && host.finished) break;
    host.responsePluginAt = i;
    try {
      plugins[i].onResponse!(host);
    } catch (err) {
      logPluginFailure(host, err, chain.onResponseNames[i], 'onResponse');
      return false;
    }
  }
  return true;
}

/** onLog: after the end, an abort or an error. Each plugin is isolated from the others. */
export function runLogPhase(host: ChainHost): void {
  const chain = host.chain;
  const plugins = chain.onLog;
  if (plugins === null) return;
  for (let i = 0; i < plugins.length; i++) {
    try {
      plugins[i].onLog!(host);
    } catch (err) {
      logPluginFailure(host, err, chain.onLogNames[i], 'onLog');
    }
  }
}
