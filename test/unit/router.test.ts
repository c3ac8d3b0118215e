import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteConfig } from '../../src/config/types';
import { compileLinearRouter, compileRouter, literalPrefix, RouterCompileError } from '../../src/router/router';
import { MatchResult, type MatchRequest } from '../../src/router/types';
import { routeConfig, type RouteInput } from '../helpers/route-config';

function routes(...inputs: RouteInput[]): RouteConfig[] {
  return inputs.map((r, i) => routeConfig(r, i));
}

interface ReqInput {
  method?: string;
  host?: string;
  port?: number;
  headers?: [string, string][];
}

function req(path: string, o: ReqInput = {}): MatchRequest {
  const headers = o.headers ?? [];
  return {
    method: o.method ?? 'GET',
    host: o.host ?? '',
    hostPort: o.port ?? 8000,
    path,
    headerNames: headers.map((h) => h[0]),
    headerValues: headers.map((h) => h[1]),
  };
}

/** Matches with both the indexed router and the linear reference; they must agree. */
function match(rs: RouteConfig[], r: MatchRequest): MatchResult {
  const out = new MatchResult();
  const ok = compileRouter(rs).match(r, out);
  const ref = new MatchResult();
  compileLinearRouter(rs).match(r, ref);
  assert.equal(ok, out.route !== null);
  assert.equal(out.route?.id, ref.route?.id, 'indexed and linear routers disagree');
  assert.equal(out.matchedLength, ref.matchedLength);
  return out;
}

function winner(rs: RouteConfig[], r: MatchRequest): string | null {
  return match(rs, r).route?.id ?? null;
}

test('a plain path is a raw string prefix: /my-route matches /my-route-uri', () => {
  const rs = routes({ id: 'r', paths: ['/my-route'] });
  const out = match(rs, req('/my-route-uri'));
  assert.equal(out.route?.id, 'r');
  assert.equal(out.matchedLength, 9);
  assert.equal(out.captures, null);
  assert.equal(winner(rs, req('/my-rout')), null);
  assert.equal(winner(rs, req('/other/my-route')), null);
});

test('a regex path is anchored at the start only', () => {
  const rs = routes({ id: 'r', paths: ['~/users/\\d+'] });
  assert.equal(winner(rs, req('/users/42')), 'r');
  assert.equal(winner(rs, req('/users/42/orders')), 'r');
  assert.equal(winner(rs, req('/api/users/42')), null);
  assert.equal(match(rs, req('/users/42/orders')).matchedLength, 9);
});

test('regex named captures are reported; plain paths and unnamed groups give null', () => {
  const rs = routes(
    { id: 'named', paths: ['~/users/(?<id>\\d+)(?:/(?<sub>[a-z]+))?'] },
    { id: 'python', paths: ['~/items/(?P<item>\\w+)'] },
    { id: 'unnamed', paths: ['~/files/(\\d+)'] },
    { id: 'plain', paths: ['/plain'] },
  );
  const a = match(rs, req('/users/7/orders'));
  assert.equal(a.route?.id, 'named');
  assert.deepEqual({ ...a.captures }, { id: '7', sub: 'orders' });
  const b = match(rs, req('/users/7'));
  assert.deepEqual({ ...b.captures }, { id: '7' }, 'a group that did not match is left out');
  assert.deepEqual({ ...match(rs, req('/items/abc')).captures }, { item: 'abc' });
  assert.equal(match(rs, req('/files/12')).captures, null);
  assert.equal(match(rs, req('/plain/x')).captures, null);
});

test('a regex with an optional or repeated literal still matches (literal-prefix indexing)', () => {
  assert.equal(literalPrefix('/ab?c'), '/a');
  assert.equal(literalPrefix('/a+b'), '/a');
  assert.equal(literalPrefix('/x\\.y\\d'), '/x.y');
  assert.equal(literalPrefix('/v1|/v2'), '');
  assert.equal(literalPrefix('^/api/v{1,2}'), '/api/');
  const rs = routes({ id: 'opt', paths: ['~/ab?c'] }, { id: 'rep', paths: ['~/x+y'] }, { id: 'alt', paths: ['~/v1|/v2'] });
  assert.equal(winner(rs, req('/ac')), 'opt');
  assert.equal(winner(rs, req('/abc')), 'opt');
  assert.equal(winner(rs, req('/xxxy')), 'rep');
  assert.equal(winner(rs, req('/v2/z')), 'alt');
});

test('a leading (?i) makes a regex path case-insensitive', () => {
  const rs = routes({ id: 'ci', paths: ['~(?i)/users'] });
  assert.equal(winner(rs, req('/USERS/1')), 'ci');
});

test('with several regexes in one route the first in config order decides length and captures', () => {
  const rs = routes({ id: 'r', paths: ['~/a/(?<x>\\d+)', '~/a/(?<y>\\d)'] });
  const out = match(rs, req('/a/123'));
  assert.deepEqual({ ...out.captures }, { x: '123' });
  assert.equal(out.matchedLength, 6);
});

test('priority 1: more matching fields beat a longer path', () => {
  const rs = routes(
    { id: 'long', paths: ['/api/v1/long/prefix'] },
    { id: 'method', methods: ['GET'], paths: ['/'] },
  );
  assert.equal(winner(rs, req('/api/v1/long/prefix/x')), 'method');
  assert.equal(winner(rs, req('/api/v1/long/prefix/x', { method: 'POST' })), 'long');
});

test('priority 2: plain hosts beat wildcard hosts', () => {
  const rs = routes(
    { id: 'wild', hosts: ['*.example.com'], paths: ['/a/long/path'] },
    { id: 'plain', hosts: ['api.example.com'], paths: ['/'] },
  );
  assert.equal(winner(rs, req('/a/long/path', { host: 'api.example.com' })), 'plain');
  assert.equal(winner(rs, req('/a/long/path', { host: 'www.example.com' })), 'wild');
});

test('priority 3: more header rules beat a longer path', () => {
  const rs = routes(
    { id: 'one', headers: { 'x-a': ['1'] }, paths: ['/long/path'] },
    { id: 'two', headers: { 'x-a': ['1'], 'x-b': ['2'] }, paths: ['/'] },
  );
  const both: [string, string][] = [['x-a', '1'], ['x-b', '2']];
  assert.equal(winner(rs, req('/long/path', { headers: both })), 'two');
  assert.equal(winner(rs, req('/long/path', { headers: [['x-a', '1']] })), 'one');
});

test('priority 4: a regex path beats a longer plain prefix', () => {
  const rs = routes({ id: 'plain', paths: ['/users/123456789'] }, { id: 'regex', paths: ['~/users/\\d+'] });
  assert.equal(winner(rs, req('/users/123456789')), 'regex');
});

test('priority 5: regex_priority orders regex paths', () => {
  const rs = routes(
    { id: 'low', paths: ['~/users/\\d+'] },
    { id: 'high', paths: ['~/users/.*'], regexPriority: 1 },
  );
  assert.equal(winner(rs, req('/users/42')), 'high');
  const negative = routes({ id: 'neg', paths: ['~/users/.*'], regexPriority: -5 }, { id: 'zero', paths: ['~/users/.*'] });
  assert.equal(winner(negative, req('/users/42')), 'zero', 'a negative regex_priority ranks below 0');
});

test('regex_priority does not count for plain paths', () => {
  const rs = routes({ id: 'short', paths: ['/abc'], regexPriority: 10 }, { id: 'long', paths: ['/abcd'] });
  assert.equal(winner(rs, req('/abcdef')), 'long');
});

test('priority 6: the longest plain prefix wins', () => {
  const rs = routes({ id: 'a', paths: ['/a'] }, { id: 'ab', paths: ['/a/b'] });
  assert.equal(winner(rs, req('/a/b/c')), 'ab');
  assert.equal(winner(rs, req('/a/c')), 'a');
});

test('a multi-path route is split into parts that rank on their own', () => {
  const rs = routes({ id: 'multi', paths: ['/a', '/abc/def'] }, { id: 'mid', paths: ['/abc'] });
  const deep = match(rs, req('/abc/def/x'));
  assert.equal(deep.route?.id, 'multi');
  assert.equal(deep.matchedLength, 8);
  // Unsplit, `multi` would rank with length 8 and take this request too.
  assert.equal(winner(rs, req('/abc/x')), 'mid');
  const short = match(rs, req('/a/x'));
  assert.equal(short.route?.id, 'multi');
  assert.equal(short.matchedLength, 2);
  const table = compileRouter(rs).describe();
  assert.deepEqual(
    table.map((r) => [r.rank, r.routeId, r.paths]),
    [
      [0, 'multi', ['/abc/def']],
      [1, 'mid', ['/abc']],
      [2, 'multi', ['/a']],
    ],
  );
});

test('a route with plain and regex paths gets a regex part', () => {
  const rs = routes({ id: 'mixed', paths: ['/static', '~/u/\\d+'] }, { id: 'long', paths: ['/u/1234567'] });
  assert.equal(winner(rs, req('/u/1234567')), 'mixed', 'the regex part outranks a plain prefix');
  assert.equal(winner(rs, req('/static/x')), 'mixed');
});

test('wildcard hosts: leading and trailing *', () => {
  const rs = routes({ id: 'suffix', hosts: ['*.example.com'] }, { id: 'prefix', hosts: ['example.*'] });
  assert.equal(winner(rs, req('/', { host: 'a.example.com' })), 'suffix');
  assert.equal(winner(rs, req('/', { host: 'a.b.example.com' })), 'suffix');
  assert.equal(winner(rs, req('/', { host: 'example.com' })), 'prefix');
  assert.equal(winner(rs, req('/', { host: 'example.org' })), 'prefix');
  assert.equal(winner(rs, req('/', { host: 'www.example.org' })), null);
  assert.equal(winner(rs, req('/', { host: 'notexample.com' })), null);
});

test('an exact host matches only that host', () => {
  const rs = routes({ id: 'h', hosts: ['api.test', 'other.test'], paths: ['/'] });
  assert.equal(winner(rs, req('/x', { host: 'other.test' })), 'h');
  assert.equal(winner(rs, req('/x', { host: 'api.test.evil' })), null);
  assert.equal(winner(rs, req('/x', { host: '' })), null);
});

test('a host with an explicit port matches only that port', () => {
  const rs = routes({ id: 'p', hosts: ['api.test:8443'] });
  assert.equal(winner(rs, req('/', { host: 'api.test', port: 8443 })), 'p');
  assert.equal(winner(rs, req('/', { host: 'api.test', port: 8000 })), null);
  const wild = routes({ id: 'wp', hosts: ['*.test:9000'] });
  assert.equal(winner(wild, req('/', { host: 'a.test', port: 9000 })), 'wp');
  assert.equal(winner(wild, req('/', { host: 'a.test', port: 9001 })), null);
});

test('a host with an explicit port wins a priority tie', () => {
  const rs = routes(
    { id: 'any-port', hosts: ['api.test'], paths: ['/'] },
    { id: 'port', hosts: ['api.test:8443'], paths: ['/'] },
  );
  assert.equal(winner(rs, req('/x', { host: 'api.test', port: 8443 })), 'port');
  assert.equal(winner(rs, req('/x', { host: 'api.test', port: 8000 })), 'any-port');
  // A route with both forms wins through the port only when the port form matched.
  const mixed = routes(
    { id: 'first', hosts: ['api.test'], paths: ['/'] },
    { id: 'both', hosts: ['api.test', 'api.test:9000'], paths: ['/'] },
  );
  assert.equal(winner(mixed, req('/x', { host: 'api.test', port: 9000 })), 'both');
  assert.equal(winner(mixed, req('/x', { host: 'api.test', port: 8000 })), 'first');
});

test('the port tie-break does not cross priorities', () => {
  const rs = routes(
    { id: 'longer', hosts: ['api.test'], paths: ['/abc'] },
    { id: 'port', hosts: ['api.test:8443'], paths: ['/'] },
  );
  assert.equal(winner(rs, req('/abc', { host: 'api.test', port: 8443 })), 'longer');
});

test('header values compare case-insensitively', () => {
  const rs = routes({ id: 'h', headers: { 'x-version': ['V1', 'v2'] } });
  assert.equal(winner(rs, req('/', { headers: [['x-version', 'v1']] })), 'h');
  assert.equal(winner(rs, req('/', { headers: [['x-version', 'V2']] })), 'h');
  assert.equal(winner(rs, req('/', { headers: [['x-version', 'v3']] })), null);
  assert.equal(winner(rs, req('/', { headers: [['x-other', 'v1']] })), null);
});

test('a ~* header value is a case-insensitive, unanchored regex', () => {
  const rs = routes({ id: 'h', headers: { 'user-agent': ['~*mobile-(ios|android)'] } });
  assert.equal(winner(rs, req('/', { headers: [['user-agent', 'Acme Mobile-iOS/17']] })), 'h');
  assert.equal(winner(rs, req('/', { headers: [['user-agent', 'desktop']] })), null);
  const anchored = routes({ id: 'a', headers: { 'x-t': ['~*^abc$'] } });
  assert.equal(winner(anchored, req('/', { headers: [['x-t', 'ABC']] })), 'a');
  assert.equal(winner(anchored, req('/', { headers: [['x-t', 'xabc']] })), null);
});

test('any value of a repeated request header may match', () => {
  const rs = routes({ id: 'h', headers: { 'x-tag': ['b'] } });
  assert.equal(winner(rs, req('/', { headers: [['x-tag', 'a'], ['x-tag', 'B']] })), 'h');
});

test('every configured header must be satisfied', () => {
  const rs = routes({ id: 'h', headers: { 'x-a': ['1'], 'x-b': ['2'] } });
  assert.equal(winner(rs, req('/', { headers: [['x-a', '1']] })), null);
  assert.equal(winner(rs, req('/', { headers: [['x-b', '2'], ['x-a', '1']] })), 'h');
});

test('methods match exactly', () => {
  const rs = routes({ id: 'm', methods: ['GET', 'HEAD'], paths: ['/m'] });
  assert.equal(winner(rs, req('/m', { method: 'HEAD' })), 'm');
  assert.equal(winner(rs, req('/m', { method: 'POST' })), null);
});

test('fields combine with AND across fields and OR within a field', () => {
  const rs = routes({ id: 'r', methods: ['PUT'], hosts: ['a.test', 'b.test'], paths: ['/x', '/y'] });
  assert.equal(winner(rs, req('/y/1', { method: 'PUT', host: 'b.test' })), 'r');
  assert.equal(winner(rs, req('/z', { method: 'PUT', host: 'b.test' })), null);
  assert.equal(winner(rs, req('/x', { method: 'PUT', host: 'c.test' })), null);
});

test('ties break by category: hosts > headers > paths > methods', () => {
  // Both have priority weight 1 and nothing else: `*.test` is not a plain host.
  const rs = routes({ id: 'methods', methods: ['GET'] }, { id: 'hosts', hosts: ['*.test'] });
  assert.equal(winner(rs, req('/', { host: 'a.test' })), 'hosts');
  const table = compileRouter(rs).describe();
  assert.equal(table[0].priority, table[1].priority, 'the test needs equal priorities');
});

test('ties break by config order (RouteConfig.order, not array position)', () => {
  const rs = routes({ id: 'second', paths: ['/same'], order: 1 }, { id: 'first', paths: ['/same'], order: 0 });
  assert.equal(winner(rs, req('/same')), 'first');
});

test('no match leaves the result empty', () => {
  const rs = routes({ id: 'r', paths: ['/r'] });
  const router = compileRouter(rs);
  const out = new MatchResult();
  assert.equal(router.match(req('/r'), out), true);
  assert.equal(router.match(req('/nope'), out), false);
  assert.equal(out.route, null);
  assert.equal(out.matchedLength, 0);
  assert.equal(out.captures, null);
  assert.equal(compileRouter([]).match(req('/'), out), false);
});

test('a route without paths matches every path with matchedLength 0', () => {
  const rs = routes({ id: 'h', hosts: ['h.test'] });
  const out = match(rs, req('/any/thing', { host: 'h.test' }));
  assert.equal(out.route?.id, 'h');
  assert.equal(out.matchedLength, 0);
});

test('an invalid regex fails compilation with an error naming the route', () => {
  const rs = routes({ id: 'bad-id', name: 'bad', paths: ['~/users/(\\d+'] });
  assert.throws(
    () => compileRouter(rs),
    (err: unknown) =>
      err instanceof RouterCompileError &&
      err.code === 'FG_ROUTER_INVALID_REGEX' &&
      err.routeId === 'bad-id' &&
      err.message.includes('"bad"') &&
      err.message.includes('~/users/(\\\\d+'),
  );
  const header = routes({ id: 'h', headers: { 'x-a': ['~*[z-a]'] } });
  assert.throws(() => compileRouter(header), RouterCompileError);
});

test('describe() reports Kong priorities in evaluation order', () => {
  const rs = routes(
    { id: 'plain', paths: ['/abc'] },
    { id: 'full', methods: ['GET'], hosts: ['a.test'], paths: ['/abc'], headers: { 'x-a': ['1'] } },
    { id: 'rx', paths: ['~/r'], regexPriority: 3 },
  );
  const table = compileRouter(rs).describe();
  assert.deepEqual(
    table.map((r) => r.routeId),
    ['full', 'rx', 'plain'],
  );
  assert.equal(table[0].priority, ((4n << 61n) | (1n << 60n) | (1n << 52n) | 4n).toString());
  assert.equal(table[1].priority, ((1n << 61n) | (1n << 51n) | (3n << 19n)).toString());
  assert.equal(table[2].priority, ((1n << 61n) | 4n).toString());
  assert.deepEqual(table[0].methods, ['GET']);
  assert.deepEqual(table[0].hosts, ['a.test']);
  assert.deepEqual(table[0].headers, { 'x-a': ['1'] });
  assert.equal(table[0].serviceId, 'svc');
});

test('the result object is reused, not replaced', () => {
  const router = compileRouter(routes({ id: 'r', paths: ['/r'] }));
  const out = new MatchResult();
  const before = Object.keys(out);
  router.match(req('/r/1'), out);
  assert.deepEqual(Object.keys(out), before, 'no fields added: the shape stays fixed');
  assert.equal(out.route?.id, 'r');
});

test('the indexed router agrees with the linear reference on random tables', () => {
  // Small alphabets make prefixes, hosts and ties collide often.
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)];
  const segs = ['a', 'b', 'ab', 'c'];
  const randPath = (): string => {
    let p = '';
    const n = 1 + rnd(3);
    for (let i = 0; i < n; i++) p += '/' + pick(segs);
    return p;
  };
  const hostPool = ['a.test', 'b.test', '*.test', 'a.*', 'a.test:81', 'b.test:80'];
  for (let round = 0; round < 30; round++) {
    const inputs: RouteInput[] = [];
    for (let i = 0; i < 40; i++) {
      const r: RouteInput = { id: `r${i}` };
      if (rnd(3) > 0) {
        const paths: string[] = [];
        for (let k = 1 + rnd(2); k > 0; k--) paths.push(rnd(5) === 0 ? `~${randPath()}(?<n>/[a-c]+)?` : randPath());
        r.paths = paths;
      }
      if (rnd(3) === 0) r.hosts = [pick(hostPool), pick(hostPool)];
      if (rnd(4) === 0) r.methods = [pick(['GET', 'POST'])];
      if (rnd(5) === 0) r.headers = { 'x-a': [pick(['1', '2', '~*^[12]$'])] };
      if (rnd(4) === 0) r.regexPriority = rnd(3);
      inputs.push(r);
    }
    const rs = routes(...inputs);
    const indexed = compileRouter(rs);
    const linear = compileLinearRouter(rs);
    const a = new MatchResult();
    const b = new MatchResult();
    for (let q = 0; q < 200; q++) {
      const r = req(randPath() + (rnd(2) === 0 ? '/' + pick(segs) : ''), {
        method: pick(['GET', 'POST']),
        host: pick(['a.test', 'b.test', 'c.test', 'a.org', '']),
        port: pick([80, 81]),
        headers: rnd(2) === 0 ? [['x-a', pick(['1', '2', '3'])]] : [],
      });
      indexed.match(r, a);
      linear.match(r, b);
      assert.equal(a.route?.id, b.route?.id, `round ${round}: ${JSON.stringify(r)}`);
      assert.equal(a.matchedLength, b.matchedLength);
      assert.deepEqual(a.captures === null ? null : { ...a.captures }, b.captures === null ? null : { ...b.captures });
    }
  }
});

test('route regexes run on RE2: a catastrophic pattern answers at once instead of hanging the worker', () => {
  // On a backtracking engine this pattern against this path takes longer than the universe has left.
  const router = compileRouter(routes({ id: 'evil', paths: ['~/(a+)+$'] }));
  const out = new MatchResult();
  const path = '/' + 'a'.repeat(100_000) + '!';
  assert.equal(router.match(req(path), out), false);
  assert.equal(router.match(req("/aaaa"), out), true);
});
