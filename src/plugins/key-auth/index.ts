import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance, type RequestHead } from '../api';
import { AnonymousFallback, hasRealCredential, JSON_TYPE, UNAUTHORIZED_BODY, wwwAuthenticate } from '../auth-common';
import type { ConsumerDirectory } from '../consumer-directory';
import { ArgState, findQueryArg, found, removeQueryArg } from './query';
import { KeyAuthSchema, type KeyAuthConfig } from './schema';

const enum Outcome {
  Ok = 0,
  NoKey = 1,
  Invalid = 2,
  Duplicate = 3,
}

const NO_KEY_BODY = messageBody('No API key found in request');
const DUPLICATE_BODY = messageBody('Duplicate API key found');

/**
 * Kong's key-auth. For each of `key_names` in order: a header of that name (case-insensitive),
 * else a query argument of that name (exact, after URL-decoding). The first one present decides:
 * an empty value is "No API key found", a name given twice is "Duplicate API key found", an unknown
 * key is "Unauthorized"; all 401 with `WWW-Authenticate`. On success the consumer is authenticated
 * with X-Credential-Identifier = the credential's id, as Kong does.
 */
class KeyAuth implements PluginInstance {
  /** As configured: query argument names compare exactly. */
  readonly #names: readonly string[];
  /** Lower-cased: header names compare case-insensitively. */
  readonly #headerNames: readonly string[];
  /** nginx also finds `api_key` under `api-key`: the hyphenated form when it differs, else null. */
  readonly #altHeaderNames: readonly (string | null)[];
  readonly #inHeader: boolean;
  readonly #inQuery: boolean;
  readonly #hide: boolean;
  readonly #runOnPreflight: boolean;
  readonly #consumers: ConsumerDirectory;
  readonly #anonymous: AnonymousFallback;
  readonly #challenge: readonly string[];

  constructor(conf: KeyAuthConfig, env: PluginEnv) {
    this.#names = [...conf.key_names];
    this.#headerNames = conf.key_names.map((n) => n.toLowerCase());
    this.#altHeaderNames = this.#headerNames.map((n) => (n.includes('_') ? n.replace(/_/g, '-') : null));
    this.#inHeader = conf.key_in_header;
    this.#inQuery = conf.key_in_query;
    this.#hide = conf.hide_credentials;
    this.#runOnPreflight = conf.run_on_preflight;
    this.#consumers = env.consumers;
    this.#anonymous = new AnonymousFallback(conf.anonymous, env.consumers);
    this.#challenge = wwwAuthenticate(conf.realm === null ? 'Key' : `Key realm="${conf.realm}"`);
  }

  onRequest(ctx: PluginContext): Verdict {
    if (!this.#runOnPreflight && ctx.request.method === 'OPTIONS') return Verdict.Continue;
    const anonymous = this.#anonymous;
    if (anonymous.configured && hasRealCredential(ctx)) return Verdict.Continue;
    const outcome = this.#authenticate(ctx);
    if (outcome === Outcome.Ok) return Verdict.Continue;
    if (anonymous.configured) return anonymous.apply(ctx);
    const body = outcome === Outcome.NoKey ? NO_KEY_BODY : outcome === Outcome.Duplicate ? DUPLICATE_BODY : UNAUTHORIZED_BODY;
    ctx.respond(401, body, JSON_TYPE, this.#challenge);
    return Verdict.Stop;
  }

  #authenticate(ctx: PluginContext): Outcome {
    const req = ctx.request;
    const names = this.#names;
    let key: string | null = null;
    for (let i = 0; i < names.length; i++) {
      let state = ArgState.Absent;
      if (this.#inHeader) state = this.#findHeader(req, i);
      if (state === ArgState.Absent && this.#inQuery) state = findQueryArg(req.query, names[i]);
      if (state === ArgState.Duplicate) return Outcome.Duplicate;
      if (state === ArgState.Value) {
        key = found.value;
        if (this.#hide) this.#hideCredential(ctx, i);
        break;
      }
      // ArgState.Bare (`?apikey` with no `=`): not a key, try the next name, as Kong does.
    }
    if (key === null || key === '') return Outcome.NoKey;
    const consumers = this.#consumers;
    const credential = consumers.keyAuthCredential(key);
    if (credential === undefined) return Outcome.Invalid;
    const consumer = consumers.consumer(credential.consumer);
    if (consumer === undefined) return Outcome.Invalid;
    ctx.authenticate(consumer, credential.id, credential.id, false);
    return Outcome.Ok;
  }

  /** Header `key_names[i]` (or its hyphenated form): its first value goes to `found.value`. */
  #findHeader(req: RequestHead, i: number): ArgState {
    const state = countHeader(req, this.#headerNames[i]);
    if (state !== ArgState.Absent) return state;
    const alt = this.#altHeaderNames[i];
    return alt === null ? ArgState.Absent : countHeader(req, alt);
  }

  /** Kong clears both the header and the query argument of the name the key was found under. */
  #hideCredential(ctx: PluginContext, i: number): void {
    ctx.removeUpstreamHeader(this.#headerNames[i]);
    const alt = this.#altHeaderNames[i];
    if (alt !== null) ctx.removeUpstreamHeader(alt);
    const query = ctx.request.query;
    const name = this.#names[i];
    if (query !== '' && findQueryArg(query, name) !== ArgState.Absent) {
      ctx.setUpstreamQuery(removeQueryArg(query, name));
    }
  }
}

function countHeader(req: RequestHead, lowerName: string): ArgState {
  const names = req.headerNames;
  let state = ArgState.Absent;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== lowerName) continue;
    if (state !== ArgState.Absent) return ArgState.Duplicate;
    state = ArgState.Value;
    found.value = req.headerValues[i];
  }
  return state;
}

export const keyAuth: PluginDefinition<KeyAuthConfig> = {
  name: 'key-auth',
  priority: 1250,
  authenticates: true,
  version: '1.0.0',
  configSchema: KeyAuthSchema,
  create: (conf, env) => new KeyAuth(conf, env),
};
