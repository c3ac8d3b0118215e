/**
 * The methods of a `.proto` file, by the path a gRPC call takes (`/package.Service/Method`), with
 * their message types: what the grpc-web plugin's `proto` needs to transcode JSON to protobuf and
 * back. Parsed with protobufjs (field names kept as written, as Kong's lua-protobuf does; the
 * google/protobuf well-known imports are built in).
 *
 * Loading is cold-path work (config check, plugin create): one parse per file version, shared by
 * every snapshot that names the same unchanged file.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { Root, Service, Namespace, type Type, type ReflectionObject } from 'protobufjs';

export interface ProtoMethod {
  readonly input: Type;
  readonly output: Type;
}

export class ProtoCatalog {
  readonly file: string;
  readonly #methods: ReadonlyMap<string, ProtoMethod>;

  private constructor(file: string, methods: ReadonlyMap<string, ProtoMethod>) {
    this.file = file;
    this.#methods = methods;
  }

  /** The method a call path names (no query), or undefined. */
  method(callPath: string): ProtoMethod | undefined {
    return this.#methods.get(callPath);
  }

  get paths(): string[] {
    return [...this.#methods.keys()];
  }

  /** Parse `file` (relative to the working directory); throws an Error whose message says why. */
  static load(file: string): ProtoCatalog {
    const absolute = path.resolve(file);
    const stat = statSync(absolute);
    const key = `${stat.mtimeMs}:${stat.size}`;
    const cached = cache.get(absolute);
    if (cached !== undefined && cached.key === key) return cached.catalog;
    const root = new Root().loadSync(absolute, { keepCase: true });
    root.resolveAll();
    const methods = new Map<string, ProtoMethod>();
    collect(root, methods);
    if (methods.size === 0) throw new Error('it defines no service method');
    const catalog = new ProtoCatalog(absolute, methods);
    cache.set(absolute, { key, catalog });
    return catalog;
  }
}

const cache = new Map<string, { key: string; catalog: ProtoCatalog }>();

/**
 * For a plugin instance, which must not throw: the file as it is now, else the last version that
 * parsed in this thread (the file changed or vanished after the config check passed), else null.
 */
export function loadProtoOrLastGood(file: string): ProtoCatalog | null {
  try {
    return ProtoCatalog.load(file);
  } catch {
    return cache.get(path.resolve(file))?.catalog ?? null;
  }
}

function collect(ns: ReflectionObject, out: Map<string, ProtoMethod>): void {
  if (ns instanceof Service) {
    const name = ns.fullName.replace(/^\./, '');
    for (const m of ns.methodsArray) {
      // resolveAll() resolved every method's types, or threw.
      out.set(`/${name}/${m.name}`, { input: m.resolvedRequestType!, output: m.resolvedResponseType! });
    }
    return;
  }
  if (ns instanceof Namespace) for (const child of ns.nestedArray) collect(child, out);
}
