/**
 * The piscina task (runs in the offload thread): verify one JWS signature, or a batch of them.
 * Keys arrive as bytes (keyMaterial()) with an id chosen by the sending worker; each is parsed
 * once per thread and kept by id.
 */
import type { JwtAlgorithm } from '../config/types';
import { keyFromMaterial, verifySignature, type PreparedKey } from '../plugins/jwt/jws';

export interface VerifyItem {
  readonly alg: JwtAlgorithm;
  /** Unique per key within the sending worker; the thread caches the parsed key under it. */
  readonly keyId: number;
  readonly material: Uint8Array;
  /** `<header>.<claims>` as received. */
  readonly input: string;
  readonly sig: Uint8Array;
}

/** One item -> boolean; an array -> one boolean per item (as 0/1 bytes). */
export type VerifyTask = VerifyItem | readonly VerifyItem[];

/** Bounded: ids are per credential, and a reload brings new credentials. */
const MAX_KEYS = 4096;
const keys = new Map<number, PreparedKey | null>();

function keyFor(item: VerifyItem): PreparedKey | null {
  let key = keys.get(item.keyId);
  if (key === undefined) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = keyFromMaterial(item.alg, item.material);
    keys.set(item.keyId, key);
  }
  return key;
}

function verifyOne(item: VerifyItem): boolean {
  const key = keyFor(item);
  if (key === null) return false;
  return verifySignature(key, item.input, Buffer.from(item.sig.buffer, item.sig.byteOffset, item.sig.byteLength));
}

export default function verifyTask(task: VerifyTask): boolean | Uint8Array {
  if (!Array.isArray(task)) return verifyOne(task as VerifyItem);
  const out = new Uint8Array(task.length);
  for (let i = 0; i < task.length; i++) out[i] = verifyOne(task[i]) ? 1 : 0;
  return out;
}
