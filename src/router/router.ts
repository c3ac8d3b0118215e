/**
 * The compiled route matcher: Kong 3.x `router_flavor = traditional_compatible` semantics.
 *
 * Compile (cold, once per snapshot):
 *   routes ─► parts (one per distinct plain-prefix length, one for all regex paths, as Kong's
 *   compat router splits them) ─► ranked (Kong's get_priority, then deterministic tie-breaks)
 *   ─► inserted into one radix tree keyed by the part's literal path prefix:
 *        plain part  → each of its prefixes
 *        regex part  → the literal text every one of its regexes must start with ('' if none)
 *        path-less   → '' (the root)
 *   Each tree node with parts holds a Bucket: parts indexed by exact host name, plus a list of
 *   parts that any host may match (hostless or wildcard). Lists are kept in rank order.
 *
 * Match (hot): one walk of the request path down the tree collects the buckets whose prefix the
 * path starts with; the buckets are read deepest first and a part is only tested when its static
 * rank could still beat the best match so far. The plain-prefix path allocates nothing; only a
 * regex test allocates (the RegExp match array).
 */
import type { RouteConfig } from '../config/types';
import type { MatchRequest, MatchResult, Router, RouteTableRow } from './types';
import { compileKongRegex, translateRegex } from './regex';

/** Thrown by `compileRouter` when a route's regex does not compile. */
export class RouterCompileError extends Error {
  readonly code = 'FG_ROUTER_INVALID_REGEX';
  readonly routeId: string;
  readonly routeName: string | null;
  /** The offending value as written in the config (`~...` path or `~*...` header value). */
  readonly pattern: string;

  constructor(route: RouteConfig, what: string, pattern: string, reason: string) {
    const label = route.name === null ? `route ${route.id}` : `route "${route.name}" (${route.id})`;
    super(`${label}: invalid regex in ${what} ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'RouterCompileError';
    this.routeId = route.id;
    this.routeName = route.name;
    this.pattern = pattern;
  }
}

// ---------------------------------------------------------------------------------------------
// Compiled parts
// ---------------------------------------------------------------------------------------------

const PATH_NONE = 0;
const PATH_PLAIN = 1;
const PATH_REGEX = 2;

const HOST_EXACT = 0;
/** `*.example.com`: the host must end with `.example.com`. */
const HOST_SUFFIX = 1;
/** `example.*`: the host must start with `example.`. */
const HOST_PREFIX = 2;

const MAX_HEADER_COUNT = 255;
const MAX_LENGTH_MASK = 0x7ffff;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** 2^19: regex_priority sits above the 19-bit max-length field. */
const RP_SHIFT = 524288;

class HostRule {
  constructor(
    readonly kind: number,
    /** Lower-case name without the `*` and without the port. */
    readonly name: string,
    /** -1 when the route host has no explicit port. */
    readonly port: number,
  ) {}
}

class HeaderRule {
  constructor(
    readonly name: string,
    /** Lower-cased exact values. */
    readonly values: readonly string[],
    readonly regexes: readonly RegExp[],
    /** Whether a value has non-ASCII characters (only then is a Unicode case fold needed). */
    readonly nonAscii: boolean,
  ) {}
}

/**
 * One rankable unit. A route with paths of several prefix lengths (or plain and regex paths) is
 * split so that each length ranks on its own, as in Kong's compat router.
 */
class Part {
  /** Position in evaluation order (0 = tried first); set once all parts are sorted. */
  rank = 0;
  /** Index of this part's priority value among the distinct values, best first. */
  group = 0;

  constructor(
    readonly route: RouteConfig,
    /** Index among the route's parts. */
    readonly partIndex: number,
    readonly pathKind: number,
    /** This part's paths as written (`null` for a path-less route). */
    readonly paths: readonly string[] | null,
    /** Plain prefixes (same length), or [] for other kinds. */
    readonly prefixes: readonly string[],
    readonly prefixLength: number,
    readonly regexes: readonly RegExp[],
    /** Text every path matched by this part starts with: where it sits in the tree. */
    readonly indexPrefix: string,
    readonly methods: readonly string[] | null,
    readonly hosts: readonly HostRule[] | null,
    readonly hasPortHost: boolean,
    /** Exact host names when every host is a plain name (bucket index keys), else `null`. */
    readonly hostKeys: readonly string[] | null,
    readonly headers: readonly HeaderRule[] | null,
    /** Kong priority bits 63..51: match weight, plain-host-only, header count, regex flag. */
    readonly prioHi: number,
    /** Kong priority bits 50..0: regex_priority (signed) * 2^19 + max length. Exact in a double. */
    readonly prioLo: number,
    /** hosts 8 | headers 4 | paths 2 | methods 1: the documented tie-break. */
    readonly category: number,
  ) {}
}

/**
 * Returns a flat (sequential) copy of `s`. Config strings built by concatenation or slicing are
 * cons/sliced strings, and every `charCodeAt` on the hot path would pay for the indirection;
 * property keys are always flat, so interning through an object key flattens once, at compile.
 */
function flat(s: string): string {
  const o: Record<string, number> = { [s]: 0 };
  for (const k in o) return k;
  return s;
}

function nonEmpty<T>(a: readonly T[] | null): a is readonly T[] {
  return a !== null && a.length > 0;
}

function compileParts(routes: readonly RouteConfig[]): Part[] {
  const parts: Part[] = [];
  for (const route of routes) {
    const methods = nonEmpty(route.methods) ? route.methods.map(flat) : null;
    const hostList = nonEmpty(route.hosts) ? route.hosts : null;
    const headerNames = route.headers === null ? [] : Object.keys(route.headers);
    const hasPaths = nonEmpty(route.paths);

    let hosts: HostRule[] | null = null;
    let hostKeys: string[] | null = null;
    let hasPortHost = false;
    let plainHostOnly = false;
    if (hostList !== null) {
      hosts = hostList.map(parseHost);
      hasPortHost = hosts.some((h) => h.port !== -1);
      plainHostOnly = hostList.every((h) => !h.includes('*'));
      if (hosts.every((h) => h.kind === HOST_EXACT)) hostKeys = [...new Set(hosts.map((h) => h.name))];
    }

    const headers = headerNames.length === 0 ? null : headerNames.map((n) => compileHeader(route, n, route.headers![n]));

    let weight = 0;
    if (methods !== null) weight++;
    if (hostList !== null) weight++;
    if (headers !== null) weight++;
    if (hasPaths) weight++;
    const headerCount = Math.min(headerNames.length, MAX_HEADER_COUNT);
    const category = (hostList !== null ? 8 : 0) | (headers !== null ? 4 : 0) | (hasPaths ? 2 : 0) | (methods !== null ? 1 : 0);
    const hiBase = weight * 1024 + (plainHostOnly ? 512 : 0) + headerCount * 2;

    const make = (index: number, kind: number, paths: string[] | null): Part => {
      let prefixes: string[] = [];
      let prefixLength = 0;
      let regexes: RegExp[] = [];
      let indexPrefix = '';
      if (kind === PATH_PLAIN) {
        prefixes = [...new Set(paths!)];
        prefixLength = prefixes[0].length;
      } else if (kind === PATH_REGEX) {
        const literals: string[] = [];
        regexes = paths!.map((p) => {
          const c = compilePathRegex(route, p);
          literals.push(c.literal);
          return c.regex;
        });
        indexPrefix = commonPrefix(literals);
      }
      const isRegex = kind === PATH_REGEX;
      const rp = isRegex ? Math.max(INT32_MIN, Math.min(INT32_MAX, Math.trunc(route.regexPriority))) : 0;
      return new Part(
        route,
        index,
        kind,
        paths,
        prefixes,
        prefixLength,
        regexes,
        indexPrefix,
        methods,
        hosts,
        hasPortHost,
        hostKeys,
        headers,
        hiBase + (isRegex ? 1 : 0),
        rp * RP_SHIFT + (prefixLength & MAX_LENGTH_MASK),
        category,
      );
    };

    if (!hasPaths) {
      parts.push(make(0, PATH_NONE, null));
      continue;
    }
    // Group in order of first appearance so part order (the last tie-break) follows the file.
    const groups = new Map<number, string[]>();
    for (const p of route.paths!) {
      const key = p.charCodeAt(0) === 126 /* ~ */ ? -1 : p.length;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, [p]);
      else g.push(p);
    }
    let index = 0;
    for (const [key, paths] of groups) parts.push(make(index++, key === -1 ? PATH_REGEX : PATH_PLAIN, paths));
  }

  parts.sort(compareParts);
  let group = -1;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i === 0 || p.prioHi !== parts[i - 1].prioHi || p.prioLo !== parts[i - 1].prioLo) group++;
    p.rank = i;
    p.group = group;
  }
  return parts;
}

/** Evaluation order: priority (desc), then category (desc), then config order, then part order. */
function compareParts(a: Part, b: Part): number {
  if (a.prioHi !== b.prioHi) return b.prioHi - a.prioHi;
  if (a.prioLo !== b.prioLo) return b.prioLo - a.prioLo;
  if (a.category !== b.category) return b.category - a.category;
  if (a.route.order !== b.route.order) return a.route.order - b.route.order;
  return a.partIndex - b.partIndex;
}

/** Kong's 64-bit priority as a decimal string (a negative regex_priority stays a signed term; see compileRouter). */
function priorityString(p: Part): string {
  return ((BigInt(p.prioHi) << 51n) + BigInt(p.prioLo)).toString();
}

function parseHost(h: string): HostRule {
  let name = h;
  let port = -1;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const close = h.indexOf(']');
    if (close !== -1 && h.charCodeAt(close + 1) === 58 /* : */) {
      const n = Number(h.slice(close + 2));
      if (Number.isInteger(n)) {
        name = h.slice(0, close + 1);
        port = n;
      }
    }
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1 && h.indexOf(':', colon + 1) === -1) {
      const n = Number(h.slice(colon + 1));
      if (colon + 1 < h.length && Number.isInteger(n)) {
        name = h.slice(0, colon);
        port = n;
      }
    }
  }
  if (name.charCodeAt(0) === 42 /* * */) return new HostRule(HOST_SUFFIX, flat(name.slice(1)), port);
  if (name.charCodeAt(name.length - 1) === 42) return new HostRule(HOST_PREFIX, flat(name.slice(0, -1)), port);
  return new HostRule(HOST_EXACT, flat(name), port);
}

function compileHeader(route: RouteConfig, name: string, values: readonly string[]): HeaderRule {
  const exact: string[] = [];
  const regexes: RegExp[] = [];
  let nonAscii = false;
  for (const v of values) {
    if (v.charCodeAt(0) === 126 /* ~ */ && v.charCodeAt(1) === 42 /* * */) {
      // Case-insensitive through the `i` flag rather than by lower-casing the pattern as Kong
      // does, which would turn `\D` into `\d`.
      regexes.push(compileRegex(route, `header "${name}" value`, v, translateRegex(v.slice(2)), 'i'));
    } else {
      const lower = flat(v.toLowerCase());
      if (/[^\x00-\x7f]/.test(lower)) nonAscii = true;
      exact.push(lower);
    }
  }
  return new HeaderRule(flat(name), exact, regexes, nonAscii);
}

function compileRegex(
  route: RouteConfig,
  what: string,
  written: string,
  t: { source: string; caseInsensitive: boolean },
  flags: string,
  anchor = false,
): RegExp {
  try {
    return compileKongRegex(t, flags, anchor);
  } catch (err) {
    throw new RouterCompileError(route, what, written, (err as Error).message);
  }
}

function compilePathRegex(route: RouteConfig, written: string): { regex: RegExp; literal: string } {
  const t = translateRegex(written.slice(1));
  const regex = compileRegex(route, 'path', written, t, '', true);
  return { regex, literal: t.caseInsensitive ? '' : literalPrefix(t.source) };
}

/**
 * The literal text any match of an anchored pattern must start with. Conservative: stops at the
 * first metacharacter, drops a character made optional by a following quantifier, and gives up
 * ('') on any `|` since an alternation may be top-level. Used only to place a regex in the tree.
 */
export function literalPrefix(source: string): string {
  if (source.includes('|')) return '';
  let i = 0;
  while (source.charCodeAt(i) === 94 /* ^ */) i++;
  let out = '';
  while (i < source.length) {
    const c = source[i];
    let lit: string;
    let step: number;
    if ('.^$*+?()[]{}'.includes(c)) break;
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined || /[A-Za-z0-9]/.test(n)) break;
      lit = n;
      step = 2;
    } else {
      lit = c;
      step = 1;
    }
    const next = source[i + step];
    if (next === '*' || next === '?' || next === '{') break;
    out += lit;
    if (next === '+') break;
    i += step;
  }
  return out;
}

function commonPrefix(strings: readonly string[]): string {
  let p = strings[0];
  for (let i = 1; i < strings.length && p.length > 0; i++) {
    const s = strings[i];
    let k = 0;
    while (k < p.length && k < s.length && p.charCodeAt(k) === s.charCodeAt(k)) k++;
    p = p.slice(0, k);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Per-part predicates (shared by the indexed router and the linear reference)
// ---------------------------------------------------------------------------------------------

/** Side outputs of `testPart`; module-level because matching is synchronous and never re-entered. */
const hit = { length: 0, captures: null as Record<string, string> | null };

const NO_MATCH = -1;
const MATCH = 0;
const MATCH_WITH_PORT = 1;

/**
 * Tests every condition of `p` except a plain prefix when `prefixChecked` (the tree walk already
 * proved it). Returns NO_MATCH, MATCH, or MATCH_WITH_PORT when the matched host named a port.
 */
function testPart(p: Part, req: MatchRequest, prefixChecked: boolean): number {
  if (p.methods !== null && !includes(p.methods, req.method)) return NO_MATCH;
  let result = MATCH;
  if (p.hosts !== null) {
    result = matchHosts(p.hosts, req.host, req.hostPort);
    if (result === NO_MATCH) return NO_MATCH;
  }
  if (p.headers !== null && !matchHeaders(p.headers, req.headerNames, req.headerValues)) return NO_MATCH;
  switch (p.pathKind) {
    case PATH_PLAIN:
      if (!prefixChecked && !startsWithAny(req.path, p.prefixes)) return NO_MATCH;
      hit.length = p.prefixLength;
      hit.captures = null;
      return result;
    case PATH_REGEX:
      return matchRegexes(p.regexes, req.path) ? result : NO_MATCH;
    default:
      hit.length = 0;
      hit.captures = null;
      return result;
  }
}

function includes(list: readonly string[], s: string): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] === s) return true;
  return false;
}

function startsWithAny(path: string, prefixes: readonly string[]): boolean {
  for (let i = 0; i < prefixes.length; i++) if (path.startsWith(prefixes[i])) return true;
  return false;
}

/** First regex (in config order) that matches decides the length and captures, as in Kong. */
function matchRegexes(regexes: readonly RegExp[], path: string): boolean {
  for (let i = 0; i < regexes.length; i++) {
    const m = regexes[i].exec(path);
    if (m === null) continue;
    hit.length = m[0].length;
    hit.captures = namedCaptures(m.groups);
    return true;
  }
  return false;
}

function namedCaptures(groups: Record<string, string> | undefined): Record<string, string> | null {
  if (groups === undefined) return null;
  let missing = 0;
  let present = 0;
  for (const k in groups) {
    if (groups[k] === undefined) missing++;
    else present++;
  }
  // exec() made `groups` fresh for this match, so it can be handed out as is when complete.
  if (missing === 0) return present === 0 ? null : groups;
  if (present === 0) return null;
  // A group that did not take part in the match is left out rather than reported as undefined.
  const out = Object.create(null) as Record<string, string>;
  for (const k in groups) if (groups[k] !== undefined) out[k] = groups[k];
  return out;
}

function matchHosts(rules: readonly HostRule[], host: string, port: number): number {
  let result = NO_MATCH;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.port !== -1 && r.port !== port) continue;
    let ok: boolean;
    if (r.kind === HOST_EXACT) ok = host === r.name;
    else if (r.kind === HOST_SUFFIX) ok = host.endsWith(r.name);
    else ok = host.startsWith(r.name);
    if (!ok) continue;
    if (r.port !== -1) return MATCH_WITH_PORT;
    result = MATCH;
  }
  return result;
}

function matchHeaders(rules: readonly HeaderRule[], names: readonly string[], values: readonly string[]): boolean {
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r];
    let ok = false;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === rule.name && headerValueMatches(rule, values[i])) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

function headerValueMatches(rule: HeaderRule, value: string): boolean {
  const exact = rule.values;
  for (let i = 0; i < exact.length; i++) if (equalsLowered(value, exact[i], rule.nonAscii)) return true;
  const regexes = rule.regexes;
  for (let i = 0; i < regexes.length; i++) if (regexes[i].test(value)) return true;
  return false;
}

/** `value.toLowerCase() === lower` without allocating unless a non-ASCII character is involved. */
function equalsLowered(value: string, lower: string, lowerNonAscii: boolean): boolean {
  const n = lower.length;
  if (value.length !== n) return lowerNonAscii && value.toLowerCase() === lower;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    const d = lower.charCodeAt(i);
    if (c === d) continue;
    if (c >= 65 && c <= 90 && (c | 32) === d) continue;
    // Past this point only a Unicode fold can help (e.g. KELVIN SIGN -> 'k').
    return (c >= 128 || lowerNonAscii) && value.toLowerCase() === lower;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Index
// ---------------------------------------------------------------------------------------------

const EMPTY_PARTS: readonly Part[] = [];

class Bucket {
  constructor(
    /** Parts whose hosts are all exact names, by name. */
    readonly byHost: Map<string, Part[]> | null,
    /** Parts without hosts or with a wildcard host, in rank order. */
    readonly anyHost: readonly Part[],
    /** Best (lowest) group in this bucket: lets a whole bucket be skipped. */
    readonly bestGroup: number,
  ) {}
}

/**
 * Radix-tree node. Children are found by the first character of their label: a linear search
 * when few, a dense table indexed by (code - kidBase) when many and close together (the usual
 * ASCII case: no hashing), a Map otherwise.
 */
class TreeNode {
  constructor(
    /** Edge text from the parent (its first character is the parent's key for this node). */
    readonly label: string,
    readonly bucket: Bucket | null,
    readonly kidCodes: readonly number[],
    readonly kidNodes: readonly TreeNode[],
    readonly kidBase: number,
    readonly kidTable: readonly (TreeNode | null)[] | null,
    readonly kidMap: Map<number, TreeNode> | null,
  ) {}
}

const LINEAR_FANOUT = 6;
const MAX_TABLE_SPAN = 128;

class BuildNode {
  label: string;
  kids = new Map<number, BuildNode>();
  parts: Part[] = [];
  constructor(label: string) {
    this.label = label;
  }
}

function insert(root: BuildNode, key: string, part: Part): void {
  let node = root;
  let i = 0;
  for (;;) {
    if (i === key.length) {
      if (node.parts[node.parts.length - 1] !== part) node.parts.push(part);
      return;
    }
    const c = key.charCodeAt(i);
    const child = node.kids.get(c);
    if (child === undefined) {
      const leaf = new BuildNode(key.slice(i));
      leaf.parts.push(part);
      node.kids.set(c, leaf);
      return;
    }
    const label = child.label;
    let k = 1;
    while (k < label.length && i + k < key.length && label.charCodeAt(k) === key.charCodeAt(i + k)) k++;
    if (k < label.length) {
      const mid = new BuildNode(label.slice(0, k));
      child.label = label.slice(k);
      mid.kids.set(child.label.charCodeAt(0), child);
      node.kids.set(c, mid);
      node = mid;
    } else {
      node = child;
    }
    i += k;
  }
}

function freeze(b: BuildNode): TreeNode {
  const codes: number[] = [];
  const nodes: TreeNode[] = [];
  for (const [c, kid] of b.kids) {
    codes.push(c);
    nodes.push(freeze(kid));
  }
  let kidBase = 0;
  let kidTable: (TreeNode | null)[] | null = null;
  let kidMap: Map<number, TreeNode> | null = null;
  if (codes.length > LINEAR_FANOUT) {
    const lo = Math.min(...codes);
    const span = Math.max(...codes) - lo + 1;
    if (span <= MAX_TABLE_SPAN) {
      kidBase = lo;
      kidTable = new Array<TreeNode | null>(span).fill(null);
      for (let i = 0; i < codes.length; i++) kidTable[codes[i] - lo] = nodes[i];
    } else {
      kidMap = new Map();
      for (let i = 0; i < codes.length; i++) kidMap.set(codes[i], nodes[i]);
    }
  }
  const bucket = b.parts.length === 0 ? null : makeBucket(b.parts);
  return new TreeNode(flat(b.label), bucket, codes, nodes, kidBase, kidTable, kidMap);
}

function makeBucket(parts: Part[]): Bucket {
  // Inserted in rank order, so every list below is already sorted.
  let byHost: Map<string, Part[]> | null = null;
  const anyHost: Part[] = [];
  for (const p of parts) {
    if (p.hostKeys === null) {
      anyHost.push(p);
      continue;
    }
    if (byHost === null) byHost = new Map();
    for (const h of p.hostKeys) {
      const list = byHost.get(h);
      if (list === undefined) byHost.set(h, [p]);
      else list.push(p);
    }
  }
  return new Bucket(byHost, anyHost.length === 0 ? EMPTY_PARTS : anyHost, parts[0].group);
}

/** The most buckets one walk can meet: the size of the per-router scratch list. */
function maxBucketDepth(n: TreeNode): number {
  let best = 0;
  for (const kid of n.kidNodes) best = Math.max(best, maxBucketDepth(kid));
  return best + (n.bucket === null ? 0 : 1);
}

function childOf(n: TreeNode, c: number): TreeNode | null {
  const table = n.kidTable;
  if (table !== null) {
    const i = c - n.kidBase;
    return i >= 0 && i < table.length ? table[i] : null;
  }
  if (n.kidMap !== null) return n.kidMap.get(c) ?? null;
  const codes = n.kidCodes;
  for (let i = 0; i < codes.length; i++) if (codes[i] === c) return n.kidNodes[i];
  return null;
}

function describeParts(parts: readonly Part[]): RouteTableRow[] {
  return parts.map((p) => ({
    rank: p.rank,
    routeId: p.route.id,
    routeName: p.route.name,
    serviceId: p.route.service,
    methods: p.methods,
    hosts: nonEmpty(p.route.hosts) ? p.route.hosts : null,
    paths: p.paths,
    headers: p.headers === null ? null : p.route.headers,
    priority: priorityString(p),
  }));
}

const NO_GROUP = Number.MAX_SAFE_INTEGER;
const EMPTY_BUCKET = new Bucket(null, EMPTY_PARTS, NO_GROUP);

class IndexedRouter implements Router {
  readonly #parts: readonly Part[];
  readonly #root: TreeNode;
  /** Buckets met by the current walk; reused by every call. */
  readonly #visited: Bucket[];

  // The best candidate of the match in progress (reused; match is synchronous).
  #best: Part | null = null;
  #bestGroup = NO_GROUP;
  #bestRank = NO_GROUP;
  #bestPort = false;
  #bestLength = 0;
  #bestCaptures: Record<string, string> | null = null;

  constructor(parts: readonly Part[]) {
    this.#parts = parts;
    const root = new BuildNode('');
    for (const p of parts) {
      if (p.pathKind === PATH_PLAIN) for (const prefix of p.prefixes) insert(root, prefix, p);
      else insert(root, p.indexPrefix, p);
    }
    this.#root = freeze(root);
    this.#visited = new Array<Bucket>(Math.max(1, maxBucketDepth(this.#root))).fill(EMPTY_BUCKET);
  }

  match(req: MatchRequest, out: MatchResult): boolean {
    const path = req.path;
    const pathLength = path.length;
    const visited = this.#visited;
    let count = 0;
    let node = this.#root;
    let pos = 0;
    for (;;) {
      if (node.bucket !== null) visited[count++] = node.bucket;
      if (pos >= pathLength) break;
      const child = childOf(node, path.charCodeAt(pos));
      if (child === null) break;
      const label = child.label;
      const labelLength = label.length;
      if (pos + labelLength > pathLength) break;
      let k = 1;
      while (k < labelLength && label.charCodeAt(k) === path.charCodeAt(pos + k)) k++;
      if (k < labelLength) break;
      pos += labelLength;
      node = child;
    }

    this.#best = null;
    this.#bestGroup = NO_GROUP;
    this.#bestRank = NO_GROUP;
    this.#bestPort = false;
    // Deepest first: longer prefixes usually rank higher, so later buckets get pruned.
    for (let i = count - 1; i >= 0; i--) {
      const bucket = visited[i];
      if (bucket.bestGroup > this.#bestGroup) continue;
      if (bucket.byHost !== null) {
        const list = bucket.byHost.get(req.host);
        if (list !== undefined) this.#scan(list, req);
      }
      this.#scan(bucket.anyHost, req);
    }

    // The cast undoes TS's narrowing from the reset above; #scan may have set it.
    const best = this.#best as Part | null;
    if (best === null) {
      out.route = null;
      out.matchedLength = 0;
      out.captures = null;
      return false;
    }
    out.route = best.route;
    out.matchedLength = this.#bestLength;
    out.captures = this.#bestCaptures;
    this.#best = null;
    this.#bestCaptures = null;
    return true;
  }

  #scan(list: readonly Part[], req: MatchRequest): void {
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      const bestGroup = this.#bestGroup;
      if (p.group > bestGroup) return;
      // Same priority and later rank: it can only win through the explicit-port tie-break.
      if (p.group === bestGroup && p.rank > this.#bestRank && (this.#bestPort || !p.hasPortHost)) continue;
      const r = testPart(p, req, true);
      if (r === NO_MATCH) continue;
      const port = r === MATCH_WITH_PORT;
      if (p.group === bestGroup) {
        if (port === this.#bestPort ? p.rank > this.#bestRank : !port) continue;
      }
      this.#best = p;
      this.#bestGroup = p.group;
      this.#bestRank = p.rank;
      this.#bestPort = port;
      this.#bestLength = hit.length;
      this.#bestCaptures = hit.captures;
    }
  }

  describe(): RouteTableRow[] {
    return describeParts(this.#parts);
  }
}

/**
 * The same semantics tested part by part in rank order, with no index. The reference the
 * indexed router is checked against (tests, bench/router-match.ts); not for the hot path.
 */
class LinearRouter implements Router {
  readonly #parts: readonly Part[];

  constructor(parts: readonly Part[]) {
    this.#parts = parts;
  }

  match(req: MatchRequest, out: MatchResult): boolean {
    const parts = this.#parts;
    let best: Part | null = null;
    let bestPort = false;
    let length = 0;
    let captures: Record<string, string> | null = null;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (best !== null && (p.group !== best.group || bestPort)) break;
      const r = testPart(p, req, false);
      if (r === NO_MATCH) continue;
      // Parts come in rank order, so a later one of the same priority only wins with a port.
      if (best !== null && r !== MATCH_WITH_PORT) continue;
      best = p;
      bestPort = r === MATCH_WITH_PORT;
      length = hit.length;
      captures = hit.captures;
    }
    out.route = best === null ? null : best.route;
    out.matchedLength = best === null ? 0 : length;
    out.captures = best === null ? null : captures;
    return best !== null;
  }

  describe(): RouteTableRow[] {
    return describeParts(this.#parts);
  }
}

/**
 * Compiles routes (already validated, Kong defaults applied) into the indexed matcher.
 * Throws `RouterCompileError` naming the route when a path or header regex does not compile.
 *
 * `describe()` rows carry Kong's priority as `weight<<61 | plainHostOnly<<60 | headerCount<<52 |
 * regex<<51 | regexPriority<<19 | maxLength`. A negative regex_priority is added as a signed
 * term (Kong shifts it as an unsigned 64-bit value, which would rank it above everything).
 */
export function compileRouter(routes: readonly RouteConfig[]): Router {
  return new IndexedRouter(compileParts(routes));
}

/** Reference matcher over the same ranked parts, scanned linearly. For tests and benchmarks. */
export function compileLinearRouter(routes: readonly RouteConfig[]): Router {
  return new LinearRouter(compileParts(routes));
}
