/**
 * request-transformer's values may be Kong templates: `$(headers.x_user)`, `$(query_params["q"])`,
 * `$(uri_captures.id)`. Kong renders them with Lua; we render exactly these lookups (what real
 * configs use) and refuse any other `$(...)` at load, since it would be Lua code.
 */
import type { PluginContext } from '../api';

const enum Source {
  Text = 0,
  Header = 1,
  Query = 2,
  Capture = 3,
}

interface Piece {
  readonly source: Source;
  /** Text, or the looked-up name (headers: lower-case, `_` as `-`, as Kong's header table reads them). */
  readonly text: string;
}

const EXPR = /\$\(\s*(headers|query_params|uri_captures)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"]*)"|'([^']*)')\s*\])\s*\)/y;

export class Template {
  readonly #pieces: readonly Piece[];
  readonly constant: string | null;

  private constructor(pieces: Piece[]) {
    this.#pieces = pieces;
    this.constant = pieces.every((p) => p.source === Source.Text) ? pieces.map((p) => p.text).join('') : null;
  }

  /** The template, or a sentence saying why it cannot be rendered. */
  static compile(value: string): Template | string {
    const pieces: Piece[] = [];
    let text = '';
    let i = 0;
    while (i < value.length) {
      const at = value.indexOf('$(', i);
      if (at === -1) {
        text += value.slice(i);
        break;
      }
      text += value.slice(i, at);
      EXPR.lastIndex = at;
      const m = EXPR.exec(value);
      if (m === null) {
        return `value '${value}' uses a template other than $(headers.NAME), $(query_params.NAME) or $(uri_captures.NAME): Kong runs those as Lua, which Floodgate does not run`;
      }
      if (text !== '') pieces.push({ source: Source.Text, text });
      text = '';
      const name = m[2] ?? m[3] ?? m[4];
      const source = m[1] === 'headers' ? Source.Header : m[1] === 'query_params' ? Source.Query : Source.Capture;
      pieces.push({ source, text: source === Source.Header ? name.toLowerCase().replace(/_/g, '-') : name });
      i = at + m[0].length;
    }
    if (text !== '') pieces.push({ source: Source.Text, text });
    return new Template(pieces);
  }

  render(ctx: PluginContext, query: URLSearchParams | null): string {
    if (this.constant !== null) return this.constant;
    let out = '';
    for (const p of this.#pieces) {
      switch (p.source) {
        case Source.Text:
          out += p.text;
          break;
        case Source.Header:
          out += ctx.request.header(p.text) ?? '';
          break;
        case Source.Query:
          out += (query ?? new URLSearchParams(ctx.request.query)).get(p.text) ?? '';
          break;
        default:
          out += ctx.pathCaptures?.[p.text] ?? '';
      }
    }
    return out;
  }

  get usesQuery(): boolean {
    return this.#pieces.some((p) => p.source === Source.Query);
  }
}
