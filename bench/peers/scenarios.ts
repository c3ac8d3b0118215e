/**
 * The scenarios: what wrk sends, which contenders take part, which one is the ratio's baseline,
 * and how to verify (before any load) that a contender really proxies that request to the upstream.
 */
import { join } from 'node:path';
import type { ClientRequest } from './contenders/types';
import { fetchOnce, type Reply } from './http-check';
import { ROUTES100_PATH, ROUTES100_PROBES } from './route-table';
import { BIG_BYTES, TINY_BODY, UPLOAD_BYTES } from './upstream';

export interface Scenario {
  id: string;
  title: string;
  /** request path wrk hits */
  path: string;
  /** wrk lua script relative to the repository root */
  script?: string;
  /** what the load is, for the report */
  load: string;
  contenders: string[];
  /** ratio denominator */
  baseline: string;
  /**
   * Throws with a precise message if the contender on `port` does not proxy this scenario right.
   * `client` is what the contender needs sent (credentials; `{}` for most).
   */
  verify(port: number, client: ClientRequest): Promise<void>;
}

// uws-floor is not a product: the uWS.js + net.Socket loop Floodgate stands on, doing no gateway
// work; Floodgate's distance to it is Floodgate's own cost (bench/peers/servers/uws-floor.ts).
const PEERS = ['floodgate', 'nginx', 'haproxy', 'caddy', 'fastify', 'http-proxy', 'fast-gateway', 'uws-floor'];

function fromUpstream(r: Reply): boolean {
  return r.headers['x-bench-upstream'] !== undefined;
}

function expect(cond: boolean, what: string, r: Reply): void {
  if (!cond) {
    const body = r.body.length > 200 ? `${r.body.subarray(0, 200).toString('latin1')}... (${r.body.length} bytes)` : JSON.stringify(r.body.toString('latin1'));
    throw new Error(`${what}: got status ${r.status}, upstream header ${fromUpstream(r) ? 'present' : 'MISSING'}, body ${body}`);
  }
}

async function verifyTiny(port: number, path = '/tiny', host?: string, headers?: Record<string, string>, what = ''): Promise<void> {
  const r = await fetchOnce({ port, path, host, headers });
  expect(r.status === 200 && fromUpstream(r) && r.body.toString() === TINY_BODY, `GET ${path}${host ? ` (Host ${host})` : ''}${what} should be the upstream's "ok\\n"`, r);
}

/**
 * The auth scenario: GET /tiny with the contender's credentials (and any other header set its wrk
 * script sends) reaches the upstream; the refused requests (no credentials, a wrong one, a
 * consumer outside the acl group) get the proxy's own 401/403.
 */
async function verifyAuth(port: number, client: ClientRequest): Promise<void> {
  const named = (h: Record<string, string>) => (Object.keys(h).length ? ` with ${Object.keys(h).join(', ')}` : '');
  await verifyTiny(port, '/tiny', undefined, client.headers, named(client.headers ?? {}));
  for (const h of client.alsoAccepted ?? []) await verifyTiny(port, '/tiny', undefined, h, `${named(h)} (another token the wrk script sends)`);
  if (client.addedHeaders?.length) {
    const r = await fetchOnce({ port, path: '/tiny', headers: client.headers });
    const missing = client.addedHeaders.filter((h) => r.headers[h] === undefined);
    expect(missing.length === 0, `GET /tiny${named(client.headers ?? {})} should carry ${missing.join(', ')} (added by the proxy)`, r);
  }
  for (const x of client.refused ?? []) {
    const r = await fetchOnce({ port, path: '/tiny', headers: x.headers });
    expect(r.status === x.status && !fromUpstream(r), `GET /tiny with ${x.what} should be the proxy's own ${x.status}`, r);
  }
}

async function verifyBig(port: number): Promise<void> {
  const r = await fetchOnce({ port, path: '/64k' });
  expect(r.status === 200 && fromUpstream(r) && r.body.length === BIG_BYTES && r.body.every((b) => b === 97), `GET /64k should be ${BIG_BYTES} bytes of "a" from the upstream`, r);
}

async function verifyUpload(port: number): Promise<void> {
  const r = await fetchOnce({ port, path: '/upload', method: 'POST', body: Buffer.alloc(UPLOAD_BYTES, 'x'), timeoutMs: 10_000 });
  // The upstream answers only after reading the whole body, and reports what it read: the
  // Content-Length it was given (empty if the proxy re-framed the body as chunked) and the bytes
  // of the whole request (head + body, + chunk framing if chunked).
  const m = /^got content_length=(\d*) request_length=(\d+)\n$/.exec(r.body.toString());
  const lengthOk = m !== null && (m[1] === '' || Number(m[1]) === UPLOAD_BYTES) && Number(m[2]) > UPLOAD_BYTES;
  expect(
    r.status === 200 && fromUpstream(r) && lengthOk,
    `POST /upload (${UPLOAD_BYTES} bytes) should reach the upstream whole`,
    r,
  );
}

async function verifyRoutes100(port: number): Promise<void> {
  for (const p of ROUTES100_PROBES) {
    if (p.expect === 200) {
      await verifyTiny(port, p.path, p.host);
    } else {
      const r = await fetchOnce({ port, path: p.path, host: p.host });
      expect(r.status === 404 && !fromUpstream(r), `GET ${p.path} (${p.what}) should be the proxy's own 404`, r);
    }
  }
}

export function scenarios(root: string): Scenario[] {
  return [
    {
      id: 'tiny',
      title: 'GET /tiny (3-byte body)',
      path: '/tiny',
      load: 'GET /tiny, upstream answers 200 "ok\\n"',
      contenders: PEERS,
      baseline: 'nginx',
      verify: (port) => verifyTiny(port),
    },
    {
      id: '64k',
      title: 'GET /64k (65,536-byte body)',
      path: '/64k',
      load: 'GET /64k, upstream sends a 65,536-byte static file',
      contenders: PEERS,
      baseline: 'nginx',
      verify: verifyBig,
    },
    {
      id: 'upload',
      title: 'POST /upload (1 MiB body)',
      path: '/upload',
      script: join(root, 'bench', 'wrk', 'upload.lua'),
      load: 'POST /upload with a 1 MiB body (bench/wrk/upload.lua); the upstream reads it all, answers ~50 bytes',
      contenders: PEERS,
      baseline: 'nginx',
      verify: verifyUpload,
    },
    {
      id: 'routes100',
      title: `100-route config, GET ${ROUTES100_PATH}`,
      path: ROUTES100_PATH,
      load: `GET ${ROUTES100_PATH} against 100 routes (80 prefix, 10 host, 10 regex); upstream sees /tiny`,
      contenders: ['floodgate-100', 'nginx-100'],
      baseline: 'nginx-100',
      verify: verifyRoutes100,
    },
    {
      // In the default set and in bench-quick: issue 12's "key-auth + rate-limiting at least 0.9x
      // plain Floodgate", both in the same run.
      id: 'auth-rl',
      title: 'GET /tiny through key-auth + rate-limiting, against plain Floodgate',
      path: '/tiny',
      load: 'GET /tiny with `apikey` (wrk -H), upstream answers 200 "ok\\n"; Floodgate with key-auth + rate-limiting (local policy, a limit never reached) against the same Floodgate route without plugins',
      contenders: ['floodgate', 'floodgate-key-auth-rl'],
      baseline: 'floodgate',
      verify: verifyAuth,
    },
    {
      // Not in the default set: `SCENARIOS=uws make bench-quick` (or `make bench-uws`) compares the
      // uWS build Floodgate runs (v20.57) with the v20.30 fallback (FLOODGATE_UWS=legacy), same run.
      id: 'uws',
      title: 'GET /tiny, Floodgate on uWS v20.57 and on the v20.30 fallback',
      path: '/tiny',
      load: 'GET /tiny, upstream answers 200 "ok\\n"; the same Floodgate with FLOODGATE_UWS=legacy',
      contenders: ['floodgate', 'floodgate-uws-legacy', 'nginx'],
      baseline: 'nginx',
      verify: (port) => verifyTiny(port),
    },
    {
      // Not in the default set: `make bench-engines` (SCENARIOS=engines). The upstream engines
      // (--upstream-engine js, the default, and native) and, when FLOODGATE_BASELINE_DIST names an
      // older build's dist/, that build: a change's before and after in one run.
      id: 'engines',
      title: 'GET /tiny, Floodgate with each upstream engine (and a baseline build)',
      path: '/tiny',
      load: 'GET /tiny, upstream answers 200 "ok\\n"; the same Floodgate with --upstream-engine native, and the build in FLOODGATE_BASELINE_DIST',
      contenders: ['floodgate', 'floodgate-native', ...(process.env.FLOODGATE_BASELINE_DIST ? ['floodgate-baseline'] : []), 'nginx'],
      baseline: 'nginx',
      verify: (port) => verifyTiny(port),
    },
    {
      // Not in the default set: `make bench-floor` (SCENARIOS=floor). How much of Floodgate's
      // distance to NGINX is its own work, and how much the uWS.js + Node loop it stands on.
      id: 'floor',
      title: 'GET /tiny, Floodgate against the bare uWS.js + net.Socket loop it is built on',
      path: '/tiny',
      load: 'GET /tiny, upstream answers 200 "ok\\n"; the uWS.js floor proxies it with no gateway work (bench/peers/servers/uws-floor.ts)',
      contenders: ['floodgate', 'floodgate-native', 'uws-floor', 'nginx'],
      baseline: 'nginx',
      verify: (port) => verifyTiny(port),
    },
    {
      // Not in the default set: `SCENARIOS=pinning make bench` measures --cpu-affinity.
      id: 'pinning',
      title: 'GET /tiny, Floodgate with and without CPU pinning',
      path: '/tiny',
      load: 'GET /tiny, upstream answers 200 "ok\\n"; Floodgate unpinned vs --cpu-affinity auto',
      contenders: ['floodgate', 'floodgate-pinned', 'nginx'],
      baseline: 'nginx',
      verify: (port) => verifyTiny(port),
    },
    {
      // Not in the default set: `make bench-auth` (or SCENARIOS=auth) measures the auth plugins.
      id: 'auth',
      title: 'GET /tiny through the auth plugins, against plain Floodgate',
      path: '/tiny',
      load: 'GET /tiny with credentials (wrk -H, or bench/peers/wrk/bearer-rotate.lua), upstream answers 200 "ok\\n"; ratio to Floodgate without plugins; NGINX (no auth) as an outside reference',
      contenders: [
        'floodgate',
        'floodgate-key-auth',
        'floodgate-basic-auth',
        'floodgate-jwt-hs256',
        'floodgate-jwt-rs256',
        'floodgate-jwt-rs256-nocache',
        'floodgate-acl',
        'floodgate-key-auth-rl',
        'nginx',
      ],
      baseline: 'floodgate',
      verify: verifyAuth,
    },
  ];
}
