/**
 * Plugin entries against the plugin registry: the name must be a known plugin, and `config` is
 * validated (defaults applied) by that plugin's own schema. Each plugin schema is compiled once.
 */
import type { ValidateFunction } from 'ajv';
import { getPluginDefinition, pluginNames } from '../plugins/registry';
import { getAjv, translateAjvErrors } from './ajv';
import { isObject, type Entity } from './entities';
import type { Issue } from './errors';

const validators = new Map<string, ValidateFunction>();

function validatorFor(name: string): ValidateFunction | null {
  let validate = validators.get(name);
  if (validate === undefined) {
    const def = getPluginDefinition(name);
    if (def === undefined) return null;
    validate = getAjv().compile(def.configSchema);
    validators.set(name, validate);
  }
  return validate;
}

/** Mutates each plugin's `config` (defaults). Runs on every plugin whose name and config are usable. */
export function checkPluginConfigs(entities: readonly Entity[]): Issue[] {
  const issues: Issue[] = [];
  for (const plugin of entities) {
    if (plugin.kind !== 'plugin' || typeof plugin.data.name !== 'string') continue;
    const validate = validatorFor(plugin.data.name);
    if (validate === null) {
      issues.push({
        path: [...plugin.path, 'name'],
        message: `unknown plugin "${plugin.data.name}" (known plugins: ${pluginNames().join(', ')})`,
      });
      continue;
    }
    // A missing config is {} after the schema's default; anything else was reported by the schema.
    const config = plugin.data.config ?? {};
    if (!isObject(config)) continue;
    plugin.data.config = config;
    if (!validate(config)) issues.push(...translateAjvErrors(validate.errors ?? [], config, [...plugin.path, 'config']));
    else {
      // Cross-field rules a schema cannot say well ("one of these two fields").
      const problem = getPluginDefinition(plugin.data.name)!.checkConfig?.(config);
      if (problem) issues.push({ path: [...plugin.path, 'config', ...problem.path], message: problem.message });
    }
  }
  return issues;
}
