/**
 * Floodgate with an auth plugin on its one catch-all route (the `auth` scenario): key-auth,
 * basic-auth, jwt (HS256, RS256, and RS256 with a different token on every request so that the
 * verified-token cache misses), and key-auth + acl. Every one has the same consumers (Kong's
 * nested credential format); only the route's plugins differ. Each contender also says what wrk
 * must send (`client`), and which requests its verification must see refused.
 *
 * The keys and tokens are made once per process with node:crypto (no Floodgate code, so the
 * tokens are checked by an independent signer): an HS256 secret, an RSA-2048 key pair, one
 * long-lived token per algorithm.
 */
import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFloodgate } from './floodgate';
import type { ClientRequest, Contender, StartContext } from './types';

const KEY = 'alice-key-123';
const USER = 'alice';
const PASSWORD = 'alice-pass';
/** bob authenticates with key-auth but is not in the acl's group: 403 on the acl route */
const BOB_KEY = 'bob-key-456';
const HS_ISS = 'alice-hs';
const RS_ISS = 'alice-rs';
/** Floodgate's jwt plugin keeps 10,000 verified tokens per worker (src/plugins/jwt/cache.ts). */
const JWT_CACHE_ENTRIES = 10_000;

interface Material {
  hsSecret: string;
  rsaPrivate: KeyObject;
  rsaPublicPem: string;
  hsToken: string;
  rsToken: string;
}

let material: Material | null = null;

const b64u = (v: string | Buffer) => Buffer.from(v).toString('base64url');

function signJwt(claims: Record<string, unknown>, alg: 'HS256' | 'RS256', key: string | KeyObject): string {
  const input = `${b64u(JSON.stringify({ typ: 'JWT', alg }))}.${b64u(JSON.stringify(claims))}`;
  const sig = alg === 'HS256' ? createHmac('sha256', key as string).update(input).digest() : sign('sha256', Buffer.from(input), key as KeyObject);
  return `${input}.${b64u(sig)}`;
}

/** Valid for 30 days: far past any run. */
const exp = () => Math.floor(Date.now() / 1000) + 30 * 86_400;

function keys(): Material {
  if (material) return material;
  const hsSecret = randomBytes(32).toString('hex'); // 64 chars
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  material = {
    hsSecret,
    rsaPrivate: rsa.privateKey,
    rsaPublicPem: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    hsToken: signJwt({ iss: HS_ISS, sub: USER, exp: exp() }, 'HS256', hsSecret),
    rsToken: signJwt({ iss: RS_ISS, sub: USER, exp: exp() }, 'RS256', rsa.privateKey),
  };
  return material;
}

/** The catch-all route of singleRouteYaml, with `plugins`, and the consumers every variant shares. */
function authYaml(upstreamPort: number, plugins: string): string {
  const m = keys();
  return `_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: bench
        paths: [/]
        strip_path: false
        plugins:
${plugins}
consumers:
  - username: ${USER}
    keyauth_credentials: [{ key: ${KEY} }]
    basicauth_credentials: [{ username: ${USER}, password: ${PASSWORD} }]
    jwt_secrets:
      - { key: ${HS_ISS}, algorithm: HS256, secret: ${JSON.stringify(m.hsSecret)} }
      - { key: ${RS_ISS}, algorithm: RS256, rsa_public_key: ${JSON.stringify(m.rsaPublicPem)} }
    acls: [{ group: gold }]
  - username: bob
    keyauth_credentials: [{ key: ${BOB_KEY} }]
    acls: [{ group: silver }]
`;
}

const KEY_AUTH = '          - name: key-auth';
const BASIC_AUTH = '          - name: basic-auth';
const JWT = '          - name: jwt\n            config: { claims_to_verify: [exp] }';
const ACL = '          - name: acl\n            config: { allow: [gold] }';
/** Never reached in a run (as in bench/ratelimit): the bench measures counting, not refusing. */
const NEVER = 1_000_000_000;
const RATE_LIMITING = `          - name: rate-limiting\n            config: { minute: ${NEVER}, policy: local }`;

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const none = { what: 'no credentials', headers: {}, status: 401 };

/** A token with the first character of its signature changed (the last one may be only padding bits). */
function tampered(token: string): string {
  const at = token.lastIndexOf('.') + 1;
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

function authContender(id: string, label: string, setup: string, plugins: string, client: (ctx: StartContext) => ClientRequest): Contender {
  return {
    id,
    label,
    setup: `as Floodgate, the route with ${setup}`,
    // the route answers 401 until a credential comes: that is the readiness answer
    start: (ctx) => startFloodgate(ctx, id, authYaml(ctx.upstreamPort, plugins), '/tiny', [], 401),
    client,
  };
}

export const floodgateKeyAuth = authContender(
  'floodgate-key-auth',
  'Floodgate + key-auth',
  `key-auth (defaults); wrk sends \`apikey: ${KEY}\``,
  KEY_AUTH,
  () => ({
    headers: { apikey: KEY },
    refused: [none, { what: 'unknown key', headers: { apikey: 'nope' }, status: 401 }],
  }),
);

export const floodgateBasicAuth = authContender(
  'floodgate-basic-auth',
  'Floodgate + basic-auth',
  `basic-auth (defaults); wrk sends \`Authorization: Basic\` ${USER}:${PASSWORD}`,
  BASIC_AUTH,
  () => ({
    headers: { Authorization: basic(USER, PASSWORD) },
    refused: [none, { what: 'wrong password', headers: { Authorization: basic(USER, 'wrong') }, status: 401 }],
  }),
);

export const floodgateJwtHs256 = authContender(
  'floodgate-jwt-hs256',
  'Floodgate + jwt HS256',
  'jwt (claims_to_verify [exp]), HS256 secret; wrk sends one valid `Authorization: Bearer` token (verified once, then a cache hit)',
  JWT,
  () => ({
    headers: { Authorization: `Bearer ${keys().hsToken}` },
    refused: [none, { what: 'tampered HS256 signature', headers: { Authorization: `Bearer ${tampered(keys().hsToken)}` }, status: 401 }],
  }),
);

export const floodgateJwtRs256 = authContender(
  'floodgate-jwt-rs256',
  'Floodgate + jwt RS256',
  'jwt (claims_to_verify [exp]), RSA-2048 public key; wrk sends one valid `Authorization: Bearer` token (verified once, then a cache hit)',
  JWT,
  () => ({
    headers: { Authorization: `Bearer ${keys().rsToken}` },
    refused: [none, { what: 'tampered RS256 signature', headers: { Authorization: `Bearer ${tampered(keys().rsToken)}` }, status: 401 }],
  }),
);

/**
 * RS256 with the cache defeated: 15,000 x N distinct tokens (N = workers), sent in a cycle by
 * bench/peers/wrk/bearer-rotate.lua (each wrk thread its own slice). A worker's LRU holds 10,000,
 * so a token is always evicted before it comes round again: every request verifies a signature.
 */
export const floodgateJwtRs256NoCache = authContender(
  'floodgate-jwt-rs256-nocache',
  'Floodgate + jwt RS256, cache misses',
  `jwt as above, RS256; wrk (bench/peers/wrk/bearer-rotate.lua) cycles through 15,000 × N distinct tokens, more than the ${JWT_CACHE_ENTRIES.toLocaleString('en-US')}-entry verified-token cache per worker holds, so every request verifies a signature (the lua \`request()\` call costs wrk some throughput too)`,
  JWT,
  (ctx) => {
    const m = keys();
    const count = 15_000 * ctx.workers;
    const tokens: string[] = [];
    const e = exp();
    for (let i = 0; i < count; i++) tokens.push(signJwt({ iss: RS_ISS, sub: USER, jti: i, exp: e }, 'RS256', m.rsaPrivate));
    const file = join(ctx.dir, 'rs256-tokens.txt');
    writeFileSync(file, tokens.join('\n') + '\n');
    return {
      script: { path: join(ctx.settings.root, 'bench', 'peers', 'wrk', 'bearer-rotate.lua'), args: [file, String(ctx.settings.threads)] },
      headers: { Authorization: `Bearer ${tokens[0]}` },
      alsoAccepted: [{ Authorization: `Bearer ${tokens[count - 1]}` }],
      refused: [none, { what: 'tampered RS256 signature', headers: { Authorization: `Bearer ${tampered(tokens[1])}` }, status: 401 }],
    };
  },
);

export const floodgateAcl = authContender(
  'floodgate-acl',
  'Floodgate + key-auth + acl',
  `key-auth, then acl allow [gold] (alice is in gold); wrk sends \`apikey: ${KEY}\``,
  `${KEY_AUTH}\n${ACL}`,
  () => ({
    headers: { apikey: KEY },
    refused: [none, { what: 'consumer bob, not in group gold', headers: { apikey: BOB_KEY }, status: 403 }],
  }),
);

/**
 * The plugin pair most APIs run (issue 12: at least 0.9x plain Floodgate): key-auth identifies the
 * consumer, then rate-limiting with the local policy (the node-wide shared table) counts every
 * request against that consumer's minute window, with a limit never reached.
 */
export const floodgateKeyAuthRateLimit = authContender(
  'floodgate-key-auth-rl',
  'Floodgate + key-auth + rate-limiting',
  `key-auth, then rate-limiting (policy local, limit_by consumer, minute ${NEVER.toLocaleString('en-US')}: every request counted, none refused); wrk sends \`apikey: ${KEY}\``,
  `${KEY_AUTH}\n${RATE_LIMITING}`,
  () => ({
    headers: { apikey: KEY },
    addedHeaders: ['x-ratelimit-limit-minute', 'x-ratelimit-remaining-minute'],
    refused: [none, { what: 'unknown key', headers: { apikey: 'nope' }, status: 401 }],
  }),
);

export const AUTH_CONTENDERS: Contender[] = [floodgateKeyAuth, floodgateBasicAuth, floodgateJwtHs256, floodgateJwtRs256, floodgateJwtRs256NoCache, floodgateAcl, floodgateKeyAuthRateLimit];
