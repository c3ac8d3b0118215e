import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { JSON_TYPE, UNAUTHORIZED_BODY } from '../auth-common';
import type { ConsumerDirectory } from '../consumer-directory';
import { AclSchema, type AclConfig } from './schema';

const FORBIDDEN_BODY = messageBody('You cannot consume this service');

/** The decision for one consumer, computed on its first request and kept for the snapshot. */
class Decision {
  readonly blocked: boolean;
  /** `X-Consumer-Groups` value, or null when the header is hidden or the consumer has no groups. */
  readonly header: string | null;
  constructor(blocked: boolean, header: string | null) {
    this.blocked = blocked;
    this.header = header;
  }
}

/**
 * Kong's acl: the authenticated consumer's groups (its acls) against `allow` or `deny`. No
 * consumer: 401 "Unauthorized" (an auth plugin must run first); not allowed or denied: 403
 * "You cannot consume this service". An anonymous consumer is judged by its own groups. The
 * verdict and header per consumer are cached in the instance; the directory is per snapshot, so
 * the cache is bounded by the number of consumers and dropped on reload.
 */
class Acl implements PluginInstance {
  readonly #consumers: ConsumerDirectory;
  readonly #groups: ReadonlySet<string>;
  readonly #deny: boolean;
  readonly #hideHeader: boolean;
  readonly #decisions = new Map<string, Decision>();

  constructor(conf: AclConfig, env: PluginEnv) {
    this.#consumers = env.consumers;
    this.#deny = conf.deny !== null && conf.deny.length > 0;
    this.#groups = new Set(this.#deny ? conf.deny : (conf.allow ?? []));
    this.#hideHeader = conf.hide_groups_header;
  }

  onRequest(ctx: PluginContext): Verdict {
    const consumer = ctx.consumer;
    if (consumer === null) {
      ctx.respond(401, UNAUTHORIZED_BODY, JSON_TYPE, null);
      return Verdict.Stop;
    }
    let decision = this.#decisions.get(consumer.id);
    if (decision === undefined) {
      decision = this.#decide(consumer.id);
      this.#decisions.set(consumer.id, decision);
    }
    if (decision.blocked) {
      ctx.respond(403, FORBIDDEN_BODY, JSON_TYPE, null);
      return Verdict.Stop;
    }
    if (decision.header !== null) ctx.setUpstreamHeader('x-consumer-groups', decision.header);
    return Verdict.Continue;
  }

  #decide(consumerId: string): Decision {
    const groups = this.#consumers.groups(consumerId);
    let member = false;
    for (let i = 0; i < groups.length && !member; i++) member = this.#groups.has(groups[i]);
    const blocked = this.#deny ? member : !member;
    const header = blocked || this.#hideHeader || groups.length === 0 ? null : groups.join(', ');
    return new Decision(blocked, header);
  }
}

export const acl: PluginDefinition<AclConfig> = {
  name: 'acl',
  priority: 950,
  version: '1.0.0',
  configSchema: AclSchema,
  create: (conf, env) => new Acl(conf, env),
};
