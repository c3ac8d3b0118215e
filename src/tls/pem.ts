/**
 * Checks a PEM certificate chain and private key the way the TLS library will read them, so a bad
 * one is a located config error on the primary instead of a listener that silently serves the
 * wrong certificate. uWS loads PEM files inside native code and reports nothing when a file does
 * not parse, so nothing may reach it unchecked.
 *
 * Problems carry the 0-based line inside the PEM text where they are, so the config error can
 * point at the exact line of a file (tls/settings.ts, for --tls-cert and --tls-key).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

export interface PemProblem {
  readonly message: string;
  /** 0-based line inside the PEM text; null when the problem is the text as a whole. */
  readonly line: number | null;
}

export type KeyType = 'rsa' | 'ec';

export interface CheckedPair {
  readonly leaf: X509Certificate;
  readonly keyType: KeyType;
}

interface Block {
  readonly label: string;
  readonly text: string;
  readonly firstLine: number;
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const END = /^-----END ([A-Z0-9 ]+)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
/** RFC 1421 headers of legacy encrypted keys (Proc-Type, DEK-Info). */
const HEADER_LINE = /^[A-Za-z-]+: /;

/** Splits PEM text into its blocks, or says at which line the armour or the base64 is broken. */
export function pemBlocks(text: string): Block[] | PemProblem {
  const lines = text.split(/\r?\n/);
  const blocks: Block[] = [];
  let open: { label: string; firstLine: number; body: string[] } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (open === null) {
      if (line === '') continue;
      const begin = BEGIN.exec(line);
      if (begin === null) return { message: 'expected a "-----BEGIN ...-----" line', line: i };
      open = { label: begin[1], firstLine: i, body: [] };
      continue;
    }
    const end = END.exec(line);
    if (end !== null) {
      if (end[1] !== open.label) return { message: `"-----END ${end[1]}-----" closes a "${open.label}" block`, line: i };
      if (open.body.length === 0) return { message: `the ${open.label} block is empty`, line: i };
      blocks.push({ label: open.label, text: [`-----BEGIN ${open.label}-----`, ...open.body, line].join('\n') + '\n', firstLine: open.firstLine });
      open = null;
      continue;
    }
    if (BEGIN.test(line)) return { message: `a new block starts before "-----END ${open.label}-----"`, line: i };
    if (line !== '' && !HEADER_LINE.test(line) && !BASE64_LINE.test(line)) return { message: 'not valid base64 inside the PEM block', line: i };
    open.body.push(line);
  }
  if (open !== null) return { message: `"-----END ${open.label}-----" is missing`, line: open.firstLine };
  if (blocks.length === 0) return { message: 'no PEM block found', line: null };
  return blocks;
}

function isProblem<T>(v: T | PemProblem): v is PemProblem {
  return typeof (v as PemProblem).message === 'string' && !Array.isArray(v);
}

/** The chain, leaf first; every block must be a CERTIFICATE that parses. */
export function checkCertificateChain(text: string): X509Certificate[] | PemProblem {
  const blocks = pemBlocks(text);
  if (isProblem(blocks)) return blocks;
  const chain: X509Certificate[] = [];
  for (const b of blocks) {
    if (b.label !== 'CERTIFICATE') return { message: `expected CERTIFICATE blocks, found "${b.label}"`, line: b.firstLine };
    try {
      chain.push(new X509Certificate(b.text));
    } catch (err) {
      return { message: `the certificate does not parse (${reason(err)})`, line: b.firstLine };
    }
  }
  return chain;
}

/** One unencrypted RSA or EC private key. */
export function checkPrivateKey(text: string): KeyObject | PemProblem {
  const blocks = pemBlocks(text);
  if (isProblem(blocks)) return blocks;
  if (blocks.length !== 1) return { message: `expected exactly one private key block, found ${blocks.length}`, line: blocks[1].firstLine };
  const b = blocks[0];
  if (b.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(b.text)) {
    return { message: 'encrypted private keys are not supported (decrypt it: openssl pkey -in KEY -out PLAIN)', line: b.firstLine };
  }
  if (!/PRIVATE KEY$/.test(b.label)) return { message: `expected a PRIVATE KEY block, found "${b.label}"`, line: b.firstLine };
  let key: KeyObject;
  try {
    key = createPrivateKey(b.text);
  } catch (err) {
    return { message: `the private key does not parse (${reason(err)})`, line: b.firstLine };
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') return { message: `${type ?? 'this'} keys are not supported (RSA or ECDSA)`, line: b.firstLine };
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    return { message: `the RSA key has ${key.asymmetricKeyDetails?.modulusLength} bits; at least 2048 are required`, line: b.firstLine };
  }
  return key;
}

/** Both halves parse, and the key belongs to the chain's first certificate. */
export function checkPair(cert: string, key: string): CheckedPair | { field: 'cert' | 'key'; problem: PemProblem } {
  const chain = checkCertificateChain(cert);
  if (isProblem(chain)) return { field: 'cert', problem: chain };
  const keyObject = checkPrivateKey(key);
  if (isProblem(keyObject)) return { field: 'key', problem: keyObject };
  if (!chain[0].checkPrivateKey(keyObject)) {
    return { field: 'key', problem: { message: 'the key does not belong to the certificate (its public key differs)', line: null } };
  }
  return { leaf: chain[0], keyType: keyObject.asymmetricKeyType as KeyType };
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message.replace(/^error:[0-9A-F]+:/, '') : String(err);
}
