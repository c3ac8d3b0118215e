/** Helpers for tests that load declarative config from inline YAML. */
import assert from 'node:assert/strict';
import { formatConfigErrors, loadConfigText } from '../../src/config/load';
import type { NormalizedConfig } from '../../src/config/types';

/** Inline YAML: drops the first newline and the common indentation, so line 1 is the first line. */
export function yaml(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** Load a config that must be valid; fail the test with the formatted errors otherwise. */
export function load(text: string): NormalizedConfig {
  const result = loadConfigText(text, 'gateway.yaml');
  if (!result.ok) assert.fail(`expected the config to load:\n${formatConfigErrors(result.errors, 'gateway.yaml')}`);
  return result.config;
}
