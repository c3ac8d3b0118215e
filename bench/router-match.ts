/**
 * Router micro-benchmark: the indexed router (new) against a linear scan over the same ranked
 * parts (old), on 10,000 generated routes. Run: `node dist/bench/router-match.js`.
 *
 * Both routers must pick the same route for a sample of 1,000 requests; the process exits 1 if
 * they do not, so the numbers are never reported for a wrong answer.
 */
import type { RouteConfig } from '../src/config/types';
import { compileLinearRouter, compileRouter } from '../src/router/router';
import { routeConfig } from '../test/helpers/route-config';
import { MatchResult, type MatchRequest, type Router } from '../src/router/types';

const ROUTES = 10_000;

// Deterministic so runs are comparable.
let seed = 0x5eed;
function rnd(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
}
function pick<T>(a: readonly T[]): T {
  return a[rnd(a.length)];
}

const TOP = ['api', 'v1', 'v2', 'internal', 'public', 'admin', 'mobile', 'partner'];
const RESOURCES = ['users', 'orders', 'products', 'carts', 'payments', 'invoices', 'search', 'reviews', 'inventory', 'shipping'];
const LEAVES = ['list', 'items', 'history', 'export', 'stats', 'settings', 'tags', 'events'];

interface Generated {
  routes: RouteConfig[];
  /** A plain path of a path-only route, per route index (`null` for others). */
  plain: string[];
  hostRoutes: { host: string; path: string }[];
  regexPaths: string[];
}

function generate(): Generated {
  const routes: RouteConfig[] = [];
  const plain: string[] = [];
  const hostRoutes: { host: string; path: string }[] = [];
  const regexPaths: string[] = [];
  for (let i = 0; i < ROUTES; i++) {
    // A team/service segment keeps most prefixes distinct, as in a real multi-team gateway.
    const team = `svc-${i % 1500}`;
    const segs = [pick(TOP), team, pick(RESOURCES)];
    const depth = 2 + rnd(3); // 2-4 segments
    const path = '/' + segs.slice(0, Math.min(depth, 3)).concat(depth === 4 ? [pick(LEAVES)] : []).join('/');
    const kind = rnd(100);
    let hosts: string[] | null = null;
    let paths: string[] = [path];
    let headers: Record<string, string[]> | null = null;
    let methods: string[] | null = null;
    if (kind < 10) {
      hosts = [`${team}.example.com`];
      hostRoutes.push({ host: hosts[0], path });
    } else if (kind < 15) {
      hosts = [`*.${team}.example.net`];
    } else if (kind < 20) {
      paths = [`~/${segs[0]}/${team}/${segs[2]}/(?<id>\\d+)$`];
      regexPaths.push(`/${segs[0]}/${team}/${segs[2]}/${1000 + rnd(9000)}`);
    } else if (kind < 25) {
      headers = { 'x-tenant': [`tenant-${rnd(50)}`] };
    }
    if (rnd(100) < 15) methods = rnd(2) === 0 ? ['GET', 'HEAD'] : ['POST'];
    if (kind >= 25 && methods === null) plain.push(path);
    routes.push(routeConfig({ id: `route-${i}`, name: `route-${i}`, service: `service-${i % 300}`, methods, hosts, paths, headers }, i));
  }
  return { routes, plain, hostRoutes, regexPaths };
}

function request(path: string, host = 'gw.example.org', method = 'GET'): MatchRequest {
  return {
    method,
    host,
    hostPort: 443,
    path,
    headerNames: ['accept', 'user-agent', 'x-request-id', 'accept-encoding'],
    headerValues: ['application/json', 'bench/1.0', 'abc123', 'gzip'],
  };
}

/** 256 distinct requests per case so the numbers are not one cached string's. */
function cases(g: Generated): Record<string, MatchRequest[]> {
  const n = 256;
  const out: Record<string, MatchRequest[]> = { 'plain prefix hit': [], 'host route hit': [], 'regex hit': [], miss: [] };
  for (let i = 0; i < n; i++) {
    out['plain prefix hit'].push(request(pick(g.plain) + '/' + rnd(100000)));
    const h = pick(g.hostRoutes);
    out['host route hit'].push(request(h.path + '/' + rnd(100000), h.host));
    out['regex hit'].push(request(pick(g.regexPaths)));
    out.miss.push(request(`/${pick(TOP)}/unknown-${rnd(1000)}/${pick(RESOURCES)}`));
  }
  return out;
}

let sink = 0;

function timePerMatch(router: Router, reqs: readonly MatchRequest[], iterations: number): number {
  const out = new MatchResult();
  const mask = reqs.length - 1;
  for (let i = 0; i < Math.min(iterations, 20_000); i++) sink += router.match(reqs[i & mask], out) ? out.matchedLength : 0;
  const samples: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink += router.match(reqs[i & mask], out) ? out.matchedLength : 0;
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[2];
}

function check(g: Generated, indexed: Router, linear: Router, byCase: Record<string, MatchRequest[]>): void {
  const all = Object.values(byCase).flat();
  const a = new MatchResult();
  const b = new MatchResult();
  let mismatches = 0;
  for (let i = 0; i < 1000; i++) {
    let r: MatchRequest;
    if (i < all.length) r = all[i];
    else {
      // Extra variety: random methods, wildcard hosts, tenant headers.
      const base = pick(g.routes);
      const p = base.paths![0];
      const path = p.startsWith('~') ? pick(g.regexPaths) : p + (rnd(2) ? '' : '/x');
      const host = base.hosts?.[0]?.replace('*', 'a') ?? 'gw.example.org';
      r = {
        ...request(path, host, pick(['GET', 'POST', 'HEAD'])),
        headerNames: ['x-tenant'],
        headerValues: [`tenant-${rnd(50)}`],
      };
    }
    indexed.match(r, a);
    linear.match(r, b);
    if (a.route !== b.route || a.matchedLength !== b.matchedLength) {
      mismatches++;
      if (mismatches <= 5) console.error(`MISMATCH ${JSON.stringify(r)}: new=${a.route?.id} old=${b.route?.id}`);
    }
  }
  if (mismatches > 0) {
    console.error(`${mismatches} of 1000 sample requests matched differently`);
    process.exit(1);
  }
  console.log('check: old and new agree on 1000 sample requests');
}

function main(): void {
  const g = generate();
  const compileSamples: number[] = [];
  let indexed: Router = compileRouter(g.routes);
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    indexed = compileRouter(g.routes);
    compileSamples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  compileSamples.sort((a, b) => a - b);
  const linear = compileLinearRouter(g.routes);
  const byCase = cases(g);
  check(g, indexed, linear, byCase);

  console.log(`routes: ${ROUTES}, parts: ${indexed.describe().length}, compile (median of 5): ${compileSamples[2].toFixed(1)} ms`);
  console.log('');
  console.log('case               old (linear) ns/op   new (indexed) ns/op   speed-up');
  for (const [name, reqs] of Object.entries(byCase)) {
    const oldNs = timePerMatch(linear, reqs, 2_000);
    const newNs = timePerMatch(indexed, reqs, 500_000);
    console.log(
      `${name.padEnd(18)} ${oldNs.toFixed(0).padStart(19)}   ${newNs.toFixed(0).padStart(19)}   ${(oldNs / newNs).toFixed(0).padStart(7)}x`,
    );
  }
  if (sink === -1) console.log(sink);
}

main();
