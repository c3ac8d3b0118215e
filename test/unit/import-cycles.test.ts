/**
 * Layers import downward only. A small madge-like check over src/: every relative import (type-only
 * imports too, since they still tie the files' meaning together) becomes an edge, and the strongly
 * connected components are the import cycles.
 *
 * Regression (issue 12): plugins/api -> logging/serializer -> proxy/request-context -> plugins/api.
 * Logging and metrics now read the request record (proxy/record.ts) instead of the context.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../../../src');

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(full, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

function resolveImport(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base + '.ts', path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  return null;
}

/** Relative imports and re-exports of each file, keyed by path relative to src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const pattern = /^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms;
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    const edges: string[] = [];
    for (const m of text.matchAll(pattern)) {
      const target = resolveImport(file, m[1]);
      if (target !== null) edges.push(path.relative(SRC, target));
    }
    graph.set(path.relative(SRC, file), edges);
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one file: the cycles. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return out;
}

test('logging and metrics import the request record, never the proxy stages', () => {
  const graph = importGraph();
  assert.ok(graph.size > 50, 'the source tree was found');
  // (proxy/snapshot.ts is compile output: WorkerMetrics.attach reads it at a config swap.)
  const stages = ['proxy/request-context.ts', 'proxy/server.ts', 'proxy/chain.ts', 'proxy/attempt.ts'];
  for (const [file, edges] of graph) {
    if (!file.startsWith('logging/') && !file.startsWith('metrics/')) continue;
    for (const e of edges) assert.ok(!stages.includes(e), `${file} imports ${e}`);
  }
});

test('no import cycle touches the plugins, logging, metrics or the request stages (regression: plugins/api -> logging/serializer -> proxy/request-context)', () => {
  const found = cycles(importGraph());
  const stage = /^(plugins\/|logging\/|metrics\/worker-metrics|proxy\/(server|request-context|chain|attempt|record|snapshot|plugin-chains|request-head)\.ts)/;
  for (const component of found) {
    for (const file of component) assert.ok(!stage.test(file), `import cycle through ${file}: ${component.join(' -> ')}`);
  }
});
