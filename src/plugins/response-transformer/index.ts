/**
 * Kong's response-transformer: edits the response headers (onResponse) and, when the config has
 * JSON operations and the response is application/json, the JSON body. Kong's order: remove,
 * rename, replace, add, append. Header conditions ("only if present") look at the upstream's
 * headers as they arrived, as Kong's do.
 *
 * A body transform buffers the whole body (a response body filter that rewrites), drops the
 * upstream's Content-Length and sends the result chunked, as Kong does. A body that is not JSON
 * is passed on unchanged.
 */
import { type PluginContext, type PluginDefinition, type PluginInstance, type ResponseBodyFilter } from '../api';
import { appendValue, isHeaderName, isPlainObject, luaTruthy, splitPair } from '../transform-common';
import { ResponseTransformerSchema, type ResponseTransformerConfig } from './schema';

type JsonType = 'boolean' | 'number' | 'string';

interface JsonOp {
  readonly name: string;
  /** The value as Kong's json_value leaves it: a string, or cast by json_types; undefined = skipped. */
  readonly value: unknown;
}

/** Kong's json_value: the configured string (with `\/` read as `/`), cast when a type is given. */
function jsonValue(raw: string, type: JsonType | undefined): unknown {
  const v = raw.replace(/\\\//g, '/');
  if (type === 'number') {
    const n = Number(v);
    return v.trim() === '' || !Number.isFinite(n) ? undefined : n;
  }
  if (type === 'boolean') return v === 'true';
  return v;
}

function jsonOps(entries: readonly string[], types: readonly JsonType[] | null): JsonOp[] {
  return entries.map((e, i) => {
    const p = splitPair(e);
    return { name: p.name, value: p.value === '' ? undefined : jsonValue(p.value, types?.[i]) };
  });
}

/** application/json in any of the comma-separated types (Kong's is_json_body). */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) {
    const media = part.split(';')[0].trim().toLowerCase();
    if (media === 'application/json') return true;
  }
  return false;
}

function checkConfig(conf: ResponseTransformerConfig): { path: string[]; message: string } | null {
  for (const verb of ['rename'] as const) {
    const list = conf[verb].headers;
    for (let i = 0; i < list.length; i++) {
      const { name, value } = splitPair(list[i]);
      for (const n of [name, value]) if (!isHeaderName(n)) return { path: [verb, 'headers', String(i)], message: `'${n}' is not a valid header` };
    }
  }
  return null;
}

class JsonBodyRewrite implements ResponseBodyFilter {
  readonly #plugin: ResponseTransformer;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(plugin: ResponseTransformer) {
    this.#plugin = plugin;
  }

  onChunk(chunk: Buffer): null {
    this.#chunks.push(Buffer.from(chunk));
    this.#bytes += chunk.length;
    return null;
  }

  onEnd(): Buffer {
    const body = Buffer.concat(this.#chunks, this.#bytes);
    return this.#plugin.transformJson(body) ?? body;
  }
}

export class ResponseTransformer implements PluginInstance {
  readonly #removeHeaders: readonly string[];
  readonly #renameHeaders: readonly (readonly [string, string])[];
  readonly #replaceHeaders: readonly (readonly [string, string])[];
  readonly #addHeaders: readonly (readonly [string, string])[];
  readonly #appendHeaders: readonly (readonly [string, string])[];
  readonly #removeJson: readonly string[];
  readonly #renameJson: readonly (readonly [string, string])[];
  readonly #replaceJson: readonly JsonOp[];
  readonly #addJson: readonly JsonOp[];
  readonly #appendJson: readonly JsonOp[];
  readonly #bodyTransform: boolean;

  constructor(conf: ResponseTransformerConfig) {
    const pairs = (list: readonly string[]) => list.map((e) => splitPair(e)).filter((p) => p.value !== '').map((p) => [p.name, p.value] as const);
    this.#removeHeaders = conf.remove.headers.map((n) => splitPair(n).name);
    this.#renameHeaders = pairs(conf.rename.headers);
    this.#replaceHeaders = pairs(conf.replace.headers);
    this.#addHeaders = pairs(conf.add.headers);
    this.#appendHeaders = pairs(conf.append.headers);
    this.#removeJson = conf.remove.json.map((n) => splitPair(n).name);
    this.#renameJson = pairs(conf.rename.json);
    this.#replaceJson = jsonOps(conf.replace.json, conf.replace.json_types);
    this.#addJson = jsonOps(conf.add.json, conf.add.json_types);
    this.#appendJson = jsonOps(conf.append.json, conf.append.json_types);
    this.#bodyTransform =
      conf.remove.json.length + conf.rename.json.length + conf.replace.json.length + conf.add.json.length + conf.append.json.length > 0;
  }

  onResponse(ctx: PluginContext): void {
    for (const name of this.#removeHeaders) ctx.removeResponseHeader(name);
    for (const [from, to] of this.#renameHeaders) {
      const v = ctx.responseHeader(from.toLowerCase());
      if (v === undefined) continue;
      ctx.setResponseHeader(to, v);
      ctx.removeResponseHeader(from);
    }
    for (const [name, value] of this.#replaceHeaders) if (ctx.responseHeader(name.toLowerCase()) !== undefined) ctx.setResponseHeader(name, value);
    for (const [name, value] of this.#addHeaders) if (ctx.responseHeader(name.toLowerCase()) === undefined) ctx.setResponseHeader(name, value);
    for (const [name, value] of this.#appendHeaders) ctx.addResponseHeader(name, value);
    if (this.#bodyTransform && isJsonContentType(ctx.responseHeader('content-type'))) ctx.filterResponseBody(new JsonBodyRewrite(this), true);
  }

  /** Kong's transform_json_body; null when the body is not a JSON object (sent unchanged). */
  transformJson(body: Buffer): Buffer | null {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return null;
    }
    if (!isPlainObject(json)) return null;
    for (const name of this.#removeJson) delete json[name];
    for (const [from, to] of this.#renameJson) {
      if (json[from] === undefined) continue;
      const v = json[from];
      delete json[from];
      json[to] = v;
    }
    for (const op of this.#replaceJson) if (luaTruthy(json[op.name]) && op.value !== undefined) json[op.name] = op.value;
    for (const op of this.#addJson) if (!luaTruthy(json[op.name]) && op.value !== undefined) json[op.name] = op.value;
    for (const op of this.#appendJson) if (op.value !== undefined) json[op.name] = appendValue(json[op.name], op.value);
    return Buffer.from(JSON.stringify(json));
  }
}

export const responseTransformer: PluginDefinition<ResponseTransformerConfig> = {
  name: 'response-transformer',
  priority: 800,
  version: '1.0.0',
  configSchema: ResponseTransformerSchema,
  checkConfig,
  create: (conf) => new ResponseTransformer(conf),
};
