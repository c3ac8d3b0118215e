/**
 * Inline JWT verification cost, per algorithm, three ways:
 *
 *   signature only   verifySignature() on a prepared key: the crypto alone
 *   plugin, no cache JwtPlugin.onRequest with the cache off: token lookup, decode, credential,
 *                    signature, claims, authenticate (what every request would pay)
 *   plugin, cached   the same request again: a cache hit skips decode and crypto
 *
 * Every row is the median of ROUNDS timed batches, each about MS milliseconds. Same process,
 * interleaved per round, so the rows are comparable with each other; absolute numbers depend on
 * the (shared, noisy) machine. The piscina offload comparison belongs next to these rows.
 *
 *   node dist/bench/jwt-verify.js        (ROUNDS=7 MS=300 by default)
 */
import crypto from 'node:crypto';
import type { ConsumerConfig, JwtAlgorithm, JwtSecretConfig } from '../src/config/types';
import { Verdict } from '../src/plugins/api';
import { ConsumerDirectory } from '../src/plugins/consumer-directory';
import { JwtPlugin } from '../src/plugins/jwt';
import { DecodedToken, prepareKey, verifySignature } from '../src/plugins/jwt/jws';
import { JwtSchema, type JwtConfig } from '../src/plugins/jwt/schema';
import { signJwt } from '../src/plugins/jwt/sign';
import { Value } from '@sinclair/typebox/value';
import { FakeContext } from '../test/helpers/fake-context';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const MS = Number(process.env.MS ?? 300);

const consumer: ConsumerConfig = { id: 'c-1', username: 'bench', customId: null, tags: [] };
const pem = (k: crypto.KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;

interface Case {
  readonly alg: JwtAlgorithm;
  readonly secret: JwtSecretConfig;
  readonly signWith: string | crypto.KeyObject;
}

function makeCase(alg: JwtAlgorithm): Case {
  const base = { id: `cred-${alg}`, consumer: consumer.id, key: `key-${alg}`, algorithm: alg, tags: [] };
  switch (alg) {
    case 'HS256':
      return { alg, secret: { ...base, secret: 'a-32-byte-long-shared-hs-secret!', rsaPublicKey: null }, signWith: 'a-32-byte-long-shared-hs-secret!' };
    case 'RS256': {
      const k = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      return { alg, secret: { ...base, secret: null, rsaPublicKey: pem(k.publicKey) }, signWith: k.privateKey };
    }
    case 'ES256': {
      const k = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return { alg, secret: { ...base, secret: null, rsaPublicKey: pem(k.publicKey) }, signWith: k.privateKey };
    }
    case 'EdDSA': {
      const k = crypto.generateKeyPairSync('ed25519');
      return { alg, secret: { ...base, secret: null, rsaPublicKey: pem(k.publicKey) }, signWith: k.privateKey };
    }
    default:
      throw new Error(`no bench case for ${alg}`);
  }
}

/** ns per call of `fn`, timing a batch of about MS milliseconds. */
function timeBatch(fn: () => void, perBatch: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < perBatch; i++) fn();
  return Number(process.hrtime.bigint() - start) / perBatch;
}

function calibrate(fn: () => void): number {
  let n = 16;
  for (;;) {
    const ns = timeBatch(fn, n);
    if (ns * n > 20e6 || n > 1e7) return Math.max(16, Math.round((MS * 1e6) / ns));
    n *= 4;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Row {
  readonly alg: string;
  readonly mode: string;
  readonly fn: () => void;
  perBatch: number;
  readonly samples: number[];
}

function main(): void {
  const algs: JwtAlgorithm[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];
  const cases = algs.map(makeCase);
  const consumers = new ConsumerDirectory({
    consumers: [consumer],
    credentials: { keyauth: [], basicauth: [], jwt: cases.map((c) => c.secret), acls: [] },
  });
  const conf = Value.Default(JwtSchema, { claims_to_verify: ['exp'] }) as JwtConfig;
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const rows: Row[] = [];

  for (const c of cases) {
    const token = signJwt({ iss: c.secret.key, sub: 'user-1', exp }, c.alg, c.signWith);
    const key = prepareKey(c.secret, false)!;
    const decoded = new DecodedToken();
    decoded.decode(token);
    const { signingInput, signature } = decoded;

    const noCache = new JwtPlugin(conf, { consumers, trustedIps: [] }, { cacheEntries: 0 });
    const cached = new JwtPlugin(conf, { consumers, trustedIps: [] });
    const ctx = new FakeContext({ headers: { host: 'localhost', 'user-agent': 'bench', accept: '*/*', authorization: `Bearer ${token}` } });
    const check = (v: Verdict) => {
      if (v !== Verdict.Continue || ctx.consumer !== consumer) throw new Error(`${c.alg}: verification failed in the bench`);
    };
    check(noCache.onRequest(ctx));
    check(cached.onRequest(ctx));
    if (!verifySignature(key, signingInput, signature)) throw new Error(`${c.alg}: bad signature in the bench`);

    rows.push(
      { alg: c.alg, mode: 'signature only', fn: () => void verifySignature(key, signingInput, signature), perBatch: 0, samples: [] },
      { alg: c.alg, mode: 'plugin, no cache', fn: () => void noCache.onRequest(ctx), perBatch: 0, samples: [] },
      { alg: c.alg, mode: 'plugin, cache hit', fn: () => void cached.onRequest(ctx), perBatch: 0, samples: [] },
    );
  }

  for (const r of rows) r.perBatch = calibrate(r.fn); // also the warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of rows) r.samples.push(timeBatch(r.fn, r.perBatch));
  }

  const header = ['alg', 'mode', 'ns/op (median)', 'ops/s', 'min ns', 'max ns'];
  const lines = rows.map((r) => {
    const ns = median(r.samples);
    return [r.alg, r.mode, ns.toFixed(0), Math.round(1e9 / ns).toLocaleString('en-US'), Math.min(...r.samples).toFixed(0), Math.max(...r.samples).toFixed(0)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  console.log(`node ${process.version}, ${ROUNDS} rounds of ~${MS} ms per row, claims_to_verify: [exp]`);
  console.log(fmt(header));
  console.log(`|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
}

main();
