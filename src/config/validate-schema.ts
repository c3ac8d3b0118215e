/** Validates the whole document against the entity schemas, writing Kong's defaults into it. */
import type { ValidateFunction } from 'ajv';
import { getAjv, translateAjvErrors } from './ajv';
import type { Issue } from './errors';
import { DocumentSchema, UNSUPPORTED_KONG_ENTITIES } from './schema/document';

let compiled: ValidateFunction | null = null;

/** Mutates `doc` (defaults). Returns one issue per problem. */
export function validateDocument(doc: unknown): Issue[] {
  compiled ??= getAjv().compile(DocumentSchema);
  if (compiled(doc)) return [];
  return translateAjvErrors(compiled.errors ?? [], doc, []).map((issue) => {
    // A Kong entity Floodgate lacks deserves a better word than "unknown".
    const key = issue.path[0];
    if (issue.path.length === 1 && issue.at === 'key' && UNSUPPORTED_KONG_ENTITIES.includes(String(key))) {
      return { ...issue, message: `"${String(key)}" is a Kong entity that Floodgate does not support` };
    }
    return issue;
  });
}
