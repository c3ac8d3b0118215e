/**
 * Kong's migration of pre-3.0 declarative files (`_format_version` "1.1" and "2.1"), as Kong 3.x
 * applies it when it loads one (kong/db/declarative/migrations/route_path.lua):
 *
 *   - Before 3.0 a route path was a regex whenever it was not a plain path; 3.0 marks regexes
 *     with a leading `~`. A path is plain when it consists only of letters, digits and
 *     `. - _ ~ / %`; any other character makes it a regex, which gets the `~`.
 *   - Before 3.0 paths were percent-decoded; 3.0 matches them as written, so the migration
 *     decodes them one last time. A plain path is normalized (unreserved `%XX` decoded, dot
 *     segments resolved, `//` merged). In a regex, an encoded reserved character stays encoded
 *     (upper-cased), an encoded regex metacharacter becomes its escaped form (`%2E` -> `\.`), and
 *     any other encoded byte is decoded.
 *
 * Only route paths change (top-level routes and routes nested in services), and the file is then
 * a 3.0 file. Runs on the raw document, before the schemas.
 */
import { isObject } from './entities';
import type { Issue } from './errors';
import { FORMAT_VERSION } from './schema/document';

/** Migrates `doc` in place; returns one warning per file that was migrated, naming what changed. */
export function migrateFormat(doc: unknown): Issue[] {
  if (!isObject(doc)) return [];
  const version = doc._format_version;
  if (version !== '1.1' && version !== '2.1') return [];
  let regexes = 0;
  const migrateRoutes = (routes: unknown) => {
    if (!Array.isArray(routes)) return;
    for (const route of routes) {
      if (!isObject(route) || !Array.isArray(route.paths)) continue;
      route.paths = route.paths.map((p) => {
        if (typeof p !== 'string') return p;
        const migrated = migratePath(p);
        if (migrated.startsWith('~') && !isPlainPath(p)) regexes++;
        return migrated;
      });
    }
  };
  migrateRoutes(doc.routes);
  if (Array.isArray(doc.services)) for (const s of doc.services) if (isObject(s)) migrateRoutes(s.routes);
  doc._format_version = FORMAT_VERSION;
  return [
    {
      path: ['_format_version'],
      message:
        `format "${version}" migrated to "${FORMAT_VERSION}" as Kong 3.x does: ` +
        `${regexes} regex route path${regexes === 1 ? '' : 's'} prefixed with "~"; update the file with "deck file convert" to silence this`,
    },
  ];
}

const PLAIN_PATH = /^[a-zA-Z0-9.\-_~/%]*$/;

/** Kong's test for "not a regex" in pre-3.0 files. */
export function isPlainPath(path: string): boolean {
  return PLAIN_PATH.test(path);
}

/** One path of a pre-3.0 file, as Kong 3.x reads it. */
export function migratePath(path: string): string {
  if (isPlainPath(path)) return normalizePlainPath(path);
  return '~' + decodeRegex(path);
}

/** Percent-encoded bytes that keep their encoding in a migrated regex (upper-cased). */
const RESERVED = new Set('!#$%&\'()*+,/:;=?@[]'.split('').map((c) => c.charCodeAt(0)));
/** Percent-encoded regex metacharacters (not already reserved): decoded to their escaped form. */
const REGEX_META: Readonly<Record<number, string>> = {
  0x2e: '\\.',
  0x5e: '\\^',
  0x2d: '\\-',
  0x7b: '\\{',
  0x7d: '\\}',
  0x5c: '\\\\',
  0x7c: '\\|',
};

function decodeRegex(regex: string): string {
  return regex.replace(/%([0-9A-Fa-f]{2})/g, (triplet: string, hex: string) => {
    const byte = parseInt(hex, 16);
    if (RESERVED.has(byte)) return triplet.toUpperCase();
    return REGEX_META[byte] ?? String.fromCharCode(byte);
  });
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Unreserved `%XX` decoded (others upper-cased), dot segments resolved, repeated slashes merged. */
function normalizePlainPath(path: string): string {
  if (!path.startsWith('/') || path === '/') return path; // not a path: the schema reports it
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (triplet: string, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : triplet.toUpperCase();
  });
  const trailing = decoded.endsWith('/') || decoded.endsWith('/.') || decoded.endsWith('/..');
  const out: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const joined = '/' + out.join('/');
  return trailing && joined !== '/' ? joined + '/' : joined;
}
