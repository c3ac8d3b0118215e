/**
 * The admin API's route table: `METHOD /literal/:param/...` patterns matched segment by segment.
 * Cold code (a few requests a minute), so clarity beats speed here.
 */
export interface AdminRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request body as text ('' when none). */
  readonly body: string;
}

export interface AdminReply {
  readonly status: number;
  /** Serialized as JSON unless `contentType` is given, then sent as is. */
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export type AdminHandler = (req: AdminRequest) => AdminReply | Promise<AdminReply>;

interface AdminRoute {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: AdminHandler;
}

export type AdminMatch =
  | { readonly kind: 'found'; readonly handler: AdminHandler; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

export class AdminRouter {
  readonly #routes: AdminRoute[] = [];

  add(method: string, pattern: string, handler: AdminHandler): this {
    this.#routes.push({ method, segments: split(pattern), handler });
    return this;
  }

  match(method: string, path: string): AdminMatch {
    const parts = split(path);
    const allow: string[] = [];
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (params === null) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { kind: 'found', handler: route.handler, params };
      allow.push(route.method);
    }
    return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(parts[i]);
      } catch {
        return null;
      }
      params[p.slice(1)] = value;
    } else if (p !== parts[i]) {
      return null;
    }
  }
  return params;
}
