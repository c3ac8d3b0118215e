/**
 * POST /config bodies, as Kong's DB-less `/config` takes them: the declarative config itself as
 * YAML or JSON, or wrapped as `{"config": "<yaml or json text>"}` (JSON) or `config=<text>`
 * (form-urlencoded). Whatever arrives ends up as text for the same loader the file goes through,
 * so errors carry the same field paths and line numbers (lines of the config text itself).
 */
export type ConfigBody = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly message: string };

export function configTextFromBody(body: string, contentType: string | undefined): ConfigBody {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (body.trim() === '') return { ok: false, message: 'the request body is empty; send the declarative config (YAML or JSON)' };
  if (type === 'application/x-www-form-urlencoded') {
    const config = new URLSearchParams(body).get('config');
    if (config === null) return { ok: false, message: 'a form body needs a "config" field holding the declarative config' };
    return { ok: true, text: config };
  }
  if (type === 'multipart/form-data') return { ok: false, message: 'multipart bodies are not supported; send the config as YAML, JSON or {"config": "..."}' };
  if (type === 'application/json' || body.trimStart().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      // Not valid JSON: the YAML loader reports where (JSON is YAML).
      return { ok: true, text: body };
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'config' in parsed && !('_format_version' in parsed)) {
      const inner = (parsed as { config: unknown }).config;
      if (typeof inner === 'string') return { ok: true, text: inner };
      if (inner !== null && typeof inner === 'object') return { ok: true, text: JSON.stringify(inner, null, 2) };
      return { ok: false, message: '"config" must be the declarative config as a string or an object' };
    }
  }
  return { ok: true, text: body };
}
