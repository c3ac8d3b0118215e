/**
 * Kong's request-transformer: rewrites the request sent upstream. Kong's order, kept here:
 * replace.uri, http_method, headers, body, query string; within each, remove, rename, replace,
 * add, append.
 *
 * Headers and the query string are edited through the context (no body is touched). The body is
 * read only when the config has body operations and the request is JSON or form-encoded (as in
 * Kong; multipart bodies pass through unchanged), or when http_method turns a form POST into a
 * GET (Kong moves the form's fields into the query string). Only that path is asynchronous.
 */
import type { PluginConfig } from '../../config/types';
import { messageBody } from '../../util/status-messages';
import { Verdict, type PluginContext, type PluginDefinition, type PluginInstance } from '../api';
import { appendValue, decodeArgs, encodeArgs, isHeaderName, isPlainObject, luaTruthy, splitPair, type Args } from '../transform-common';
import { RequestTransformerSchema, type RequestTransformerConfig } from './schema';
import { Template } from './template';

/** What a transformed body may be; beyond it the client gets 413 (Kong would spool it to disk). */
export const MAX_TRANSFORMED_BODY = 16 * 1024 * 1024;

const JSON_TYPE = 'application/json; charset=utf-8';
const TOO_LARGE = messageBody('Request size limit exceeded');

const enum BodyKind {
  None = 0,
  Json = 1,
  Form = 2,
  Multipart = 3,
}

/** Kong's get_content_type: a substring test, in this order. */
function bodyKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return BodyKind.None;
  const t = contentType.toLowerCase();
  if (t.includes('application/json')) return BodyKind.Json;
  if (t.includes('multipart/form-data')) return BodyKind.Multipart;
  if (t.includes('application/x-www-form-urlencoded')) return BodyKind.Form;
  return BodyKind.None;
}

interface Op {
  readonly name: string;
  readonly value: Template;
}

interface Ops {
  readonly remove: readonly string[];
  readonly rename: readonly (readonly [string, string])[];
  readonly replace: readonly Op[];
  readonly add: readonly Op[];
  readonly append: readonly Op[];
  readonly any: boolean;
}

type Section = 'headers' | 'querystring' | 'body';

function compileOps(conf: RequestTransformerConfig, section: Section, lower: boolean): Ops {
  const name = (n: string) => (lower ? n.toLowerCase() : n);
  const op = (entry: string): Op => {
    const p = splitPair(entry);
    return { name: name(p.name), value: Template.compile(p.value) as Template };
  };
  const remove = conf.remove[section].map((e) => name(splitPair(e).name));
  const rename = conf.rename[section].map((e) => {
    const p = splitPair(e);
    return [name(p.name), lower ? p.value.toLowerCase() : p.value] as const;
  });
  const replace = conf.replace[section].map(op);
  const add = conf.add[section].map(op);
  const append = conf.append[section].map(op);
  return { remove, rename, replace, add, append, any: remove.length + rename.length + replace.length + add.length + append.length > 0 };
}

/** Load-time checks with Kong's messages: the field path is relative to `config`. */
function checkConfig(conf: RequestTransformerConfig): { path: string[]; message: string } | null {
  for (const verb of ['remove', 'rename', 'replace', 'add', 'append'] as const) {
    for (const section of ['headers', 'querystring', 'body'] as const) {
      const list = conf[verb][section];
      for (let i = 0; i < list.length; i++) {
        const entry = list[i];
        const at = [verb, section, String(i)];
        const { name, value } = splitPair(entry);
        if (section === 'headers' && !isHeaderName(name)) return { path: at, message: `'${name}' is not a valid header` };
        if (verb === 'remove') continue;
        if (section === 'headers' && !entry.includes(':')) return { path: at, message: `'${entry}' does not match the pattern "name:value"` };
        if (section !== 'headers' && value === '') return { path: at, message: `key '${name}' has no value` };
        if (verb === 'rename' && section === 'headers' && !isHeaderName(value)) return { path: at, message: `'${value}' is not a valid header` };
        if (verb !== 'rename') {
          const t = Template.compile(value);
          if (typeof t === 'string') return { path: at, message: t };
        }
      }
    }
  }
  if (conf.replace.uri !== null) {
    const t = Template.compile(conf.replace.uri);
    if (typeof t === 'string') return { path: ['replace', 'uri'], message: t };
  }
  return null;
}

export class RequestTransformer implements PluginInstance {
  readonly #method: string | null;
  readonly #uri: Template | null;
  readonly #headers: Ops;
  readonly #query: Ops;
  readonly #body: Ops;
  /** Header names any operation looks at: only those are gathered per request. */
  readonly #headerNames: readonly string[];

  constructor(conf: RequestTransformerConfig) {
    this.#method = conf.http_method;
    this.#uri = conf.replace.uri === null ? null : (Template.compile(conf.replace.uri) as Template);
    this.#headers = compileOps(conf, 'headers', true);
    this.#query = compileOps(conf, 'querystring', false);
    this.#body = compileOps(conf, 'body', false);
    const h = this.#headers;
    this.#headerNames = [...new Set([...h.remove, ...h.rename.flat(), ...h.replace.map((o) => o.name), ...h.add.map((o) => o.name), ...h.append.map((o) => o.name)])];
  }

  onRequest(ctx: PluginContext): Verdict | Promise<Verdict> {
    if (this.#uri !== null) ctx.setUpstreamPath(this.#uri.render(ctx, null));
    let moveFormToQuery = false;
    const method = this.#method;
    if (method !== null) {
      ctx.setUpstreamMethod(method);
      moveFormToQuery = (method === 'GET' || method === 'HEAD' || method === 'TRACE') && bodyKind(ctx.request.header('content-type')) === BodyKind.Form;
    }
    if (this.#headers.any) this.#transformHeaders(ctx);
    const kind = this.#body.any ? bodyKind(ctx.request.header('content-type')) : BodyKind.None;
    if (moveFormToQuery || kind === BodyKind.Json || kind === BodyKind.Form) {
      return ctx.readRequestBody(MAX_TRANSFORMED_BODY).then((body) => this.#withBody(ctx, body, kind, moveFormToQuery));
    }
    if (this.#query.any) this.#transformQuery(ctx, null);
    return Verdict.Continue;
  }

  #withBody(ctx: PluginContext, body: Buffer | null, kind: BodyKind, moveFormToQuery: boolean): Verdict {
    if (body === null) {
      ctx.respond(413, TOO_LARGE, JSON_TYPE, null);
      return Verdict.Stop;
    }
    let formArgs: Args | null = null;
    if (moveFormToQuery) formArgs = decodeArgs(body.toString('latin1'));
    if (kind === BodyKind.Json) {
      const out = this.#transformJson(ctx, body);
      if (out !== null) ctx.setUpstreamBody(out);
    } else if (kind === BodyKind.Form) {
      const out = this.#transformForm(ctx, body);
      if (out !== null) ctx.setUpstreamBody(out);
    }
    if (this.#query.any || (formArgs !== null && formArgs.size > 0)) this.#transformQuery(ctx, formArgs);
    return Verdict.Continue;
  }

  #transformHeaders(ctx: PluginContext): void {
    const req = ctx.request;
    const ops = this.#headers;
    // Current values of the names the operations touch (host is not part of Kong's table).
    const values = new Map<string, string[]>();
    for (const name of this.#headerNames) {
      if (name === 'host') continue;
      const found: string[] = [];
      for (let i = 0; i < req.headerNames.length; i++) if (req.headerNames[i] === name) found.push(req.headerValues[i]);
      if (found.length > 0) values.set(name, found);
    }
    const touched = new Set<string>();
    for (const name of ops.remove) {
      if (values.delete(name)) touched.add(name);
    }
    for (const [from, to] of ops.rename) {
      const v = values.get(from);
      if (v === undefined || from === to) continue;
      values.delete(from);
      values.set(to, v);
      touched.add(from).add(to);
    }
    for (const op of ops.replace) {
      if (op.name === 'host') {
        ctx.setUpstreamHeader('host', op.value.render(ctx, null));
        continue;
      }
      if (!values.has(op.name)) continue;
      values.set(op.name, [op.value.render(ctx, null)]);
      touched.add(op.name);
    }
    for (const op of ops.add) {
      if (op.name === 'host' || values.has(op.name)) continue;
      values.set(op.name, [op.value.render(ctx, null)]);
      touched.add(op.name);
    }
    for (const op of ops.append) {
      if (op.name === 'host') continue;
      const prior = values.get(op.name);
      const v = op.value.render(ctx, null);
      if (prior === undefined) values.set(op.name, [v]);
      else prior.push(v);
      touched.add(op.name);
    }
    for (const name of touched) {
      const v = values.get(name);
      // Several values travel as one comma-joined field (RFC 9110 §5.3): the same header to the upstream.
      if (v === undefined) ctx.removeUpstreamHeader(name);
      else ctx.setUpstreamHeader(name, v.join(', '));
    }
  }

  #transformQuery(ctx: PluginContext, formArgs: Args | null): void {
    const args = decodeArgs(ctx.request.query);
    if (formArgs !== null) {
      for (const [name, value] of formArgs) {
        const prior = args.get(name);
        if (prior === undefined) args.set(name, value);
        else args.set(name, [...toList(prior), ...toList(value)]);
      }
    }
    const ops = this.#query;
    for (const name of ops.remove) args.delete(name);
    for (const [from, to] of ops.rename) {
      const v = args.get(from);
      if (v === undefined || from === to) continue;
      args.delete(from);
      args.set(to, v);
    }
    for (const op of ops.replace) if (args.has(op.name)) args.set(op.name, op.value.render(ctx, null));
    for (const op of ops.add) if (!args.has(op.name)) args.set(op.name, op.value.render(ctx, null));
    for (const op of ops.append) {
      const prior = args.get(op.name);
      const v = op.value.render(ctx, null);
      args.set(op.name, prior === undefined || prior === true ? [v] : [...toList(prior), v]);
    }
    ctx.setUpstreamQuery(encodeArgs(args));
  }

  /** Kong's transform_json_body: null when nothing changed or the body is not a JSON object. */
  #transformJson(ctx: PluginContext, body: Buffer): Buffer | null {
    const ops = this.#body;
    const length = body.length;
    let params: Record<string, unknown>;
    if (length === 0) params = {};
    else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return null;
      }
      if (!isPlainObject(parsed)) return null;
      params = parsed;
    }
    let changed = false;
    if (length > 0) {
      for (const name of ops.remove) {
        delete params[name];
        changed = true;
      }
      for (const [from, to] of ops.rename) {
        if (from === to || !luaTruthy(params[from])) continue;
        params[to] = params[from];
        delete params[from];
        changed = true;
      }
      for (const op of ops.replace) {
        if (!luaTruthy(params[op.name])) continue;
        params[op.name] = op.value.render(ctx, null);
        changed = true;
      }
    }
    for (const op of ops.add) {
      if (luaTruthy(params[op.name])) continue;
      params[op.name] = op.value.render(ctx, null);
      changed = true;
    }
    for (const op of ops.append) {
      params[op.name] = appendValue(params[op.name], op.value.render(ctx, null));
      changed = true;
    }
    return changed ? Buffer.from(JSON.stringify(params)) : null;
  }

  /** Kong's transform_url_encoded_body. */
  #transformForm(ctx: PluginContext, body: Buffer): Buffer | null {
    const ops = this.#body;
    const length = body.length;
    const args = decodeArgs(body.toString('latin1'));
    let changed = false;
    if (length > 0) {
      for (const name of ops.remove) {
        args.delete(name);
        changed = true;
      }
      for (const [from, to] of ops.rename) {
        const v = args.get(from);
        if (v === undefined || from === to) continue;
        args.delete(from);
        args.set(to, v);
        changed = true;
      }
      for (const op of ops.replace) {
        if (!args.has(op.name)) continue;
        args.set(op.name, op.value.render(ctx, null));
        changed = true;
      }
    }
    for (const op of ops.add) {
      if (args.has(op.name)) continue;
      args.set(op.name, op.value.render(ctx, null));
      changed = true;
    }
    for (const op of ops.append) {
      const prior = args.get(op.name);
      const v = op.value.render(ctx, null);
      args.set(op.name, prior === undefined || prior === true ? [v] : [...toList(prior), v]);
      changed = true;
    }
    return changed ? Buffer.from(encodeArgs(args), 'latin1') : null;
  }
}

function toList(v: string | string[] | true): string[] {
  return v === true ? [] : typeof v === 'string' ? [v] : v;
}

export const requestTransformer: PluginDefinition<RequestTransformerConfig> = {
  name: 'request-transformer',
  priority: 801,
  version: '1.0.0',
  configSchema: RequestTransformerSchema,
  checkConfig,
  create: (conf: RequestTransformerConfig, _env, _entry?: PluginConfig) => new RequestTransformer(conf),
};
