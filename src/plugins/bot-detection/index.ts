/**
 * Kong's bot-detection: the User-Agent (trimmed) is checked against `allow` (a match lets it in),
 * then `deny`, then Kong's built-in bot rules; a deny or bot match gets 403 "Forbidden". Several
 * User-Agent headers get 400; none lets the request in. Verdicts are cached per User-Agent in an
 * LRU of 10,000 entries, as in Kong, so a busy client costs one map lookup.
 *
 * Config regexes run on RE2 (src/util/safe-regex): linear in the User-Agent, whatever the pattern.
 */
import { LRUCache } from 'lru-cache';
import { compileUntrustedRegex, type UntrustedRegex } from '../../util/safe-regex';
import { messageBody } from '../../util/status-messages';
import { regexProblem } from '../cors/regex-guard';
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { KONG_BOT_RULES } from './rules';
import { BotDetectionSchema, type BotDetectionConfig } from './schema';

const JSON_TYPE = 'application/json; charset=utf-8';
const FORBIDDEN = messageBody('Forbidden');
const ONE_AGENT = messageBody('Only one User-Agent header allowed');
const UA_CACHE_SIZE = 10_000;
/** User-Agent values are bounded by the header limit; the fallback guard needs a subject bound. */
const UA_MAX = 32 * 1024;

const enum Match {
  None = 0,
  Allow = 1,
  Deny = 2,
  Bot = 3,
}

function compileConfigRegex(source: string): UntrustedRegex {
  return compileUntrustedRegex(source, '', { fallbackGuard: (s) => regexProblem(s, UA_MAX) });
}

let builtIn: readonly UntrustedRegex[] | null = null;

/** Kong's rules, compiled once per thread; trusted (they ship with us), so no fallback guard applies. */
function builtInRules(): readonly UntrustedRegex[] {
  builtIn ??= KONG_BOT_RULES.map((r) => compileUntrustedRegex(r, '', { fallbackGuard: () => null }));
  return builtIn;
}

export class BotDetection implements PluginInstance {
  readonly #allow: readonly UntrustedRegex[];
  readonly #deny: readonly UntrustedRegex[];
  readonly #cache = new LRUCache<string, Match>({ max: UA_CACHE_SIZE });

  constructor(conf: BotDetectionConfig) {
    this.#allow = conf.allow.map(compileConfigRegex);
    this.#deny = conf.deny.map(compileConfigRegex);
  }

  onRequest(ctx: PluginContext): Verdict {
    const req = ctx.request;
    let agent: string | undefined;
    for (let i = 0; i < req.headerNames.length; i++) {
      if (req.headerNames[i] !== 'user-agent') continue;
      if (agent !== undefined) {
        ctx.respond(400, ONE_AGENT, JSON_TYPE, null);
        return Verdict.Stop;
      }
      agent = req.headerValues[i];
    }
    if (agent === undefined) return Verdict.Continue;
    let match = this.#cache.get(agent);
    if (match === undefined) {
      match = this.#examine(agent.trim());
      this.#cache.set(agent, match);
    }
    if (match === Match.Deny || match === Match.Bot) {
      ctx.respond(403, FORBIDDEN, JSON_TYPE, null);
      return Verdict.Stop;
    }
    return Verdict.Continue;
  }

  #examine(agent: string): Match {
    for (const re of this.#allow) if (re.test(agent)) return Match.Allow;
    for (const re of this.#deny) if (re.test(agent)) return Match.Deny;
    for (const re of builtInRules()) if (re.test(agent)) return Match.Bot;
    return Match.None;
  }
}

export const botDetection: PluginDefinition<BotDetectionConfig> = {
  name: 'bot-detection',
  priority: 2500,
  version: '1.0.0',
  configSchema: BotDetectionSchema,
  checkConfig(conf) {
    for (const field of ['allow', 'deny'] as const) {
      for (let i = 0; i < conf[field].length; i++) {
        try {
          compileConfigRegex(conf[field][i]);
        } catch (err) {
          return { path: [field, String(i)], message: `'${conf[field][i]}' ${(err as Error).message}` };
        }
      }
    }
    return null;
  },
  create: (conf) => new BotDetection(conf),
};
