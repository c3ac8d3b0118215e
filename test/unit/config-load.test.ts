/**
 * Loading valid declarative configs: what NormalizedConfig comes out (defaults, ids, references,
 * order). Error reporting is in config-errors.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadConfigFile } from '../../src/config/load';
import type { NormalizedConfig } from '../../src/config/types';
import { yaml, load } from '../helpers/config-text';

const FIXTURES = path.join(__dirname, '../../../test/fixtures/config');



const SEED = yaml(`
  _format_version: "3.0"
  services:
    - name: user-service
      url: http://127.0.0.1:9000
    - name: product-service
      url: http://127.0.0.1:9000/catalog
  routes:
    - name: user-service-route
      service: user-service
      paths: [/api/v1/users]
      strip_path: true
      methods: [GET, POST]
    - name: product-service-route
      service: product-service
      paths: [/api/v1/products]
      strip_path: true
`);

test('the seed example loads with its services, routes and Kong defaults', () => {
  const config = load(SEED);
  assert.equal(config.formatVersion, '3.0');
  assert.deepEqual(config.services, [
    {
      id: 'user-service',
      name: 'user-service',
      protocol: 'http',
      host: '127.0.0.1',
      port: 9000,
      path: null,
      retries: 5,
      connectTimeout: 60000,
      readTimeout: 60000,
      writeTimeout: 60000,
      upstream: null,
      tlsVerify: false,
      enabled: true,
      tags: [],
    },
    {
      id: 'product-service',
      name: 'product-service',
      protocol: 'http',
      host: '127.0.0.1',
      port: 9000,
      path: '/catalog',
      retries: 5,
      connectTimeout: 60000,
      readTimeout: 60000,
      writeTimeout: 60000,
      upstream: null,
      tlsVerify: false,
      enabled: true,
      tags: [],
    },
  ]);
  assert.deepEqual(config.routes[0], {
    id: 'user-service-route',
    name: 'user-service-route',
    service: 'user-service',
    protocols: ['http', 'https'],
    methods: ['GET', 'POST'],
    hosts: null,
    paths: ['/api/v1/users'],
    headers: null,
    stripPath: true,
    preserveHost: false,
    regexPriority: 0,
    httpsRedirectStatusCode: 426,
    requestBuffering: true,
    responseBuffering: true,
    order: 0,
    tags: [],
  });
  assert.equal(config.routes[1].service, 'product-service');
  assert.equal(config.routes[1].methods, null);
  assert.equal(config.routes[1].order, 1);
  assert.deepEqual(config.upstreams, []);
  assert.deepEqual(config.consumers, []);
  assert.deepEqual(config.plugins, []);
});

test('a service port defaults by protocol, from the url or from the fields', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - name: a
        url: https://api.example.com/v2
      - name: b
        protocol: https
        host: api.example.com
      - name: c
        host: api.example.com
        path: /x
        retries: 0
        connect_timeout: 1000
        tls_verify: true
        enabled: false
        tags: [edge]
  `));
  const [a, b, c] = config.services;
  assert.deepEqual([a.protocol, a.host, a.port, a.path], ['https', 'api.example.com', 443, '/v2']);
  assert.deepEqual([b.protocol, b.port, b.path], ['https', 443, null]);
  assert.deepEqual([c.protocol, c.port, c.path, c.retries, c.connectTimeout, c.readTimeout], ['http', 80, '/x', 0, 1000, 60000]);
  assert.deepEqual([c.tlsVerify, c.enabled, c.tags], [true, false, ['edge']]);
});

test('nested routes and plugins take their parent, and routes are ordered as written', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    routes:
      - name: top-first
        service: svc
        paths: [/first]
    services:
      - name: svc
        host: backend.internal
        plugins:
          - name: request-termination
        routes:
          - paths: [/nested-unnamed]
            plugins:
              - name: request-termination
                config: { status_code: 418 }
          - name: nested-named
            hosts: [API.Example.COM, "*.example.org:8080"]
            methods: [get, Post]
            headers:
              X-Version: v1
              x-tier: [gold, "~*^silver"]
    plugins:
      - name: request-termination
        route: top-first
  `));
  assert.deepEqual(
    config.routes.map((r) => [r.id, r.name, r.service, r.order]),
    [
      ['top-first', 'top-first', 'svc', 0],
      ['route-1', null, 'svc', 1],
      ['nested-named', 'nested-named', 'svc', 2],
    ],
  );
  const named = config.routes[2];
  assert.deepEqual(named.hosts, ['api.example.com', '*.example.org:8080']);
  assert.deepEqual(named.methods, ['GET', 'POST']);
  assert.deepEqual(named.headers, { 'x-version': ['v1'], 'x-tier': ['gold', '~*^silver'] });
  assert.equal(named.paths, null);

  assert.deepEqual(
    config.plugins.map((p) => [p.id, p.service, p.route, p.consumer, p.config.status_code]),
    [
      ['plugin-0', 'svc', null, null, 503],
      ['plugin-1', null, 'route-1', null, 418],
      ['plugin-2', null, 'top-first', null, 503],
    ],
  );
});

test('JSON input loads through the same parser', () => {
  const config = load(JSON.stringify({
    _format_version: '3.0',
    services: [{ name: 's', host: 'h', routes: [{ name: 'r', paths: ['/x'] }] }],
  }, null, 2));
  assert.equal(config.routes[0].service, 's');
  assert.equal(config.services[0].port, 80);
});

test('upstreams get nested and top-level targets, target defaults and healthcheck defaults', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - name: api
        host: backend
    upstreams:
      - name: backend
        algorithm: least-connections
        healthchecks:
          active:
            http_path: /health
            healthy:
              interval: 5
        targets:
          - target: 10.0.0.1
          - target: "[::1]:9000"
            weight: 5
    targets:
      - target: backend-3.internal:8081
        upstream: backend
  `));
  assert.equal(config.services[0].upstream, 'backend');
  const [up] = config.upstreams;
  assert.deepEqual([up.id, up.name, up.algorithm, up.slots, up.hashOn, up.hashFallback, up.hashOnCookiePath], [
    'backend', 'backend', 'least-connections', 10000, 'none', 'none', '/',
  ]);
  assert.deepEqual(up.targets, [
    { target: '10.0.0.1:8000', host: '10.0.0.1', port: 8000, weight: 100 },
    { target: '[::1]:9000', host: '[::1]', port: 9000, weight: 5 },
    { target: 'backend-3.internal:8081', host: 'backend-3.internal', port: 8081, weight: 100 },
  ]);
  const hc = up.healthchecks as any;
  assert.equal(hc.active.http_path, '/health');
  assert.equal(hc.active.timeout, 1);
  assert.equal(hc.active.concurrency, 10);
  assert.deepEqual(hc.active.healthy, { interval: 5, http_statuses: [200, 302], successes: 0 });
  assert.deepEqual(hc.active.unhealthy.http_statuses, [429, 404, 500, 501, 502, 503, 504, 505]);
  assert.deepEqual(hc.passive.unhealthy, { http_statuses: [429, 500, 503], tcp_failures: 0, timeouts: 0, http_failures: 0 });
  assert.equal(hc.threshold, 0);
});

test('an upstream with no healthchecks block still gets every default', () => {
  const config = load('_format_version: "3.0"\nupstreams:\n  - name: u\n');
  const hc = config.upstreams[0].healthchecks as any;
  assert.equal(hc.active.type, 'http');
  assert.equal(hc.passive.healthy.successes, 0);
  assert.deepEqual(config.upstreams[0].targets, []);
});

test('request-termination config gets its own schema defaults', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    plugins:
      - name: request-termination
        config:
          status_code: 403
          message: go away
  `));
  assert.deepEqual(config.plugins[0], {
    id: 'plugin-0',
    name: 'request-termination',
    instanceName: null,
    enabled: true,
    service: null,
    route: null,
    consumer: null,
    protocols: ['grpc', 'grpcs', 'http', 'https'],
    config: { status_code: 403, message: 'go away', body: null, content_type: null, trigger: null, echo: false },
    tags: [],
  });
});

test('references resolve by id or name, as a string or {id}/{name}', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - id: 0b7a5c1e-0000-4000-8000-000000000001
        name: by-id
        host: a.internal
      - name: by-name
        host: b.internal
    routes:
      - service: 0b7a5c1e-0000-4000-8000-000000000001
        paths: [/a]
      - service: { name: by-name }
        paths: [/b]
      - service: { id: 0b7a5c1e-0000-4000-8000-000000000001 }
        paths: [/c]
      - paths: [/no-service]
    consumers:
      - username: alice
      - custom_id: ext-42
    plugins:
      - name: request-termination
        consumer: alice
        service: by-name
  `));
  assert.deepEqual(config.routes.map((r) => [r.id, r.service]), [
    ['route-0', '0b7a5c1e-0000-4000-8000-000000000001'],
    ['route-1', 'by-name'],
    ['route-2', '0b7a5c1e-0000-4000-8000-000000000001'],
    ['route-3', null],
  ]);
  assert.deepEqual(config.consumers, [
    { id: 'alice', username: 'alice', customId: null, tags: [] },
    { id: 'consumer-1', username: null, customId: 'ext-42', tags: [] },
  ]);
  assert.deepEqual([config.plugins[0].service, config.plugins[0].consumer], ['by-name', 'alice']);
});

test('plugin protocols: Kong protocols Floodgate lacks are dropped', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    plugins:
      - name: request-termination
        protocols: [tcp, grpc, https]
  `));
  assert.deepEqual(config.plugins[0].protocols, ['grpc', 'https']);
});

test('the result is plain data: it survives JSON and structured cloning unchanged', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    services:
      - name: s
        host: u
        routes:
          - name: r
            paths: ["~/items/(?<id>\\\\d+)$"]
            headers: { x-a: "~*^a" }
            plugins:
              - name: request-termination
    upstreams:
      - name: u
        targets: [{ target: "10.0.0.1" }]
  `));
  assert.deepEqual(JSON.parse(JSON.stringify(config)), config);
  assert.deepEqual(structuredClone(config), config);
  assert.deepEqual(config.routes[0].paths, ['~/items/(?<id>\\d+)$']);
});

test('regex spellings the router translates from PCRE are accepted', () => {
  const config = load(yaml(`
    _format_version: "3.0"
    routes:
      - paths: ["~(?i)/users/(?P<id>\\\\d+)$"]
        headers: { x-tier: "~*^(?P<t>gold)" }
  `));
  assert.deepEqual(config.routes[0].paths, ['~(?i)/users/(?P<id>\\d+)$']);
});

test('loadConfigFile reads YAML and JSON files', () => {
  const fromYaml = loadConfigFile(path.join(FIXTURES, 'seed.yaml'));
  const fromJson = loadConfigFile(path.join(FIXTURES, 'seed.json'));
  assert.ok(fromYaml.ok && fromJson.ok);
  assert.deepEqual(fromYaml.config, fromJson.config);
  assert.deepEqual(fromYaml.config, load(SEED));
});

test('loading the same text twice gives equal, independent results', () => {
  const a = load(SEED);
  const b = load(SEED);
  assert.deepEqual(a, b);
  assert.notEqual(a.services[0].tags, b.services[0].tags);
});
