/**
 * What Kong 3.9 accepts on entities and plugins, and what Floodgate makes of it: the three
 * mistakes of issue 13, Kong's extra attributes, deprecated fields, fields refused with a
 * reason, plugins Kong forbids on consumers, and plugin enabled/protocols/instance_name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigText, type ConfigError } from '../../src/config/load';
import { compileSnapshot } from '../../src/proxy/snapshot';
import { UpstreamEngine } from '../../src/upstream/engine';
import { defaultSettings } from '../../src/settings';
import { load, yaml } from '../helpers/config-text';

function errorsOf(text: string): ConfigError[] {
  const result = loadConfigText(text, 'kong.yaml');
  if (result.ok) assert.fail('expected the config to be refused');
  return result.errors;
}

function onlyError(text: string): ConfigError {
  const errors = errorsOf(text);
  assert.equal(errors.length, 1, `expected one error, got:\n${errors.map((e) => `${e.line}: ${e.field}: ${e.message}`).join('\n')}`);
  return errors[0];
}

function expectError(e: ConfigError, want: { line: number; entity?: string; field: string; message: RegExp | string }): void {
  assert.equal(e.line, want.line, `line of: ${e.message}`);
  assert.equal(e.field, want.field);
  if (want.entity !== undefined) assert.equal(e.entity, want.entity);
  if (typeof want.message === 'string') assert.equal(e.message, want.message);
  else assert.match(e.message, want.message);
}

function warningsOf(text: string): ConfigError[] {
  const result = loadConfigText(text, 'kong.yaml');
  if (!result.ok) assert.fail(result.errors.map((e) => `${e.line}: ${e.message}`).join('\n'));
  return result.warnings;
}

// --- the three mistakes -------------------------------------------------------------------

test('regression: a service with url and protocol/host/port/path loads, and the url wins (as in Kong)', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        url: https://api.internal:8443/v2
        protocol: http
        host: other.example.com
        port: 80
        path: /v1
  `));
  const s = config.services[0];
  assert.deepEqual([s.protocol, s.host, s.port, s.path], ['https', 'api.internal', 8443, '/v2']);
});

test('regression: _comment and _ignore are accepted on every entity and dropped', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    _comment: top
    services:
      - name: s
        _comment: service
        _ignore: [1, two, { three: 3 }]
        url: http://127.0.0.1:9000
        routes:
          - name: r
            _comment: route
            paths: [/r]
            plugins:
              - name: request-termination
                _comment: plugin
                config: { status_code: 503 }
    upstreams:
      - name: u
        _comment: upstream
        targets:
          - { target: "127.0.0.1:9001", _comment: target }
    consumers:
      - username: c
        _comment: consumer
        acls:
          - { group: g, _comment: acl }
  `));
  assert.equal(config.routes[0].paths![0], '/r');
  assert.equal(config.plugins[0].name, 'request-termination');
  assert.equal(config.credentials.acls[0].group, 'g');
});

test('_comment must be a string and _ignore an array, at their lines', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        url: http://127.0.0.1:9000
        _comment: [not, a, string]
        _ignore: nope
  `));
  assert.equal(errors.length, 2);
  expectError(errors[0], { line: 5, field: '_comment', message: 'must be a string' });
  expectError(errors[1], { line: 6, field: '_ignore', message: 'must be an array' });
});

test('regression: null for an optional field means unset, so the default applies (ip-restriction status)', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    plugins:
      - name: ip-restriction
        service: null
        config:
          allow: [10.0.0.0/8]
          deny: null
          status: null
          message: null
  `));
  const p = config.plugins[0];
  assert.equal(p.config.status, 403, "Kong's default status");
  assert.equal(p.config.deny, null);
  assert.equal(p.service, null);
});

test('null on entity fields and nested records means unset too', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        url: http://127.0.0.1:9000
        retries: null
        tls_verify: null
        routes:
          - name: r
            paths: [/r]
            strip_path: null
            regex_priority: null
            hosts: null
    upstreams:
      - name: u
        slots: null
        healthchecks:
          active:
            http_path: null
            healthy: { interval: null }
  `));
  assert.equal(config.services[0].retries, 5);
  assert.equal(config.routes[0].stripPath, true);
  assert.equal(config.routes[0].regexPriority, 0);
  assert.equal(config.routes[0].hosts, null);
  assert.equal(config.upstreams[0].slots, 10000);
  assert.equal(config.upstreams[0].healthchecks.active.http_path, '/');
});

test('null for a required field is "is required" at its line', () => {
  const e = onlyError('_format_version: "3.0"\nupstreams:\n  - name: null\n');
  expectError(e, { line: 3, field: 'name', message: 'is required' });
});

test('created_at and updated_at (Kong exports) are accepted on entities', () => {
  const config = load('_format_version: "3.0"\nconsumers:\n  - username: c\n    created_at: 1700000000\n    updated_at: 1700000001\n');
  assert.equal(config.consumers[0].username, 'c');
  expectError(onlyError('_format_version: "3.0"\nconsumers:\n  - username: c\n    created_at: yesterday\n'), {
    line: 4, field: 'created_at', message: 'must be an integer (a Unix timestamp)',
  });
});

test('tags are accepted on every entity and kept', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - { name: s, url: "http://127.0.0.1:9000", tags: [a] }
    routes:
      - { name: r, service: s, paths: [/r], tags: [b] }
    upstreams:
      - { name: u, tags: [c], targets: [{ target: "127.0.0.1:9001", tags: [d] }] }
    consumers:
      - { username: c, tags: [e], keyauth_credentials: [{ key: k-123456, tags: [f] }] }
    plugins:
      - { name: request-termination, tags: [g] }
  `));
  assert.deepEqual(
    [config.services[0].tags, config.routes[0].tags, config.upstreams[0].tags, config.consumers[0].tags, config.credentials.keyauth[0].tags, config.plugins[0].tags],
    [['a'], ['b'], ['c'], ['e'], ['f'], ['g']],
  );
});

// --- top-level keys -------------------------------------------------------------------------

test("decK's _info is accepted and ignored", () => {
  const config = load('_format_version: "3.0"\n_info:\n  select_tags: [x]\n  defaults: {}\nservices: []\n');
  assert.deepEqual(config.services, []);
});

test('_konnect is refused as a decK/Konnect key', () => {
  expectError(onlyError('_format_version: "3.0"\n_konnect:\n  control_plane_name: cp\n'), {
    line: 2, entity: 'document', field: '_konnect', message: /"_konnect" is a decK\/Konnect key/,
  });
});

test('consumer_groups is refused as Enterprise-only', () => {
  expectError(onlyError('_format_version: "3.0"\nconsumer_groups:\n  - name: gold\n'), {
    line: 2, entity: 'document', field: 'consumer_groups', message: /Kong Enterprise entity/,
  });
});

// --- deprecated fields -----------------------------------------------------------------------

test('rate-limiting redis_* fields move to redis.*, with one warning for the entry', () => {
  const text = yaml(`
    _format_version: "3.0"
    plugins:
      - name: rate-limiting
        config:
          minute: 5
          policy: redis
          redis_host: 127.0.0.1
          redis_port: 6380
          redis_password: pass-123456
          redis_username: user
          redis_database: 3
          redis_timeout: 1500
          redis_ssl: true
          redis_ssl_verify: true
          redis_server_name: redis.internal
  `);
  const result = loadConfigText(text, 'kong.yaml');
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  const conf = result.config.plugins[0].config as { redis: Record<string, unknown> } & Record<string, unknown>;
  assert.deepEqual(conf.redis, {
    host: '127.0.0.1', port: 6380, password: 'pass-123456', username: 'user', database: 3, timeout: 1500,
    ssl: true, ssl_verify: true, server_name: 'redis.internal',
  });
  assert.equal('redis_host' in conf, false);
  assert.equal(result.warnings.length, 1);
  assert.equal(result.warnings[0].line, 3);
  assert.match(result.warnings[0].message, /deprecated in Kong 3.x and still accepted: "redis_host" \(use config.redis.host\)/);
  assert.match(result.warnings[0].message, /"redis_server_name"/);
});

test('response-ratelimiting redis_* fields (a decK dump with the local policy) move to redis.* with a warning', () => {
  const text = yaml(`
    _format_version: "3.0"
    plugins:
      - name: response-ratelimiting
        config:
          policy: local
          limits: { video: { minute: 10 } }
          redis_host: null
          redis_port: 6379
          redis_timeout: 2000
  `);
  const result = loadConfigText(text, 'kong.yaml');
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  const conf = result.config.plugins[0].config as { redis?: Record<string, unknown> } & Record<string, unknown>;
  assert.equal('redis_port' in conf, false);
  assert.equal(conf.redis?.port, 6379);
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0].message, /"redis_port" \(use config.redis.port\)/);
});

test('a deprecated field echoed beside its successor with the same value is dropped silently (decK dumps)', () => {
  const warnings = warningsOf(yaml(`
    _format_version: "3.0"
    plugins:
      - name: rate-limiting
        config:
          minute: 5
          redis_port: 6379
          redis: { port: 6379 }
  `));
  assert.deepEqual(warnings, []);
});

test('a deprecated field that contradicts its successor is an error at the deprecated field', () => {
  expectError(onlyError(yaml(`
    _format_version: "3.0"
    plugins:
      - name: rate-limiting
        config:
          minute: 5
          redis_port: 6380
          redis: { port: 6379 }
  `)), { line: 6, field: 'config.redis_port', message: /both deprecated and new field are used but their values mismatch: "redis_port" and "redis.port"/ });
});

test('http-log queue_size, flush_timeout and retry_count become queue settings, with one warning', () => {
  const result = loadConfigText(yaml(`
    _format_version: "3.0"
    plugins:
      - name: http-log
        config:
          http_endpoint: http://127.0.0.1:9000/log
          queue_size: 50
          flush_timeout: 4
          retry_count: 3
  `), 'kong.yaml');
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  const conf = result.config.plugins[0].config as { queue: Record<string, unknown> } & Record<string, unknown>;
  assert.equal(conf.queue.max_batch_size, 50);
  assert.equal(conf.queue.max_coalescing_delay, 4);
  assert.equal(conf.queue.max_retry_time, 60, 'retry_count maps to nothing (Kong: it no longer works)');
  assert.deepEqual(['queue_size', 'flush_timeout', 'retry_count'].filter((k) => k in conf), []);
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0].message, /"queue_size" \(use config.queue.max_batch_size\), "flush_timeout" \(use config.queue.max_coalescing_delay\), "retry_count" \(it no longer does anything/);
});

test("http-log's deprecated fields at Kong's old defaults are ignored without a warning, as Kong does", () => {
  const warnings = warningsOf(yaml(`
    _format_version: "3.0"
    plugins:
      - name: http-log
        config: { http_endpoint: "http://127.0.0.1:9000/log", queue_size: 1, flush_timeout: 2, retry_count: 10 }
  `));
  assert.deepEqual(warnings, []);
});

// --- fields Kong accepts that Floodgate does not implement -----------------------------------

test('upstream use_srv_name: refused with a reason when true, accepted at its default', () => {
  expectError(onlyError('_format_version: "3.0"\nupstreams:\n  - name: u\n    use_srv_name: true\n'), {
    line: 4, field: 'use_srv_name', message: /^not supported by Floodgate: "use_srv_name": /,
  });
  assert.equal(load('_format_version: "3.0"\nupstreams:\n  - name: u\n    use_srv_name: false\n').upstreams[0].name, 'u');
});

test('http-log custom_fields_by_lua is refused because it is Lua', () => {
  const e = onlyError(yaml(`
    _format_version: "3.0"
    plugins:
      - name: http-log
        config:
          http_endpoint: http://127.0.0.1:9000/log
          custom_fields_by_lua:
            route_name: "return kong.router.get_route().name"
  `));
  expectError(e, { line: 6, field: 'config.custom_fields_by_lua', message: /^not supported by Floodgate: "config.custom_fields_by_lua": Floodgate cannot run Lua/ });
});

test('other Kong fields are refused with their reason, never as "unknown field"', () => {
  const errors = errorsOf(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        url: http://127.0.0.1:9000
        client_certificate: { id: abc }
        tls_verify_depth: 3
        routes:
          - name: r
            paths: [/r]
            snis: [api.example.com]
            expression: 'http.path == "/r"'
    upstreams:
      - name: u
        host_header: other.internal
        hash_on: uri_capture
        hash_on_uri_capture: id
  `));
  const fields = errors.map((e) => `${e.line}:${e.field}`);
  assert.deepEqual(fields, ['5:client_certificate', '6:tls_verify_depth', '10:snis', '11:expression', '14:host_header', '15:hash_on', '16:hash_on_uri_capture']);
  for (const e of errors) {
    assert.match(e.message, /^not supported by Floodgate: /);
    assert.doesNotMatch(e.message, /unknown field/);
  }
});

test('cors allow_origin_absent: true loads with a warning that says how Floodgate behaves', () => {
  const warnings = warningsOf('_format_version: "3.0"\nplugins:\n  - name: cors\n    config:\n      allow_origin_absent: true\n');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].line, 5);
  assert.match(warnings[0].message, /requests without an Origin header get no CORS headers/);
});

// --- plugins -------------------------------------------------------------------------------

test('a plugin Kong forbids on a consumer (no_consumer) is an error at its line', () => {
  const nested = onlyError(yaml(`
    _format_version: "3.0"
    consumers:
      - username: c
        plugins:
          - name: key-auth
  `));
  expectError(nested, { line: 5, entity: 'consumers[0].plugins[0] (name "key-auth")', field: 'name', message: /plugin "key-auth" cannot be applied to a consumer: Kong forbids it/ });
  for (const name of ['basic-auth', 'jwt', 'acl', 'cors']) {
    const e = onlyError(`_format_version: "3.0"\nconsumers:\n  - username: c\nplugins:\n  - name: ${name}\n    consumer: c\n    config: ${name === 'acl' ? '{ allow: [g] }' : '{}'}\n`);
    expectError(e, { line: 6, field: 'consumer', message: new RegExp(`plugin "${name}" cannot be applied to a consumer`) });
  }
});

test('plugins Kong allows on a consumer still load there', () => {
  const config = load('_format_version: "3.0"\nconsumers:\n  - username: c\n    plugins:\n      - name: rate-limiting\n        config: { minute: 5 }\n');
  assert.equal(config.plugins[0].consumer, 'c');
});

test('pre-function and post-function are refused because they run Lua, pointing to TypeScript plugins', () => {
  for (const name of ['pre-function', 'post-function']) {
    const e = onlyError(`_format_version: "3.0"\nplugins:\n  - name: ${name}\n    config:\n      access: ["kong.log.err('hi')"]\n`);
    expectError(e, { line: 3, field: 'name', message: new RegExp(`plugin "${name}" runs Lua code, which Floodgate cannot run; write the logic as a TypeScript plugin`) });
  }
});

test('a Kong plugin Floodgate lacks is named as such, a typo stays "unknown"', () => {
  assert.match(onlyError('_format_version: "3.0"\nplugins:\n  - name: aws-lambda\n').message, /^plugin "aws-lambda" is a Kong plugin that Floodgate does not implement/);
  assert.match(onlyError('_format_version: "3.0"\nplugins:\n  - name: key-authh\n').message, /^unknown plugin "key-authh"/);
});

test('instance_name is kept, must be unique, and uses Kong\'s characters', () => {
  const config = load('_format_version: "3.0"\nplugins:\n  - name: cors\n    instance_name: my-cors.1\n');
  assert.equal(config.plugins[0].instanceName, 'my-cors.1');
  const dup = onlyError(yaml(`
    _format_version: "3.0"
    services:
      - { name: s, url: "http://127.0.0.1:9000" }
    plugins:
      - { name: cors, instance_name: shared }
      - { name: request-termination, service: s, instance_name: shared }
  `));
  expectError(dup, { line: 6, field: 'instance_name', message: 'duplicate instance_name "shared" (first defined at line 5)' });
  expectError(onlyError('_format_version: "3.0"\nplugins:\n  - name: cors\n    instance_name: "has space"\n'), {
    line: 4, field: 'instance_name', message: /must contain only letters, digits/,
  });
});

test('the compiled chain skips a disabled plugin and one whose protocols exclude http', async () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        url: http://127.0.0.1:9000
        routes:
          - { name: off, paths: [/off], plugins: [{ name: request-termination, enabled: false }] }
          - { name: https-only, paths: [/tls], plugins: [{ name: request-termination, protocols: [https] }] }
          - { name: on, paths: [/on], plugins: [{ name: request-termination, protocols: [http] }] }
  `));
  assert.equal(config.plugins[0].enabled, false);
  assert.deepEqual(config.plugins[1].protocols, ['https'], 'kept for an https listener');
  const pools = new UpstreamEngine(defaultSettings);
  try {
    const snap = compileSnapshot(config, 1, pools);
    const [off, httpsOnly, on] = snap.routesByOrder;
    assert.equal(off.onRequest, null, 'enabled: false does not run');
    assert.equal(httpsOnly.onRequest, null, 'protocols [https] does not run on http traffic');
    assert.equal(on.onRequest?.length, 1);
  } finally {
    await pools.closeAll();
  }
});

test('opentelemetry endpoint and batch_* keep working, with one deprecation warning', () => {
  const result = loadConfigText(yaml(`
    _format_version: "3.0"
    plugins:
      - name: opentelemetry
        config:
          endpoint: http://127.0.0.1:4318/v1/traces
          batch_span_count: 50
  `), 'kong.yaml');
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  assert.equal(result.config.plugins[0].config.endpoint, 'http://127.0.0.1:4318/v1/traces', 'the plugin reads it itself');
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0].message, /"endpoint" \(use config.traces_endpoint\), "batch_span_count" \(use config.queue.max_batch_size\)/);
});

test('a vault reference in a _comment is left as text', () => {
  const config = load('_format_version: "3.0"\nconsumers:\n  - username: c\n    _comment: "{vault://env/FG_NEVER_SET_ANYWHERE}"\n');
  assert.equal(config.consumers[0].username, 'c');
});

test('opentelemetry header_type: the W3C values load, other Kong formats are refused with the reason', () => {
  const ok = load('_format_version: "3.0"\nplugins:\n  - name: opentelemetry\n    config:\n      traces_endpoint: http://127.0.0.1:4318/v1/traces\n      header_type: w3c\n');
  assert.equal(ok.plugins[0].config.header_type, 'w3c');
  const e = onlyError('_format_version: "3.0"\nplugins:\n  - name: opentelemetry\n    config:\n      traces_endpoint: http://127.0.0.1:4318/v1/traces\n      header_type: b3\n');
  expectError(e, { line: 6, field: 'config.header_type', message: /^not supported by Floodgate: "config.header_type" "b3": Floodgate reads and writes W3C trace context only/ });
});

test("http-log's queue_size wins over queue.max_batch_size, as in Kong (decK dumps carry both)", () => {
  const result = loadConfigText(yaml(`
    _format_version: "3.0"
    plugins:
      - name: http-log
        config:
          http_endpoint: http://127.0.0.1:9000/log
          queue_size: 20
          queue: { max_batch_size: 1, max_coalescing_delay: 1 }
  `), 'kong.yaml');
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  assert.equal((result.config.plugins[0].config as { queue: { max_batch_size: number } }).queue.max_batch_size, 20);
  assert.equal(result.warnings.length, 1);
});

test('a value Kong does not know either stays a schema error, not "not supported"', () => {
  const e = onlyError('_format_version: "3.0"\nupstreams:\n  - name: u\n    hash_on: uri_captur\n');
  expectError(e, { line: 4, field: 'hash_on', message: /^must be one of "none", "consumer"/ });
});
