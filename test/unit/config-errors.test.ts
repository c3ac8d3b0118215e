/**
 * Config errors: every kind names the entity, the field and the exact line, and loading never
 * throws. Line numbers in these tests count from the first line of each inline YAML block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { formatConfigErrors, loadConfigFile, loadConfigText, type ConfigError } from '../../src/config/load';
import { yaml } from '../helpers/config-text';

const FIXTURES = path.join(__dirname, '../../../test/fixtures/config');


function errorsOf(text: string): ConfigError[] {
  const result = loadConfigText(text, 'gateway.yaml');
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.errors;
}

/** The config must fail with exactly one error; returns it. */
function onlyError(text: string): ConfigError {
  const errors = errorsOf(text);
  assert.equal(errors.length, 1, `expected one error, got:\n${formatConfigErrors(errors, 'gateway.yaml')}`);
  return errors[0];
}

function assertError(e: ConfigError, expected: { entity: string; field: string; line: number; message: RegExp | string }): void {
  assert.equal(e.entity, expected.entity);
  assert.equal(e.field, expected.field);
  assert.equal(e.line, expected.line);
  if (typeof expected.message === 'string') assert.equal(e.message, expected.message);
  else assert.match(e.message, expected.message);
}

// --- syntax and document level ------------------------------------------------------------

test('a YAML syntax error carries the parser line', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: a
        host: [unclosed
    routes: []
  `));
  assert.equal(e.entity, 'document');
  assert.equal(e.line, 5);
  assert.match(e.message, /^invalid YAML: /);
});

test('a duplicate key is a syntax error at its line', () => {
  const e = onlyError('_format_version: "3.0"\nservices: []\nservices: []\n');
  assert.equal(e.line, 3);
  assert.match(e.message, /unique/);
});

test('_format_version must be a quoted version Kong 3.9 loads', () => {
  assertError(onlyError('_format_version: 3.0\n'), {
    entity: 'document', field: '_format_version', line: 1, message: /must be one of the strings "1.1", "2.1", "3.0" \(quoted.*got 3$/,
  });
  assertError(onlyError('_format_version: "0.9"\n'), {
    entity: 'document', field: '_format_version', line: 1, message: /must be one of the strings "1.1", "2.1", "3.0"/,
  });
  assertError(onlyError('services: []\n'), { entity: 'document', field: '_format_version', line: 1, message: 'is required' });
});

test('an empty file and a non-mapping document are errors, not throws', () => {
  assert.match(onlyError('').message, /empty/);
  assert.match(onlyError('- a\n- b\n').message, /expected object, got array/);
});

test('a Kong entity Floodgate lacks is named as such', () => {
  const e = onlyError('_format_version: "3.0"\nkey_sets: []\n');
  assertError(e, { entity: 'document', field: 'key_sets', line: 2, message: /Kong entity .* not support/ });
});

// --- schema errors ------------------------------------------------------------------------

test('an unknown field points at its key', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: user-route
        service: user-service
        paths: [/users]
        pathz: [/typo]
  `));
  assertError(e, { entity: 'routes[0] (name "user-route")', field: 'pathz', line: 9, message: 'unknown field "pathz"' });
  assert.equal(e.column, 5);
});

test('a type error says what was expected', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        host: example.com
        port: "8080"
  `));
  assertError(e, { entity: 'services[0] (name "s")', field: 'port', line: 5, message: /^expected integer/ });
});

test('the formatted error reads file:line:col: entity: field: message', () => {
  const text = yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: ok-route
        service: user-service
        paths: [/ok]
      - name: user-route
        service: user-service
        paths:
          - no-slash
  `);
  const errors = errorsOf(text);
  assert.equal(
    formatConfigErrors(errors, 'gateway.yaml'),
    'gateway.yaml:12:9: routes[1] (name "user-route"): field "paths[0]": must start with "/" or "~"',
  );
});

test('errors in nested entities name the whole entity path', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        host: example.com
        routes:
          - name: a
            paths: [/a]
          - name: x
            paths: [/b]
            strip_path: "yes"
  `));
  assertError(e, { entity: 'services[0].routes[1] (name "x")', field: 'strip_path', line: 10, message: /^expected boolean/ });
});

test('a union gives one message per field', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        service: 42
        paths: [/r]
        headers:
          x-a: 5
  `));
  assert.deepEqual(
    errors.map((e) => [e.line, e.field, e.message]),
    [
      [7, 'service', 'expected string, object or null, got 42'],
      [10, 'headers.x-a', 'expected string or array, got 5'],
    ],
  );
});

test('missing required fields point at the entity', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    upstreams:
      - algorithm: round-robin
    plugins:
      - config: {}
  `));
  assert.deepEqual(errors.map((e) => [e.entity, e.field, e.line, e.message]), [
    ['upstreams[0]', 'name', 3, 'is required'],
    ['plugins[0]', 'name', 5, 'is required'],
  ]);
});

test('JSON input reports JSON line numbers', () => {
  const text = [
    '{',
    '  "_format_version": "3.0",',
    '  "services": [',
    '    { "name": "s", "host": "h",',
    '      "retries": -1 }',
    '  ]',
    '}',
  ].join('\n');
  assertError(onlyError(text), { entity: 'services[0] (name "s")', field: 'retries', line: 5, message: 'must be between 0 and 32767, got -1' });
});

// --- plugins ----------------------------------------------------------------------------------

test('a bad request-termination status_code is rejected at its line', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
        plugins:
          - name: request-termination
            config:
              status_code: 700
  `));
  assertError(e, {
    entity: 'services[0].plugins[0] (name "request-termination")',
    field: 'config.status_code',
    line: 8,
    message: 'must be between 100 and 599, got 700',
  });
});

test('an unknown plugin config field is rejected at its key', () => {
  const e = onlyError('_format_version: "3.0"\nplugins:\n  - name: request-termination\n    config:\n      statuscode: 404\n');
  assertError(e, { entity: 'plugins[0] (name "request-termination")', field: 'config.statuscode', line: 5, message: 'unknown field "statuscode"' });
});

test('an unknown plugin name lists the known plugins', () => {
  const e = onlyError('_format_version: "3.0"\nplugins:\n  - name: rate-limiting-advanced\n');
  assertError(e, { entity: 'plugins[0] (name "rate-limiting-advanced")', field: 'name', line: 3, message: /unknown plugin "rate-limiting-advanced" \(known plugins: .*request-termination/ });
});

test('the same plugin twice on the same scope', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
        plugins:
          - name: request-termination
    plugins:
      - name: request-termination
        service: user-service
  `));
  assertError(e, { entity: 'plugins[0] (name "request-termination")', field: 'name', line: 8, message: /configured twice on the same service scope \(first defined at line 6\)/ });
});

test('a nested plugin must not name the scope it is nested in', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
        plugins:
          - name: request-termination
            service: user-service
  `));
  assertError(e, { entity: 'services[0].plugins[0] (name "request-termination")', field: 'service', line: 7, message: /must not be set on a plugin nested in a service/ });
});

test('a plugin pointing to a missing service, route or consumer', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    plugins:
      - name: request-termination
        service: ghost-service
      - name: request-termination
        route: { name: ghost-route }
      - name: request-termination
        consumer: ghost
  `));
  assert.deepEqual(errors.map((e) => [e.entity.replace(/ .*/, ''), e.field, e.line, e.message]), [
    ['plugins[0]', 'service', 4, 'unknown service: no service has the name or id "ghost-service"'],
    ['plugins[1]', 'route.name', 6, 'unknown route: no route has the name "ghost-route"'],
    ['plugins[2]', 'consumer', 8, 'unknown consumer: no consumer has the name or id "ghost"'],
  ]);
});

test('a plugin whose protocols are all unsupported would never run', () => {
  const e = onlyError('_format_version: "3.0"\nplugins:\n  - name: request-termination\n    protocols: [tcp, tls]\n');
  assertError(e, { entity: 'plugins[0] (name "request-termination")', field: 'protocols', line: 4, message: /never run/ });
});

// --- routes -----------------------------------------------------------------------------------

test('a route pointing to a missing service names the missing reference', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        service: user-servic
        paths: [/r]
  `));
  assertError(e, { entity: 'routes[0] (name "r")', field: 'service', line: 7, message: 'unknown service: no service has the name or id "user-servic"' });
});

test('a route nested in a service must not set service', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
        routes:
          - name: r
            service: user-service
            paths: [/r]
  `));
  assertError(e, { entity: 'services[0].routes[0] (name "r")', field: 'service', line: 7, message: /must not be set on a route nested in a service/ });
});

test('a route needs at least one of methods, hosts, headers, paths', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        service: user-service
        strip_path: false
  `));
  assertError(e, { entity: 'routes[0] (name "r")', field: '', line: 6, message: 'must set at least one of "methods", "hosts", "headers" or "paths"' });
});

test('a regex path that does not compile is reported with its line', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        service: user-service
        paths:
          - /fine
          - ~/items/(\\d+
  `));
  assertError(e, { entity: 'routes[0] (name "r")', field: 'paths[1]', line: 10, message: /^invalid regex "\/items\/\(\\\\d\+": (Unterminated group|missing \))$/ });
});

test('a ~* header value that does not compile is reported', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        service: user-service
        headers:
          x-version: ["v1", "~*v[2"]
  `));
  assertError(e, { entity: 'routes[0] (name "r")', field: 'headers.x-version[1]', line: 9, message: /^invalid regex "v\[2"/ });
});

test('the Host header cannot be matched through headers', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        headers:
          Host: example.com
  `));
  assertError(e, { entity: 'routes[0] (name "r")', field: 'headers.Host', line: 8, message: /use "hosts"/ });
});

test('route hosts: one wildcard, leftmost or rightmost label only', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        hosts:
          - "*.example.com"
          - "example.*"
          - "*.example.*"
          - "api.*.example.com"
          - "example.com:99999"
  `));
  assert.deepEqual(errors.map((e) => [e.field, e.line]), [
    ['hosts[2]', 10],
    ['hosts[3]', 11],
    ['hosts[4]', 12],
  ]);
  assert.match(errors[0].message, /more than one wildcard/);
  assert.match(errors[1].message, /leftmost or rightmost/);
  assert.match(errors[2].message, /invalid port/);
});

test('protocols Kong has but Floodgate lacks are "not supported"', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        protocols: [http, tcp]
        paths: [/r]
  `));
  assertError(e, { entity: 'routes[0] (name "r")', field: 'protocols[1]', line: 7, message: 'protocol "tcp" is not supported (Floodgate supports http, https, grpc and grpcs)' });
});

test('path_handling v1 is not supported', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: user-service
        url: http://127.0.0.1:9000
    routes:
      - name: r
        paths: [/r]
        path_handling: v1
  `));
  assertError(e, { entity: 'routes[0] (name "r")', field: 'path_handling', line: 8, message: '"v1" is not supported (only "v0")' });
});

// --- services -----------------------------------------------------------------------------------


test('a service needs a host, directly or through url', () => {
  const e = onlyError('_format_version: "3.0"\nservices:\n  - name: s\n    port: 8080\n');
  assertError(e, { entity: 'services[0] (name "s")', field: 'host', line: 3, message: 'is required (set "host" or "url")' });
});

test('a bad url or path is reported on its own field', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    services:
      - name: a
        url: tcp://example.com
      - name: b
        host: example.com
        path: relative
  `));
  assert.deepEqual(errors.map((e) => [e.entity, e.field, e.line, e.message]), [
    ['services[0] (name "a")', 'url', 4, 'protocol "tcp" is not supported (Floodgate supports http, https, grpc and grpcs)'],
    ['services[1] (name "b")', 'path', 7, 'must start with "/"'],
  ]);
});

// --- upstreams, targets, consumers -------------------------------------------------------------

test('a top-level target pointing to a missing upstream', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    upstreams:
      - name: backend
    targets:
      - target: 10.0.0.1:8000
        upstream: backnd
  `));
  assertError(e, { entity: 'targets[0] (target "10.0.0.1:8000")', field: 'upstream', line: 6, message: 'unknown upstream: no upstream has the name or id "backnd"' });
});

test('duplicate targets within an upstream, nested or top-level', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    upstreams:
      - name: backend
        targets:
          - target: 10.0.0.1
    targets:
      - target: 10.0.0.1:8000
        upstream: backend
  `));
  assertError(e, { entity: 'targets[0] (target "10.0.0.1:8000")', field: 'target', line: 7, message: 'duplicate target "10.0.0.1:8000" in upstream "backend" (first defined at line 5)' });
});

test('a bad target address and weight', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    upstreams:
      - name: backend
        targets:
          - target: "10.0.0.1:0"
          - target: ok.internal
            weight: 70000
  `));
  assert.deepEqual(errors.map((e) => [e.field, e.line]), [['target', 5], ['weight', 7]]);
  assert.match(errors[0].message, /invalid port "0"/);
  assert.equal(errors[1].message, 'must be between 0 and 65535, got 70000');
});

test('hash_on header needs hash_on_header', () => {
  const e = onlyError('_format_version: "3.0"\nupstreams:\n  - name: u\n    hash_on: header\n');
  assertError(e, { entity: 'upstreams[0] (name "u")', field: 'hash_on_header', line: 3, message: 'is required when hash_on is "header"' });
});

test('a consumer needs a username or a custom_id', () => {
  const e = onlyError('_format_version: "3.0"\nconsumers:\n  - tags: [vip]\n');
  assertError(e, { entity: 'consumers[0]', field: '', line: 3, message: 'must set at least one of "username" or "custom_id"' });
});

// --- duplicates ---------------------------------------------------------------------------------

test('duplicate names, usernames and custom_ids point at the second one', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        host: a
        routes:
          - name: r
            paths: [/a]
      - name: s
        host: b
    routes:
      - name: r
        service: s
        paths: [/b]
    upstreams:
      - name: u
      - name: u
    consumers:
      - username: alice
        custom_id: c1
      - username: alice
      - custom_id: c1
  `));
  assert.deepEqual(errors.map((e) => [e.entity, e.field, e.line, e.message]), [
    ['services[1] (name "s")', 'name', 8, 'duplicate name "s" (first defined at line 3)'],
    ['routes[0] (name "r")', 'name', 11, 'duplicate name "r" (first defined at line 6)'],
    ['upstreams[1] (name "u")', 'name', 16, 'duplicate name "u" (first defined at line 15)'],
    ['consumers[1] (username "alice")', 'username', 20, 'duplicate username "alice" (first defined at line 18)'],
    ['consumers[2] (custom_id "c1")', 'custom_id', 21, 'duplicate custom_id "c1" (first defined at line 19)'],
  ]);
});

test('duplicate ids', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - id: 7f9c0000-0000-4000-8000-000000000001
        host: a
      - id: 7f9c0000-0000-4000-8000-000000000001
        host: b
  `));
  assertError(e, { entity: 'services[1] (id "7f9c0000-0000-4000-8000-000000000001")', field: 'id', line: 5, message: /^duplicate id .* \(first defined at line 3\)$/ });
});

test('an id taken from a name or a position must not collide with an explicit id', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    routes:
      - name: r1
        paths: [/a]
      - paths: [/b]
      - id: r1
        paths: [/c]
      - id: route-1
        paths: [/d]
  `));
  assert.deepEqual(errors.map((e) => [e.entity, e.field, e.line]), [
    ['routes[2] (id "r1")', 'id', 6],
    ['routes[3] (id "route-1")', 'id', 8],
  ]);
  assert.match(errors[0].message, /^the id "r1" is already used by another route .* \(first defined at line 3\)$/);
  assert.match(errors[1].message, /\(first defined at line 5\)$/);
});

// --- robustness -------------------------------------------------------------------------------

test('loadConfigFile on a missing file gives an error, not a throw', () => {
  const result = loadConfigFile(path.join(FIXTURES, 'does-not-exist.yaml'));
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0].line, null);
  assert.match(result.errors[0].message, /ENOENT/);
  assert.match(formatConfigErrors(result.errors, 'does-not-exist.yaml'), /^does-not-exist\.yaml: document: /);
});

test('loadConfigFile reports errors with the file\'s lines', () => {
  const result = loadConfigFile(path.join(FIXTURES, 'invalid.yaml'));
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(
    formatConfigErrors(result.errors, 'invalid.yaml'),
    'invalid.yaml:13:9: routes[1] (name "bad-route"): field "paths[1]": must start with "/" or "~"',
  );
});

test('hostile or odd input never throws', () => {
  const inputs = [
    '\u0000\u0001binary',
    '[[[[[[[[',
    'a: &a [*a]',
    '_format_version: "3.0"\nservices: {}\n',
    '_format_version: "3.0"\nservices: [1, null, "x", []]\n',
    '_format_version: "3.0"\nroutes:\n  - paths: [~]\n',
    '_format_version: "3.0"\nplugins:\n  - name: request-termination\n    config: null\n',
    '_format_version: "3.0"\n---\n_format_version: "3.0"\n',
    'x: ' + '['.repeat(2000),
  ];
  for (const text of inputs) {
    assert.doesNotThrow(() => loadConfigText(text, 'odd.yaml'), `input: ${JSON.stringify(text).slice(0, 40)}`);
  }
});

test('a route regex that RE2 cannot run (backreference) is a config error with its line', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        url: http://127.0.0.1:9000
        routes:
          - name: r
            paths: ["~/(a)\\\\1"]
  `));
  assertError(e, { entity: 'services[0].routes[0] (name "r")', field: 'paths[0]', line: 7, message: /^invalid regex / });
});
