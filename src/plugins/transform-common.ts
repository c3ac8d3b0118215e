/**
 * What request-transformer and response-transformer share: Kong's `name:value` entries, its
 * argument tables (query strings and form bodies: a name maps to a string, several strings, or
 * `true` for a bare name), Kong's append rule, and the template values request-transformer allows.
 */

/** One configured `name:value` entry; `value` is '' when the entry has none. */
export interface Pair {
  readonly name: string;
  readonly value: string;
}

/** Kong's split: the name runs to the first colon, then any further colons are skipped. */
export function splitPair(entry: string): Pair {
  const colon = entry.indexOf(':');
  if (colon === -1) return { name: entry, value: '' };
  let i = colon;
  while (i < entry.length && entry.charCodeAt(i) === 58 /* : */) i++;
  return { name: entry.slice(0, colon), value: entry.slice(i) };
}

/** RFC 9110 token characters: what Kong's validate_header_name accepts. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isHeaderName(name: string): boolean {
  return HEADER_NAME.test(name);
}

export type ArgValue = string | string[] | true;
/** Insertion-ordered, as decoded. */
export type Args = Map<string, ArgValue>;

function decodeComponent(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/** ngx.decode_args: `a=1&a=2&b` -> {a: ["1","2"], b: true}. */
export function decodeArgs(text: string): Args {
  const args: Args = new Map();
  if (text === '') return args;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq === -1 ? part : part.slice(0, eq));
    if (name === '') continue;
    const value: string | true = eq === -1 ? true : decodeComponent(part.slice(eq + 1));
    const prior = args.get(name);
    if (prior === undefined || value === true) {
      if (prior === undefined) args.set(name, value);
    } else if (prior === true) args.set(name, value);
    else if (typeof prior === 'string') args.set(name, [prior, value]);
    else prior.push(value);
  }
  return args;
}

/** Kong's encode_args: names sorted, repeated names repeated, `true` as a bare name. */
export function encodeArgs(args: Args): string {
  const names = [...args.keys()].sort();
  const out: string[] = [];
  for (const name of names) {
    const v = args.get(name)!;
    const n = encodeURIComponent(name);
    if (v === true) out.push(n);
    else if (typeof v === 'string') out.push(n + '=' + encodeURIComponent(v));
    else for (const one of v) out.push(n + '=' + encodeURIComponent(one));
  }
  return out.join('&');
}

/** Kong's append_value: a string becomes a list of two, a list grows, anything else becomes a list of one. */
export function appendValue(current: unknown, value: unknown): unknown[] {
  if (typeof current === 'string') return [current, value];
  if (Array.isArray(current)) {
    current.push(value);
    return current;
  }
  return [value];
}

/** Lua truthiness of a decoded JSON value (`nil` and `false` are false; JSON null is a truthy userdata). */
export function luaTruthy(value: unknown): boolean {
  return value !== undefined && value !== false;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
