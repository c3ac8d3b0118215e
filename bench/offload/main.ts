/**
 * JWT verification offload under proxy load (`make bench-offload`): the real gateway (1 worker)
 * in front of the bench NGINX upstream, wrk -t1 -c50, for HS256 / RS256 / ES256 ×
 * --jwt-verify inline / pool / batch × verified-token cache on (one token) / off (a distinct token
 * per request: TOKENS tokens, rotated by a wrk lua script, more than the 10,000-entry cache holds,
 * so every request misses). The plain proxy (same gateway, a route without jwt, same lua script)
 * runs in the same rounds, so every row has a ratio to it.
 *
 * One gateway per mode runs for the whole benchmark (idle ones cost nothing); each cell is one
 * wrk run; ROUNDS interleaved rounds (the order rotates each round), medians.
 *
 *   ROUNDS=3 DURATION=5 WARMUP=1 CONNS=50 THREADS=1 TOKENS=20000 MODES=inline,pool,batch ALGS=HS256,RS256,ES256
 *   NGINX=/usr/sbin/nginx WRK=wrk OUT=bench/results/offload-<date>.md
 */
import { writeFileSync } from 'node:fs';
import crypto from 'node:crypto';
import { join } from 'node:path';
import type { JwtAlgorithm } from '../../src/config/types';
import { signJwt } from '../../src/plugins/jwt/sign';
import { fetchOnce } from '../peers/http-check';
import { envInt, envString } from '../peers/env';
import { freePorts } from '../peers/ports';
import type { Service } from '../peers/procs';
import type { WrkResult } from '../peers/wrk';
import { startGateway } from '../lib/floodgate';
import { benchDir, finish, log, runBench, startBenchUpstream } from '../lib/harness';
import { machineLine, medianOf, publish } from '../lib/report';
import { runRounds, wrk } from '../lib/rounds';
import { benchSettings } from '../lib/settings';

const S = benchSettings('offload', { rounds: 3 });
const TOKENS = envInt('TOKENS', 20_000);
const MODES = envString('MODES', 'inline,pool,batch').split(',');
const ALGS = envString('ALGS', 'HS256,RS256,ES256').split(',') as JwtAlgorithm[];

interface Cell {
  readonly id: string;
  readonly alg: JwtAlgorithm | null; // null = plain proxy
  readonly mode: string;
  readonly cache: 'on' | 'off' | '-';
  readonly port: number;
  readonly path: string;
  readonly script: string;
  readonly runs: WrkResult[];
}

interface Keys {
  readonly verify: { secret: string | null; pem: string | null };
  readonly sign: string | crypto.KeyObject;
}

function keysFor(alg: JwtAlgorithm): Keys {
  switch (alg) {
    case 'HS256':
      return { verify: { secret: 'a-32-byte-long-shared-hs-secret!', pem: null }, sign: 'a-32-byte-long-shared-hs-secret!' };
    case 'RS256': {
      const k = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      return { verify: { secret: null, pem: k.publicKey.export({ type: 'spki', format: 'pem' }) as string }, sign: k.privateKey };
    }
    case 'ES256': {
      const k = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return { verify: { secret: null, pem: k.publicKey.export({ type: 'spki', format: 'pem' }) as string }, sign: k.privateKey };
    }
    default:
      throw new Error(`ALGS: no bench keys for ${alg}`);
  }
}

const routeName = (alg: JwtAlgorithm) => alg.toLowerCase();

function gatewayYaml(upstreamPort: number, keys: Map<JwtAlgorithm, Keys>): string {
  const secrets = [...keys].map(([alg, k]) => {
    const lines = [`      - key: bench-${routeName(alg)}`, `        algorithm: ${alg}`];
    if (k.verify.secret !== null) lines.push(`        secret: ${k.verify.secret}`);
    else lines.push('        rsa_public_key: |', ...k.verify.pem!.trim().split('\n').map((l) => `          ${l}`));
    return lines.join('\n');
  });
  const routes = [...keys.keys()].map(
    (alg) => `      - name: ${routeName(alg)}\n        paths: [/${routeName(alg)}/]\n        strip_path: true\n        plugins:\n          - name: jwt`,
  );
  return `_format_version: "3.0"
consumers:
  - username: bench
    jwt_secrets:
${secrets.join('\n')}
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: plain
        paths: [/plain/]
        strip_path: true
${routes.join('\n')}
`;
}

/** A wrk script sending `Authorization: Bearer <token>` with the tokens of `file`, in turn. */
function luaScript(file: string): string {
  return `local tokens = {}
for line in io.lines(${JSON.stringify(file)}) do tokens[#tokens + 1] = "Bearer " .. line end
local i = 0
local n = #tokens
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", nil, { ["Authorization"] = tokens[i] })
end
`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

async function main(): Promise<void> {
  const dir = benchDir('offload');
  const [upstreamPort, ...gwPorts] = await freePorts(1 + MODES.length);
  log(`upstream nginx on ${upstreamPort}; gateways ${MODES.map((m, i) => `${m}:${gwPorts[i]}`).join(' ')}`);
  await startBenchUpstream(S, dir, upstreamPort);

  const keys = new Map(ALGS.map((alg) => [alg, keysFor(alg)] as const));
  const yaml = gatewayYaml(upstreamPort, keys);

  // Token files and scripts: one token (cache on), TOKENS distinct ones (cache off).
  const exp = Math.floor(Date.now() / 1000) + 24 * 3600;
  const scripts = new Map<string, string>();
  const firstToken = new Map<string, string>();
  const writeScript = (name: string, tokens: string[]) => {
    const file = join(dir, `${name}.tokens`);
    writeFileSync(file, tokens.join('\n') + '\n');
    const script = join(dir, `${name}.lua`);
    writeFileSync(script, luaScript(file));
    scripts.set(name, script);
    firstToken.set(name, tokens[0]);
  };
  for (const [alg, k] of keys) {
    const t0 = Date.now();
    const iss = `bench-${routeName(alg)}`;
    const tokens = Array.from({ length: TOKENS }, (_, i) => signJwt({ iss, sub: `user-${i}`, jti: i, exp }, alg, k.sign));
    writeScript(`${alg}-off`, tokens);
    writeScript(`${alg}-on`, [tokens[0]]);
    log(`${alg}: ${TOKENS} tokens signed in ${Date.now() - t0} ms`);
  }
  writeScript('plain', [firstToken.get(`${ALGS[0]}-on`)!]);

  const gateways: Service[] = [];
  for (let i = 0; i < MODES.length; i++) {
    gateways.push(await startGateway({
      name: `floodgate-${MODES[i]}`, root: S.root, dir, file: `floodgate-${MODES[i]}`, yaml, workers: 1, port: gwPorts[i],
      extraArgs: ['--jwt-verify', MODES[i]],
    }));
  }

  const cells: Cell[] = [{ id: 'plain', alg: null, mode: 'inline', cache: '-', port: gwPorts[0], path: '/plain/tiny', script: scripts.get('plain')!, runs: [] }];
  for (const alg of ALGS) {
    for (let m = 0; m < MODES.length; m++) {
      for (const cache of ['on', 'off'] as const) {
        cells.push({ id: `${alg} ${MODES[m]} cache-${cache}`, alg, mode: MODES[m], cache, port: gwPorts[m], path: `/${routeName(alg)}/tiny`, script: scripts.get(`${alg}-${cache}`)!, runs: [] });
      }
    }
  }

  // Verify: every cell's first token gets 200 through its gateway, and a forged one 401.
  for (const c of cells) {
    const token = firstToken.get(c.alg === null ? 'plain' : `${c.alg}-${c.cache}`)!;
    const ok = await fetchOnce({ port: c.port, path: c.path, headers: { authorization: `Bearer ${token}` } });
    if (ok.status !== 200) throw new Error(`${c.id}: expected 200, got ${ok.status} ${ok.body}`);
    if (c.alg !== null) {
      const forged = token.slice(0, token.lastIndexOf('.') + 1) + 'AAAA' + token.slice(token.lastIndexOf('.') + 5);
      const bad = await fetchOnce({ port: c.port, path: c.path, headers: { authorization: `Bearer ${forged}` } });
      if (bad.status !== 401) throw new Error(`${c.id}: a forged token got ${bad.status}`);
    }
  }
  log(`verified ${cells.length} cells; warm-up ${S.warmup}s each`);

  const minutes = await runRounds(S, {
    groups: [cells],
    order: { rotate: 7 },
    load: (c, seconds) => wrk(S, `http://127.0.0.1:${c.port}${c.path}`, seconds, { script: c.script }),
    label: (c) => c.id.padEnd(24),
  });
  await finish(gateways, [dir]);

  // Report.
  const med = (c: Cell, f: (r: WrkResult) => number) => medianOf(c.runs, f);
  const plainRps = med(cells[0], (r) => r.rps);
  const best = new Map<string, number>();
  for (const c of cells.slice(1)) {
    const k = `${c.alg} ${c.cache}`;
    best.set(k, Math.max(best.get(k) ?? 0, med(c, (r) => r.rps)));
  }
  const rows = cells.map((c) => {
    const rps = med(c, (r) => r.rps);
    const fastest = c.alg !== null && best.get(`${c.alg} ${c.cache}`) === rps ? ' **fastest**' : '';
    return `| ${c.alg ?? 'plain proxy'} | ${c.cache} | ${c.alg === null ? '-' : c.mode}${fastest} | ${rps.toFixed(0)} | ${pct(rps / plainRps)} | ` +
      `${med(c, (r) => r.p50ms).toFixed(2)} | ${med(c, (r) => r.p99ms).toFixed(2)} | ${c.runs.reduce((n, r) => n + r.errors, 0)} | ` +
      `${c.runs.map((r) => r.rps.toFixed(0)).join(' / ')} |`;
  });
  const md = `# JWT verification offload under proxy load (${S.stamp})

Floodgate, 1 worker (\`--workers 1 --access-log off --jwt-verify MODE\`, one gateway per mode), in
front of NGINX (\`bench/nginx/bench-upstream.conf.tmpl\`, GET /tiny, 1 worker process).
wrk -t${S.threads} -c${S.conns}, ${S.duration} s per run, ${S.warmup} s warm-up per cell, ${S.rounds} interleaved rounds
(order rotated per round), medians. Every cell, the plain proxy too, sends its token through the
same lua script (\`Authorization: Bearer ...\`). cache on = one token (verified-token cache hits);
cache off = ${TOKENS} distinct tokens in rotation (more than the 10,000-entry LRU: every request
misses and verifies). pool = one piscina task per verification, batch = up to 1 ms or 32 per task;
each worker's pool has 1 thread. Measured rounds took ${minutes} min.

${machineLine()}
wrk, NGINX, the gateway worker and (pool/batch) its piscina thread all share these CPUs.

| alg | cache | mode | req/s (median) | vs plain proxy | p50 ms | p99 ms | errors | req/s per round |
|---|---|---|---:|---:|---:|---:|---:|---|
${rows.join('\n')}

Reproduce: \`make bench-offload\` (env: ROUNDS DURATION WARMUP CONNS THREADS TOKENS MODES ALGS; see bench/offload/main.ts).
`;
  publish(S.out, md);
}

runBench('offload', main);
