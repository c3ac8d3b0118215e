/**
 * The second line of defense for "no error message quotes a secret". The first is that no check
 * puts one in a message: schemas mark secret fields `sensitive` (ajv.ts prints only the kind of
 * value), entity labels never use them (entities.ts), and duplicate keys name the other entity,
 * not the key (references.ts). This collects every value written in a secret field, however
 * malformed the document, and blanks any that still shows up in an error.
 */
import { isObject } from './entities';
import type { ConfigError } from './errors';

export const SCRUBBED = '[REDACTED]';

/** Shorter values are too likely to match ordinary words of a message to be blanked. */
const MIN_LENGTH = 6;

/** The fields of each credential collection that hold secrets. */
const SECRET_FIELDS: Readonly<Record<string, readonly string[]>> = {
  keyauth_credentials: ['key'],
  basicauth_credentials: ['password'],
  jwt_secrets: ['key', 'secret', 'rsa_public_key'],
  certificates: ['key', 'key_alt'],
  hmacauth_credentials: ['secret'],
};

/** Every secret value in the document (top-level and nested credentials), as text. */
export function collectSecrets(doc: unknown): string[] {
  const found = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') {
      const text = String(v);
      if (text.length >= MIN_LENGTH) found.add(text);
    }
  };
  const fromHolder = (holder: unknown) => {
    if (!isObject(holder)) return;
    for (const [collection, fields] of Object.entries(SECRET_FIELDS)) {
      const list = holder[collection];
      add(list); // `keyauth_credentials: s3cret`
      if (!Array.isArray(list)) continue;
      for (const item of list) {
        if (!isObject(item)) add(item); // `keyauth_credentials: [s3cret]`
        else for (const f of fields) add(item[f]);
      }
    }
  };
  fromHolder(doc);
  if (isObject(doc) && Array.isArray(doc.consumers)) for (const c of doc.consumers) fromHolder(c);
  // Longest first, so a secret that contains another is blanked whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * Blanks the secrets in each error's entity label and message. The field path is left alone: it
 * is made of keys, not values, and a password that happens to be "password" must not hide which
 * field an error is about.
 */
export function scrubSecrets(errors: readonly ConfigError[], secrets: readonly string[]): ConfigError[] {
  if (secrets.length === 0) return [...errors];
  // Whole tokens only: a key "other" must not turn "another" into "an[REDACTED]".
  const patterns = secrets.map((s) => new RegExp(`(?<![A-Za-z0-9_])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`, 'g'));
  const scrub = (text: string) => patterns.reduce((t, re) => t.replace(re, SCRUBBED), text);
  return errors.map((e) => ({ ...e, entity: scrub(e.entity), message: scrub(e.message) }));
}
