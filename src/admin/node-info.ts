/**
 * GET / on the admin API, shaped like Kong's: who this node is, its version, and the plugins it
 * has (`available_on_server`, name -> version and priority) and uses (`enabled_in_cluster`), so
 * tools that probe a Kong admin API (decK's `ping`, dashboards, health checkers) find what they
 * expect. The uWS build is reported too: it decides what the HTTP/1.1 parser accepts.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { NormalizedConfig } from '../config/types';
import type { NodeSettings } from '../settings';
import { getPluginDefinition, pluginNames } from '../plugins/registry';

/** One id per process, as Kong's node_id is one per node start. */
const NODE_ID = randomUUID();

export interface NodeInfoSource {
  readonly config: NormalizedConfig;
  readonly configVersion: number;
  readonly settings: NodeSettings;
}

export function nodeInfo(source: NodeInfoSource, version: string, uws: { version: string; variant: string }): Record<string, unknown> {
  const available: Record<string, { version: string; priority: number }> = {};
  for (const name of pluginNames()) {
    const def = getPluginDefinition(name)!;
    available[name] = { version: def.version, priority: def.priority };
  }
  const enabled = [...new Set(source.config.plugins.map((p) => p.name))].sort();
  const s = source.settings;
  return {
    tagline: 'Welcome to Floodgate',
    version,
    edition: 'community',
    node_id: NODE_ID,
    hostname: os.hostname(),
    plugins: { available_on_server: available, enabled_in_cluster: enabled },
    configuration: {
      database: 'off',
      config_version: source.configVersion,
      proxy_listeners: [{ ip: s.listenHost, port: s.listenPort, ssl: false, http2: false }],
      nginx_worker_processes: s.workers,
      node: process.version,
      uwebsockets: `${uws.version} (${uws.variant})`,
    },
    pids: { master: process.pid },
  };
}
