/**
 * What logs must never contain: credentials. Access logs and the log plugins (http-log, file-log)
 * pass every request header and query argument through one Redaction built per snapshot.
 *
 * Always redacted: Authorization and Proxy-Authorization (basic-auth passwords, bearer JWTs),
 * Cookie and Set-Cookie. From the config: every key-auth `key_names` entry (as a header and as a
 * query argument) and every jwt `header_names`, `uri_param_names` and `cookie_names` entry, from
 * all plugin entries whether enabled or not (a disabled plugin's clients still send their keys).
 * Names compare case-insensitively: a false positive costs a log value, a miss leaks a key.
 */
import type { NormalizedConfig } from '../config/types';

export const REDACTED = '[REDACTED]';

const ALWAYS_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'];

export class Redaction {
  readonly headerNames: ReadonlySet<string>;
  readonly queryNames: ReadonlySet<string>;

  constructor(headerNames: Iterable<string>, queryNames: Iterable<string>) {
    this.headerNames = new Set([...ALWAYS_HEADERS, ...[...headerNames].map((n) => n.toLowerCase())]);
    this.queryNames = new Set([...queryNames].map((n) => n.toLowerCase()));
  }

  static fromConfig(config: NormalizedConfig): Redaction {
    const headers: string[] = [];
    const query: string[] = [];
    for (const p of config.plugins) {
      const c = p.config as Record<string, unknown>;
      if (p.name === 'key-auth') {
        const names = stringList(c.key_names);
        headers.push(...names, ...names.map((n) => n.replace(/_/g, '-')));
        query.push(...names);
      } else if (p.name === 'jwt') {
        headers.push(...stringList(c.header_names));
        query.push(...stringList(c.uri_param_names));
      }
    }
    return new Redaction(headers, query);
  }

  isSecretHeader(lowerName: string): boolean {
    return this.headerNames.has(lowerName);
  }

  /** The query string with secret arguments' values replaced; the input when none is secret. */
  query(query: string): string {
    if (query === '' || this.queryNames.size === 0) return query;
    const parts = query.split('&');
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      const eq = parts[i].indexOf('=');
      const rawName = eq < 0 ? parts[i] : parts[i].slice(0, eq);
      if (this.queryNames.has(decodeName(rawName).toLowerCase())) {
        parts[i] = rawName + '=' + REDACTED;
        changed = true;
      }
    }
    return changed ? parts.join('&') : query;
  }

  /** A path with an optional `?query`, its query redacted. */
  uri(uri: string): string {
    const q = uri.indexOf('?');
    return q < 0 ? uri : uri.slice(0, q + 1) + this.query(uri.slice(q + 1));
  }

  /** Kong's `request.querystring`: an object of decoded arguments, secret values redacted. */
  queryObject(query: string): Record<string, string | string[] | true> {
    const out: Record<string, string | string[] | true> = {};
    if (query === '') return out;
    for (const part of query.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = decodeName(eq < 0 ? part : part.slice(0, eq));
      let value: string | true = eq < 0 ? true : decodeName(part.slice(eq + 1));
      if (this.queryNames.has(name.toLowerCase())) value = REDACTED;
      const prev = out[name];
      if (prev === undefined) out[name] = value;
      else if (Array.isArray(prev)) prev.push(String(value));
      else out[name] = [String(prev), String(value)];
    }
    return out;
  }

  /** Flat header pairs to Kong's `headers` object (lower-case names, repeated names as arrays). */
  headerObject(names: readonly string[], values: readonly string[]): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (let i = 0; i < names.length; i++) {
      const name = names[i].toLowerCase();
      const value = this.headerNames.has(name) ? REDACTED : values[i];
      const prev = out[name];
      if (prev === undefined) out[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else out[name] = [prev, value];
    }
    return out;
  }
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function decodeName(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}
