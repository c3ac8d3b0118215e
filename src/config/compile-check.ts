/**
 * What a worker will do with a config, done once on the primary first: compile the router and
 * create every plugin instance. A config that passes here cannot fail in a worker, so a reload is
 * all-or-nothing across workers.
 */
import { compileRouter } from '../router/router';
import { getPluginDefinition } from '../plugins/registry';
import { ConsumerDirectory } from '../plugins/consumer-directory';
import type { NormalizedConfig } from './types';

/** `null` when the config compiles; otherwise what failed. */
export function compileCheck(config: NormalizedConfig, trustedIps: readonly string[] = []): string | null {
  try {
    compileRouter(config.routes);
  } catch (err) {
    return `router: ${err instanceof Error ? err.message : String(err)}`;
  }
  const env = { consumers: new ConsumerDirectory(config), trustedIps, config };
  for (const p of config.plugins) {
    try {
      getPluginDefinition(p.name)!.create(p.config, env, p);
    } catch (err) {
      return `plugin "${p.name}" (${p.id}): ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return null;
}
