/**
 * `floodgate check --format json`: one JSON object on stdout with every error and warning
 * located (file, line, column, entity, field, message); exit 0 when the file loads, 1 when it
 * does not, 2 for a usage error. Runs the real CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CLI = path.join(__dirname, '..', '..', 'src', 'cli.js');
const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'kong');

function runCheck(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as NodeJS.ErrnoException & { code: number }).code, stdout, stderr });
    });
  });
}

interface Problem {
  file: string;
  line: number | null;
  column: number | null;
  entity: string;
  field: string;
  message: string;
}

test('a bad file: exit 1 and every error located, in file order', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-check-'));
  try {
    const file = path.join(dir, 'kong.yml');
    writeFileSync(file, [
      '_format_version: "3.0"',
      'upstreams:',
      '  - name: u',
      '    use_srv_name: true',
      'consumers:',
      '  - username: c',
      '    plugins:',
      '      - name: basic-auth',
      '',
    ].join('\n'));
    const { code, stdout } = await runCheck([file, '--format', 'json']);
    assert.equal(code, 1);
    const out = JSON.parse(stdout) as { ok: boolean; file: string; errors: Problem[]; warnings: Problem[] };
    assert.equal(out.ok, false);
    assert.deepEqual(out.warnings, []);
    assert.deepEqual(out.errors.map((e) => [e.file, e.line, e.column, e.entity, e.field]), [
      [file, 4, 5, 'upstreams[0] (name "u")', 'use_srv_name'],
      [file, 8, 15, 'consumers[0].plugins[0] (name "basic-auth")', 'name'],
    ]);
    assert.match(out.errors[0].message, /^not supported by Floodgate: "use_srv_name"/);
    assert.match(out.errors[1].message, /cannot be applied to a consumer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a good file with deprecated fields: exit 0, the warnings located, the counts', async () => {
  const file = path.join(FIXTURES, 'deprecated-fields.yaml');
  const { code, stdout } = await runCheck(['--format', 'json', file]);
  assert.equal(code, 0);
  const out = JSON.parse(stdout) as { ok: boolean; errors: Problem[]; warnings: Problem[]; counts: Record<string, number> };
  assert.equal(out.ok, true);
  assert.deepEqual(out.errors, []);
  assert.deepEqual(out.warnings.map((w) => [w.line, w.field]), [[10, 'name'], [21, 'name']]);
  assert.equal(out.counts.plugins, 2);
  assert.equal(out.counts.routes, 1);
});

test('text format stays the default and prints warnings on stderr', async () => {
  const { code, stdout, stderr } = await runCheck([path.join(FIXTURES, 'format-1.1.yaml')]);
  assert.equal(code, 0);
  assert.match(stdout, /OK \(1 services, 3 routes/);
  assert.match(stderr, /format-1\.1\.yaml:2:18: document: field "_format_version": warning: format "1\.1" migrated/);
});

test('a missing file in json: exit 1 with an unlocated error; a bad --format: exit 2', async () => {
  const missing = await runCheck(['/nonexistent/kong.yml', '--format', 'json']);
  assert.equal(missing.code, 1);
  const out = JSON.parse(missing.stdout) as { errors: Problem[] };
  assert.deepEqual([out.errors[0].line, out.errors[0].entity], [null, 'document']);
  assert.match(out.errors[0].message, /ENOENT/);
  const usage = await runCheck([path.join(FIXTURES, 'format-3.0.yaml'), '--format', 'xml']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--format must be text or json/);
});
