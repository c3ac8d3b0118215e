/**
 * `floodgate-fault`: a plugin that fails on request, for tests of the plugin exception policy
 * (proxy/chain.ts). Registered only with FLOODGATE_FAULT_INJECTION=1, like the
 * `x-floodgate-fault` request header, so no production config can name it.
 *
 * Steered per request:
 *   x-fault-phase: request | upstream-request | response | response-body | log
 *   x-fault-async: 1   onRequest awaits first (a timer turn), then fails there or lets the later
 *                      phase fail, so the failure comes after an await
 * Without x-fault-phase it only tags the response with the worker's pid and thread id, so a test
 * can tell that the same worker is still serving. `close()` writes a line naming `config.label`,
 * so a test sees the instance closed when its snapshot retired.
 */
import { threadId } from 'node:worker_threads';
import { Type } from '@sinclair/typebox';
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance, type ResponseBodyFilter } from '../api';

const WORKER_TAG = `${process.pid}/${threadId}`;

class InjectedFault extends Error {
  constructor(phase: string) {
    super(`injected plugin fault in ${phase}`);
    this.name = 'InjectedFault';
  }
}

function waitATurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

const throwingFilter: ResponseBodyFilter = {
  onChunk(): Buffer | null {
    throw new InjectedFault('response body filter');
  },
  onEnd(): Buffer | null {
    throw new InjectedFault('response body filter');
  },
};

class FaultPlugin implements PluginInstance {
  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    ctx.setResponseHeader('x-fault-worker', WORKER_TAG);
    const phase = ctx.request.header('x-fault-phase');
    if (ctx.request.header('x-fault-async') === '1') return this.#afterAwait(phase);
    if (phase === 'request') throw new InjectedFault('onRequest');
    return Verdict.Continue;
  }

  async #afterAwait(phase: string | undefined): Promise<Verdict> {
    await waitATurn();
    if (phase === 'request') throw new InjectedFault('onRequest after an await');
    return Verdict.Continue;
  }

  onUpstreamRequest(ctx: PluginContext): void {
    if (ctx.request.header('x-fault-phase') === 'upstream-request') throw new InjectedFault('onUpstreamRequest');
  }

  onResponse(ctx: PluginContext): void {
    const phase = ctx.request.header('x-fault-phase');
    if (phase === 'response') throw new InjectedFault('onResponse');
    if (phase === 'response-body') ctx.filterResponseBody(throwingFilter, false);
  }

  onLog(ctx: PluginContext): void {
    if (ctx.request.header('x-fault-phase') === 'log') throw new InjectedFault('onLog');
  }

  /** Says so on stderr (the gateway's log stream), so a test sees when its snapshot retired. */
  close(): void {
    process.stderr.write(JSON.stringify({ msg: 'floodgate-fault closed', worker: WORKER_TAG, label: this.#label }) + '\n');
  }

  readonly #label: string;
  constructor(label: string) {
    this.#label = label;
  }
}

export const fault: PluginDefinition<{ label: string }> = {
  name: 'floodgate-fault',
  // Runs before every other plugin in each phase, so a failing onLog precedes the others.
  priority: 1_000_000,
  version: '1.0.0',
  configSchema: Type.Object({ label: Type.String({ default: '' }) }, { additionalProperties: false }),
  create(conf): PluginInstance {
    return new FaultPlugin(conf.label);
  },
};
