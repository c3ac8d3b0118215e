/**
 * basic-auth password hashing, shared by the loader (which hashes each password once, so the
 * normalized config never holds it) and the basic-auth plugin (which hashes what a client sends
 * and compares). `hash = sha256(salt bytes || utf8(password))`, hex.
 *
 * One SHA-256, not a slow KDF: the plain password is in the config file anyway, and the point is
 * that it never reaches the workers, snapshots, logs or the admin API, while a check stays cheap
 * on the hot path. The random salt per credential keeps equal passwords from having equal hashes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of salt per credential. */
export const SALT_BYTES = 16;

const HEX = /^(?:[0-9a-f]{2})+$/i;

/** A fresh random salt, hex. */
export function newSalt(): string {
  return randomBytes(SALT_BYTES).toString('hex');
}

/**
 * sha256(salt || utf8(password)) as hex. Throws on a salt that is not hex: Buffer.from would
 * silently drop the bad characters and hash with a shorter salt.
 */
export function hashPassword(password: string, saltHex: string): string {
  if (!HEX.test(saltHex)) throw new TypeError('hashPassword: the salt must be a non-empty, even-length hex string');
  return createHash('sha256').update(Buffer.from(saltHex, 'hex')).update(password, 'utf8').digest('hex');
}

/** Whether `password` hashes to `passwordHash` (hex) with `saltHex`; constant time in the hash. */
export function verifyPassword(password: string, saltHex: string, passwordHash: string): boolean {
  const actual = Buffer.from(hashPassword(password, saltHex), 'hex');
  const expected = Buffer.from(passwordHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
