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
      issues.push({ path: [...plugin.path, 'name'], message: missingPluginMessage(plugin.data.name) });
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

/** Kong's serverless plugins: they run Lua given in the config. */
const LUA_PLUGINS = new Set(['pre-function', 'post-function']);

/** The plugins bundled with Kong OSS 3.9, so a missing one is told apart from a typo. */
const KONG_BUNDLED_PLUGINS = new Set([
  'acl', 'acme', 'ai-prompt-decorator', 'ai-prompt-guard', 'ai-prompt-template', 'ai-proxy', 'ai-request-transformer',
  'ai-response-transformer', 'aws-lambda', 'azure-functions', 'basic-auth', 'bot-detection', 'correlation-id', 'cors',
  'datadog', 'file-log', 'grpc-gateway', 'grpc-web', 'hmac-auth', 'http-log', 'ip-restriction', 'jwt', 'key-auth',
  'ldap-auth', 'loggly', 'oauth2', 'opentelemetry', 'post-function', 'pre-function', 'prometheus', 'proxy-cache',
  'rate-limiting', 'redirect', 'request-size-limiting', 'request-termination', 'request-transformer',
  'response-ratelimiting', 'response-transformer', 'session', 'standard-webhooks', 'statsd', 'syslog', 'tcp-log',
  'udp-log', 'zipkin',
]);

function missingPluginMessage(name: string): string {
  if (LUA_PLUGINS.has(name)) {
    return `plugin "${name}" runs Lua code, which Floodgate cannot run; write the logic as a TypeScript plugin instead (the plugin contract is src/plugins/api.ts; see README "Kong compatibility")`;
  }
  if (KONG_BUNDLED_PLUGINS.has(name)) {
    return `plugin "${name}" is a Kong plugin that Floodgate does not implement (Floodgate's plugins: ${pluginNames().join(', ')})`;
  }
  return `unknown plugin "${name}" (known plugins: ${pluginNames().join(', ')})`;
}
