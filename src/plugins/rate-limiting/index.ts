import type { PluginConfig } from '../../config/types';
import { LimitSpec, UsageReport, type Algorithm } from '../../ratelimit/limits';
import { LocalPolicy } from '../../ratelimit/local-policy';
import { RedisPolicy } from '../../ratelimit/redis-policy';
import { redisStoreFor, type RedisCounterStore, type RedisSettings } from '../../ratelimit/redis-store';
import { Local, syncedBudgetsFor, type SyncedBudgets } from '../../ratelimit/redis-sync';
import { RATE_LIMIT_RUNTIME, standaloneRateLimitRuntime } from '../../ratelimit/runtime';
import { Stat, type SharedCounterTable } from '../../ratelimit/shared-table';
import { WINDOW_NAMES } from '../../ratelimit/windows';
import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { clientAddressResolver, type ClientAddressResolver } from '../client-address';
import { RateLimitingSchema, type RateLimitingConfig } from './schema';

const JSON_TYPE = 'application/json; charset=utf-8';
const STORE_UNAVAILABLE_BODY = messageBody('Rate limiting is unavailable: the redis policy cannot reach its redis server');

const enum LimitBy {
  Consumer = 0,
  Credential = 1,
  Ip = 2,
  Service = 3,
  Header = 4,
  Path = 5,
}
const LIMIT_BY: Readonly<Record<RateLimitingConfig['limit_by'], LimitBy>> = {
  consumer: LimitBy.Consumer,
  credential: LimitBy.Credential,
  ip: LimitBy.Ip,
  service: LimitBy.Service,
  header: LimitBy.Header,
  path: LimitBy.Path,
};

/**
 * Kong's rate-limiting plugin. Counts each request against every configured window, for the
 * identifier picked by `limit_by` (falling back to the client IP when it is missing, as Kong does),
 * in the node-wide shared table (`policy: local`) or in redis (`policy: redis`). Sends Kong's
 * headers, and answers `error_code` with `error_message` and Retry-After when a window is full.
 *
 * The counter key is what defines the limit (the plugin's scope, window, limit_by and algorithm) plus
 * the identifier, never the config version, so a reload keeps the counts of unchanged limits.
 */
class RateLimiting implements PluginInstance {
  readonly #specs: readonly LimitSpec[];
  /** Per spec, its limit and remaining header names in lower case (the headers of a passed request). */
  readonly #passHeaderNames: readonly string[];
  readonly #limitBy: LimitBy;
  readonly #headerName: string;
  readonly #path: string;
  readonly #hide: boolean;
  readonly #errorCode: number;
  readonly #errorBody: string;
  readonly #faultTolerant: boolean;
  readonly #table: SharedCounterTable;
  readonly #now: () => number;
  /** The client address when no proxy is trusted, else resolved through X-Forwarded-For. */
  readonly #resolver: ClientAddressResolver | null;
  /** Reused by the synchronous paths only (one request at a time per thread). */
  readonly #report: UsageReport;
  readonly #local: LocalPolicy | null = null;
  readonly #redis: RedisPolicy | null = null;
  readonly #synced: SyncedBudgets | null = null;
  readonly #store: RedisCounterStore | null = null;

  constructor(conf: RateLimitingConfig, env: PluginEnv, scope: PluginConfig | undefined) {
    const runtime = env.resources?.get(RATE_LIMIT_RUNTIME) ?? standaloneRateLimitRuntime();
    this.#table = runtime.table;
    this.#now = runtime.now;
    this.#limitBy = LIMIT_BY[conf.limit_by];
    this.#headerName = (conf.header_name ?? '').toLowerCase();
    this.#path = conf.path ?? '';
    this.#hide = conf.hide_client_headers;
    this.#errorCode = conf.error_code;
    this.#errorBody = messageBody(conf.error_message);
    this.#faultTolerant = conf.fault_tolerant;
    this.#resolver = env.trustedIps.length === 0 ? null : clientAddressResolver(env.trustedIps);
    const algorithm = conf.algorithm as Algorithm;
    const scopeKey = `${scope?.route ?? '*'}|${scope?.service ?? '*'}|${scope?.consumer ?? '*'}`;
    const by = conf.limit_by === 'header' ? `header=${this.#headerName}` : conf.limit_by === 'path' ? `path=${this.#path}` : conf.limit_by;
    const specs: LimitSpec[] = [];
    for (const w of WINDOW_NAMES) {
      const limit = conf[w];
      if (limit !== null) specs.push(new LimitSpec(w, limit, conf.burst, `${scopeKey}|${w}|${by}|${algorithm}`));
    }
    this.#specs = specs;
    this.#passHeaderNames = specs.flatMap((spec) => [spec.limitHeader.toLowerCase(), spec.remainingHeader.toLowerCase()]);
    this.#report = new UsageReport(specs.length);
    if (conf.policy === 'local') {
      this.#local = new LocalPolicy(runtime.table, specs, algorithm);
      return;
    }
    // A check opens no connection to redis.
    if (env.checkOnly === true) return;
    const store = redisStoreFor(conf.redis as RedisSettings, runtime.log);
    this.#store = store;
    if (conf.sync_rate > 0) {
      const budgets = syncedBudgetsFor(store, specs, conf.sync_rate, runtime.now);
      budgets.onFlushError ??= (err) => store.fault(err, conf.fault_tolerant, runtime.now());
      this.#synced = budgets;
    } else {
      this.#redis = new RedisPolicy(store, specs, algorithm);
    }
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    const identifier = this.#identifier(ctx);
    const now = this.#now();
    const local = this.#local;
    if (local !== null) {
      local.check(identifier, now, this.#report);
      return this.#finish(ctx, this.#report);
    }
    const synced = this.#synced;
    if (synced !== null) {
      if (synced.tryLocal(identifier, now, this.#report) !== Local.MustSync) return this.#finish(ctx, this.#report);
      return synced.syncAndCheck(identifier, now).then(
        (report) => this.#finish(ctx, report),
        (err) => this.#storeFailed(ctx, err, identifier, now),
      );
    }
    return this.#redis!.check(identifier, now).then(
      (report) => this.#finish(ctx, report),
      (err) => this.#storeFailed(ctx, err, identifier, now),
    );
  }

  /** Kong's get_identifier: the limit_by value, or the client IP when it is missing. */
  #identifier(ctx: PluginContext): string {
    switch (this.#limitBy) {
      case LimitBy.Consumer: {
        const consumer = ctx.consumer;
        if (consumer !== null) return consumer.id;
        if (ctx.credentialId !== null) return ctx.credentialId;
        break;
      }
      case LimitBy.Credential:
        if (ctx.credentialId !== null) return ctx.credentialId;
        break;
      case LimitBy.Service:
        if (ctx.serviceId !== null) return ctx.serviceId;
        break;
      case LimitBy.Header: {
        const value = ctx.request.header(this.#headerName);
        if (value !== undefined && value !== '') return value;
        break;
      }
      case LimitBy.Path:
        if (ctx.request.path === this.#path) return this.#path;
        break;
    }
    const resolver = this.#resolver;
    return resolver === null ? ctx.request.remoteAddress : resolver.clientAddress(ctx.request);
  }

  /**
   * Kong's headers: per window X-RateLimit-Limit-<Window> and X-RateLimit-Remaining-<Window>; the
   * RateLimit-* trio for the window with the least remaining (on a tie, the longer window); on a
   * refusal the error with Retry-After. hide_client_headers drops them all, Retry-After included,
   * as Kong does.
   */
  #finish(ctx: PluginContext, report: UsageReport): Verdict {
    const specs = this.#specs;
    const stopped = report.stopped;
    if (stopped === -1 && this.#hide) return Verdict.Continue;
    let pick = 0;
    for (let i = 1; i < specs.length; i++) if (report.remaining[i] <= report.remaining[pick]) pick = i;
    if (stopped === -1) {
      // Lower-case names (the case response edits are kept in) skip a conversion per header.
      const names = this.#passHeaderNames;
      for (let i = 0; i < specs.length; i++) {
        ctx.setResponseHeader(names[2 * i], specs[i].limitText);
        ctx.setResponseHeader(names[2 * i + 1], String(report.remaining[i]));
      }
      ctx.setResponseHeader('ratelimit-limit', specs[pick].limitText);
      ctx.setResponseHeader('ratelimit-remaining', String(report.remaining[pick]));
      ctx.setResponseHeader('ratelimit-reset', String(report.reset[pick]));
      return Verdict.Continue;
    }
    this.#table.count1(Stat.Rejected);
    let headers: string[] | null = null;
    if (!this.#hide) {
      headers = [];
      for (let i = 0; i < specs.length; i++) headers.push(specs[i].limitHeader, specs[i].limitText, specs[i].remainingHeader, String(report.remaining[i]));
      const reset = String(report.reset[pick]);
      headers.push('RateLimit-Limit', specs[pick].limitText, 'RateLimit-Remaining', String(report.remaining[pick]), 'RateLimit-Reset', reset, 'Retry-After', String(report.reset[stopped]));
    }
    ctx.respond(this.#errorCode, this.#errorBody, JSON_TYPE, headers);
    return Verdict.Stop;
  }

  /** Redis could not be reached: fail open (fault_tolerant) or answer 500; counted either way. */
  #storeFailed(ctx: PluginContext, err: unknown, identifier: string, now: number): Verdict {
    this.#store!.fault(err, this.#faultTolerant, now);
    if (this.#faultTolerant) {
      this.#table.count1(Stat.FailOpen);
      this.#synced?.countFailOpen(identifier, now);
      return Verdict.Continue;
    }
    this.#table.count1(Stat.StoreErrors);
    ctx.respond(500, STORE_UNAVAILABLE_BODY, JSON_TYPE, null);
    return Verdict.Stop;
  }
}

export const rateLimiting: PluginDefinition<RateLimitingConfig> = {
  name: 'rate-limiting',
  priority: 910,
  version: '1.0.0',
  configSchema: RateLimitingSchema,
  create: (conf, env, scope) => new RateLimiting(conf, env, scope),
};
