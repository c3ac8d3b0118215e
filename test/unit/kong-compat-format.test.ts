/**
 * Kong's `_format_version` handling: "1.1", "2.1" and "3.0" load, and pre-3.0 files get Kong's
 * route-path migration (regex paths gain `~`, paths are percent-decoded one last time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText } from '../../src/config/load';
import { isPlainPath, migratePath } from '../../src/config/kong-format';
import { load, yaml } from '../helpers/config-text';

function pathsOf(text: string): (readonly string[] | null)[] {
  return load(text).routes.map((r) => r.paths);
}

test('Kong\'s "is it a regex" rule for pre-3.0 paths', () => {
  for (const plain of ['/', '/api/v1/users', '/a-b_c.d~e', '/caf%C3%A9', '/with/trailing/']) {
    assert.equal(isPlainPath(plain), true, plain);
  }
  for (const regex of ['/orders/\\d+', '/items/(?<id>[a-z]+)', '/files/.*', '/a$', '/^x', '/a+', '/a|b', '/a b', '/a:b', '/a@b']) {
    assert.equal(isPlainPath(regex), false, regex);
  }
});

test('a pre-3.0 regex path gets "~"; a plain one is normalized and stays a prefix', () => {
  assert.equal(migratePath('/orders/\\d+$'), '~/orders/\\d+$');
  assert.equal(migratePath('/api/v1'), '/api/v1');
  assert.equal(migratePath('/caf%65'), '/cafe', 'unreserved percent-encoding is decoded');
  assert.equal(migratePath('/a%2fb'), '/a%2Fb', 'reserved stays encoded, upper-cased');
  assert.equal(migratePath('/a//b/./c/../d'), '/a/b/d', 'dot segments and double slashes are resolved');
  assert.equal(migratePath('/a/b/'), '/a/b/', 'a trailing slash is kept');
});

test('in a migrated regex, encoded metacharacters become escapes and reserved ones stay encoded', () => {
  assert.equal(migratePath('/v%2E1/(\\d+)'), '~/v\\.1/(\\d+)');
  assert.equal(migratePath('/x%7c(y)'), '~/x\\|(y)');
  assert.equal(migratePath('/q%3f(a)'), '~/q%3F(a)');
  assert.equal(migratePath('/%41(b)'), '~/A(b)');
});

test('format "1.1": top-level and nested route paths are migrated, and one warning says so', () => {
  const text = yaml(`
    _format_version: "1.1"
    services:
      - name: s
        url: http://127.0.0.1:9000
        routes:
          - name: nested
            paths: [/users, /orders/\\d+$]
    routes:
      - name: top
        service: s
        paths: ["/files/.*\\\\.png"]
  `);
  const result = loadConfigText(text, 'old.yaml');
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  assert.deepEqual(result.config.routes.map((r) => r.paths), [['/users', '~/orders/\\d+$'], ['~/files/.*\\.png']]);
  assert.equal(result.config.formatVersion, '3.0');
  assert.equal(result.warnings.length, 1);
  assert.equal(result.warnings[0].line, 1);
  assert.match(result.warnings[0].message, /format "1.1" migrated to "3.0" as Kong 3.x does: 2 regex route paths prefixed with "~"/);
});

test('format "2.1" is migrated the same way', () => {
  assert.deepEqual(
    pathsOf('_format_version: "2.1"\nroutes:\n  - name: r\n    paths: ["/v(?<n>\\\\d)/x", /plain]\n'),
    [['~/v(?<n>\\d)/x', '/plain']],
  );
});

test('format "3.0" is not migrated: a path without "~" is a prefix even with regex characters', () => {
  const result = loadConfigText('_format_version: "3.0"\nroutes:\n  - name: r\n    paths: ["/a.b+"]\n', 'new.yaml');
  assert.ok(result.ok);
  assert.deepEqual(result.config.routes[0].paths, ['/a.b+']);
  assert.deepEqual(result.warnings, []);
});

test('a migrated regex that RE2 cannot run is reported at its line, as a regex', () => {
  const result = loadConfigText(yaml(`
    _format_version: "2.1"
    routes:
      - name: r
        paths:
          - /ok
          - /bad/(?=lookahead)
  `), 'old.yaml');
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0].line, 6);
  assert.equal(result.errors[0].field, 'paths[1]');
  assert.match(result.errors[0].message, /invalid regex/);
});
