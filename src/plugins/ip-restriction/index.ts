import { Verdict, type PluginContext, type PluginDefinition, type PluginEnv, type PluginInstance } from '../api';
import { AddressList, clientAddressResolver, type ClientAddressResolver, type IpAddress } from '../client-address';
import { messageBody } from '../../util/status-messages';
import { IpRestrictionSchema, type IpRestrictionConfig } from './schema';

const JSON_TYPE = 'application/json; charset=utf-8';
/** Kong's answer when it has no IP address for the client (a unix socket there; unparseable here). */
const UNIDENTIFIED_BODY = messageBody('Cannot identify the client IP address, unix domain sockets are not supported.');

/**
 * Kong's ip-restriction (3.x): deny is checked first, then allow; when allow lists anything, only
 * those addresses pass. The client is the real client address (--trusted-ips and
 * X-Forwarded-For, see client-address.ts). Lists are compiled per address family at create time;
 * a request costs one parse of the peer (memoized per peer) and a walk of its family's ranges.
 */
class IpRestriction implements PluginInstance {
  readonly #deny: AddressList | null;
  readonly #allow: AddressList | null;
  readonly #status: number;
  /** Prebuilt body for a configured message; null: built per rejection with the address. */
  readonly #body: string | null;
  readonly #client: ClientAddressResolver;

  constructor(conf: IpRestrictionConfig, env: PluginEnv) {
    // As Kong, an empty list is the same as none.
    this.#deny = conf.deny === null || conf.deny.length === 0 ? null : AddressList.compile(conf.deny, 'config.deny');
    this.#allow = conf.allow === null || conf.allow.length === 0 ? null : AddressList.compile(conf.allow, 'config.allow');
    if (this.#deny === null && this.#allow === null) throw new Error('config: at least one of allow or deny must list an address or CIDR');
    this.#status = conf.status;
    this.#body = conf.message === null ? null : messageBody(conf.message);
    this.#client = clientAddressResolver(env.trustedIps);
  }

  onRequest(ctx: PluginContext): Verdict {
    const addr = this.#client.resolve(ctx.request);
    if (addr === null) {
      ctx.respond(403, UNIDENTIFIED_BODY, JSON_TYPE, null);
      return Verdict.Stop;
    }
    if (this.#deny !== null && this.#deny.contains(addr)) return this.#reject(ctx, addr);
    if (this.#allow !== null && !this.#allow.contains(addr)) return this.#reject(ctx, addr);
    return Verdict.Continue;
  }

  #reject(ctx: PluginContext, addr: IpAddress): Verdict {
    ctx.respond(this.#status, this.#body ?? messageBody(`IP address not allowed: ${addr.toString()}`), JSON_TYPE, null);
    return Verdict.Stop;
  }
}

export const ipRestriction: PluginDefinition<IpRestrictionConfig> = {
  name: 'ip-restriction',
  priority: 990,
  version: '1.0.0',
  configSchema: IpRestrictionSchema,
  create: (conf, env) => new IpRestriction(conf, env),
};
