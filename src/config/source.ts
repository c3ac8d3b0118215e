/**
 * The YAML (or JSON: JSON is YAML) source: parsing with positions, and finding where a data path
 * is written so that every error can carry a line and column.
 */
import { isAlias, isCollection, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Path } from './errors';

export interface Position {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

export interface SyntaxProblem {
  readonly message: string;
  readonly position: Position | null;
}

export class Source {
  readonly #doc: Document.Parsed;
  readonly #lines: LineCounter;

  private constructor(doc: Document.Parsed, lines: LineCounter) {
    this.#doc = doc;
    this.#lines = lines;
  }

  /** Parses `text`; syntax errors come back as problems with the parser's own positions. */
  static parse(text: string): { source: Source; problems: SyntaxProblem[] } {
    const lines = new LineCounter();
    // prettyErrors off: we print our own `file:line:col:` prefix and want the bare message.
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, keepSourceTokens: false });
    const source = new Source(doc, lines);
    const problems = doc.errors.map((e) => ({ message: withoutSourceText(e.message), position: source.positionOf(e.pos[0]) }));
    return { source, problems };
  }

  /** The document as plain JS data. Throws on alias bombs (the caller reports it). */
  toData(): unknown {
    return this.#doc.toJS({ maxAliasCount: 1000 });
  }

  positionOf(offset: number): Position {
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col, offset };
  }

  /**
   * Where `path` is written. `at: 'key'` points at the key of the last segment (for unknown
   * fields). For a missing path (a required field that is absent) this is the closest existing
   * ancestor, which is the entity that lacks the field.
   */
  locate(path: Path, at: 'key' | 'value' = 'value'): Position | null {
    let node: Node | null = this.#doc.contents;
    let key: Node | null = null;
    let complete = true;
    for (const seg of path) {
      const step = this.#child(node, seg);
      if (step === null) {
        complete = false;
        break;
      }
      node = step.value;
      key = step.key;
    }
    if (complete && key !== null && (at === 'key' || node === null || this.#keyReadsBetter(key, node))) {
      return this.#start(key);
    }
    return node === null ? null : this.#start(node);
  }

  /** Source offset of the node at `path`, used to order entities as written. */
  offsetOf(path: Path): number {
    return this.locate(path)?.offset ?? Number.MAX_SAFE_INTEGER;
  }

  #child(node: Node | null, seg: string | number): { key: Node | null; value: Node | null } | null {
    if (node !== null && isAlias(node)) node = (node.resolve(this.#doc) as Node | undefined) ?? null;
    if (node === null) return null;
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = pair.key as Node | null;
        const name = isScalar(k) ? String(k.value) : String(k);
        if (name === String(seg)) return { key: k, value: derefer(this.#doc, pair.value as Node | null) };
      }
      return null;
    }
    if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      return item === undefined ? null : { key: null, value: derefer(this.#doc, item) };
    }
    return null;
  }

  /**
   * A block collection starts on the line after its key, and an empty value has no text at all;
   * in both cases the key's line is the one the user expects to see.
   */
  #keyReadsBetter(key: Node, value: Node): boolean {
    if (!value.range) return true;
    if (isScalar(value) && value.range[0] === value.range[1]) return true;
    if (!isCollection(value) || !key.range) return false;
    return this.positionOf(value.range[0]).line !== this.positionOf(key.range[0]).line;
  }

  #start(node: Node): Position | null {
    return node.range ? this.positionOf(node.range[0]) : null;
  }
}

function derefer(doc: Document.Parsed, node: Node | null): Node | null {
  if (node !== null && isAlias(node)) return (node.resolve(doc) as Node | undefined) ?? null;
  return node;
}

/**
 * The parser quotes source text in a few messages (an unexpected token, an unresolved alias, a
 * bad block scalar header or escape). That text can be a secret (a password the parser choked
 * on), and the reported position points at it anyway, so it is dropped.
 */
export function withoutSourceText(message: string): string {
  return message
    .replace(/^(Unexpected [\w-]+ token in YAML stream): .*$/s, '$1')
    .replace(/^(Unresolved alias \(the anchor must be set before the alias\)): .*$/s, '$1')
    .replace(/^(Block scalar header includes extra characters): .*$/s, '$1')
    .replace(/^(Invalid escape sequence) .*$/s, '$1');
}
