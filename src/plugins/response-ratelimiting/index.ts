/**
 * Kong's response-ratelimiting: the upstream says how much a response costs, in a header
 * (`X-Kong-Limit: videos=2, images=1`), and each named limit counts those units per period.
 *
 * onRequest: read the usage of every limit (nothing is counted yet); with
 * block_on_first_violation a used-up limit refuses at once ("API rate limit exceeded for 'name'"),
 * and X-RateLimit-Remaining-<name> is set. onResponse: parse the header (only configured names),
 * send X-RateLimit-Limit-<name>-<period> and X-RateLimit-Remaining-<name>-<period>, hide the
 * header from the client, and answer 429 (no body) when the response would spend a limit that is
 * already used up. onLog: add the increments. As in Kong, counts are read before and added after,
 * so concurrent responses may overshoot a limit by what is in flight.
 *
 * Counting lives in the node-wide shared table of src/ratelimit (policy local): every worker of
 * the node sees the same counts.
 */
import type { PluginConfig } from '../../config/types';
import { KeyHasher } from '../../ratelimit/key-hash';
import { RATE_LIMIT_RUNTIME, standaloneRateLimitRuntime } from '../../ratelimit/runtime';
import type { SharedCounterTable } from '../../ratelimit/shared-table';
import { WindowClock, WINDOW_NAMES, type WindowName } from '../../ratelimit/windows';
import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { clientAddressResolver, type ClientAddressResolver } from '../client-address';
import { ResponseRateLimitingSchema, type ResponseRateLimitingConfig } from './schema';

const JSON_TYPE = 'application/json; charset=utf-8';
/** A count that never refuses: the table is used as a plain counter here. */
const NO_CEILING = 2 ** 31 - 1;

/** One period of one named limit. */
class Counter {
  readonly name: string;
  readonly period: WindowName;
  readonly limit: number;
  readonly hasher: KeyHasher;
  readonly clock: WindowClock;
  readonly limitHeader: string;
  readonly remainingHeader: string;

  constructor(name: string, period: WindowName, limit: number, scopeKey: string) {
    this.name = name;
    this.period = period;
    this.limit = limit;
    this.hasher = new KeyHasher(`response-ratelimiting|${scopeKey}|${name}|${period}`);
    this.clock = new WindowClock(period);
    this.limitHeader = `X-RateLimit-Limit-${name}-${period}`;
    this.remainingHeader = `X-RateLimit-Remaining-${name}-${period}`;
  }
}

/** What one request read in onRequest, for onResponse and onLog. */
class Usage {
  readonly identifier: string;
  readonly nowSec: number;
  /** remaining[i] for counters[i]. */
  readonly remaining: number[];
  increments: Map<string, number> | null = null;
  stopped = false;

  constructor(identifier: string, nowSec: number, n: number) {
    this.identifier = identifier;
    this.nowSec = nowSec;
    this.remaining = new Array<number>(n).fill(0);
  }
}

const ORDER: readonly WindowName[] = WINDOW_NAMES;

function checkConfig(conf: ResponseRateLimitingConfig): { path: string[]; message: string } | null {
  if (conf.policy === 'redis') {
    return { path: ['policy'], message: 'policy "redis" is not supported by response-ratelimiting in Floodgate: use "local" (counts shared by the node\'s workers)' };
  }
  for (const [name, limit] of Object.entries(conf.limits)) {
    const periods = ORDER.filter((p) => limit[p] !== undefined);
    if (periods.length === 0) return { path: ['limits', name], message: `at least one of these fields must be non-empty: ${ORDER.map((p) => `'${p}'`).join(', ')}` };
    for (let i = 0; i < ORDER.length; i++) {
      const v1 = limit[ORDER[i]];
      if (v1 === undefined) continue;
      for (let j = i + 1; j < ORDER.length; j++) {
        const v2 = limit[ORDER[j]];
        if (v2 !== undefined && v2 < v1) {
          return { path: ['limits', name], message: `the limit for ${ORDER[j]}(${v2.toFixed(1)}) cannot be lower than the limit for ${ORDER[i]}(${v1.toFixed(1)})` };
        }
      }
    }
  }
  return null;
}

/** `videos=2, images = 1` -> increments of the configured names only. */
export function parseIncrements(value: string | undefined, names: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  if (value === undefined) return out;
  for (const part of value.split(',')) {
    const pieces = part.split('=');
    if (pieces.length !== 2) continue;
    const name = pieces[0].trim();
    const n = Number(pieces[1].trim());
    if (names.has(name) && pieces[1].trim() !== '' && Number.isFinite(n)) out.set(name, n);
  }
  return out;
}

export class ResponseRateLimiting implements PluginInstance {
  readonly #counters: readonly Counter[];
  readonly #names: ReadonlySet<string>;
  readonly #headerName: string;
  readonly #limitBy: ResponseRateLimitingConfig['limit_by'];
  readonly #blockFirst: boolean;
  readonly #hide: boolean;
  readonly #table: SharedCounterTable;
  readonly #now: () => number;
  readonly #resolver: ClientAddressResolver | null;
  readonly #usage = new WeakMap<PluginContext, Usage>();
  /** X-RateLimit-Remaining-<name>, per limit name (Kong's access-phase header). */
  readonly #remainingByName: readonly (readonly [string, string, number[]])[];

  constructor(conf: ResponseRateLimitingConfig, env: PluginEnv, scope: PluginConfig | undefined) {
    const runtime = env.resources?.get(RATE_LIMIT_RUNTIME) ?? standaloneRateLimitRuntime();
    this.#table = runtime.table;
    this.#now = runtime.now;
    this.#headerName = conf.header_name.toLowerCase();
    this.#limitBy = conf.limit_by;
    this.#blockFirst = conf.block_on_first_violation;
    this.#hide = conf.hide_client_headers;
    this.#resolver = env.trustedIps.length === 0 ? null : clientAddressResolver(env.trustedIps);
    const scopeKey = `${scope?.route ?? '*'}|${scope?.service ?? '*'}|${scope?.consumer ?? '*'}|${conf.limit_by}`;
    const counters: Counter[] = [];
    const byName: [string, string, number[]][] = [];
    for (const [name, limit] of Object.entries(conf.limits)) {
      const indexes: number[] = [];
      for (const period of ORDER) {
        const value = limit[period];
        if (value === undefined) continue;
        indexes.push(counters.length);
        counters.push(new Counter(name, period, value, scopeKey));
      }
      byName.push([name, `X-RateLimit-Remaining-${name}`, indexes]);
    }
    this.#counters = counters;
    this.#names = new Set(Object.keys(conf.limits));
    this.#remainingByName = byName;
  }

  onRequest(ctx: PluginContext): Verdict {
    const nowSec = Math.floor(this.#now() / 1000);
    const usage = new Usage(this.#identifier(ctx), nowSec, this.#counters.length);
    const table = this.#table;
    for (let i = 0; i < this.#counters.length; i++) {
      const c = this.#counters[i];
      c.hasher.hash(usage.identifier);
      c.clock.at(nowSec);
      table.fixedHit(c.hasher.a, c.hasher.b, c.clock.start, c.clock.end, NO_CEILING, 0, nowSec);
      usage.remaining[i] = c.limit - table.count;
    }
    for (const [name, header, indexes] of this.#remainingByName) {
      let remaining = Infinity;
      for (const i of indexes) {
        if (this.#blockFirst && usage.remaining[i] <= 0) {
          ctx.respond(429, messageBody(`API rate limit exceeded for '${name}'`), JSON_TYPE, null);
          return Verdict.Stop;
        }
        remaining = Math.min(remaining, usage.remaining[i]);
      }
      ctx.setResponseHeader(header, String(Math.max(0, remaining)));
    }
    this.#usage.set(ctx, usage);
    return Verdict.Continue;
  }

  onResponse(ctx: PluginContext): void {
    const usage = this.#usage.get(ctx);
    if (usage === undefined) return;
    const increments = parseIncrements(ctx.responseHeader(this.#headerName), this.#names);
    usage.increments = increments;
    let stop = false;
    for (let i = 0; i < this.#counters.length; i++) {
      const c = this.#counters[i];
      const inc = increments.get(c.name) ?? 0;
      if (!this.#hide) {
        ctx.setResponseHeader(c.limitHeader, String(c.limit));
        ctx.setResponseHeader(c.remainingHeader, String(Math.max(0, usage.remaining[i] - inc)));
      }
      if (inc > 0 && usage.remaining[i] <= 0) stop = true;
    }
    ctx.removeResponseHeader(this.#headerName);
    if (stop) {
      usage.stopped = true;
      // Kong's exit(429) from its header filter: the upstream's answer is replaced, without a body.
      ctx.respond(429, '', JSON_TYPE, null);
    }
  }

  onLog(ctx: PluginContext): void {
    const usage = this.#usage.get(ctx);
    if (usage === undefined) return;
    this.#usage.delete(ctx);
    const increments = usage.increments;
    if (usage.stopped || increments === null || increments.size === 0) return;
    const table = this.#table;
    for (const c of this.#counters) {
      const inc = increments.get(c.name);
      if (inc === undefined || inc === 0) continue;
      c.hasher.hash(usage.identifier);
      c.clock.at(usage.nowSec);
      table.fixedHit(c.hasher.a, c.hasher.b, c.clock.start, c.clock.end, NO_CEILING, inc, usage.nowSec);
    }
  }

  /** Kong's get_identifier: consumer (or credential), credential, else the client address. */
  #identifier(ctx: PluginContext): string {
    if (this.#limitBy === 'consumer') {
      if (ctx.consumer !== null) return ctx.consumer.id;
      if (ctx.credentialId !== null) return ctx.credentialId;
    } else if (this.#limitBy === 'credential' && ctx.credentialId !== null) {
      return ctx.credentialId;
    }
    const resolver = this.#resolver;
    return resolver === null ? ctx.request.remoteAddress : resolver.clientAddress(ctx.request);
  }
}

export const responseRateLimiting: PluginDefinition<ResponseRateLimitingConfig> = {
  name: 'response-ratelimiting',
  priority: 900,
  version: '1.0.0',
  configSchema: ResponseRateLimitingSchema,
  checkConfig,
  create: (conf, env, scope) => new ResponseRateLimiting(conf, env, scope),
};
