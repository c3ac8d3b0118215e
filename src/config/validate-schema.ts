/** Validates the whole document against the entity schemas, writing Kong's defaults into it. */
import type { ValidateFunction } from 'ajv';
import { getAjv, translateAjvErrors } from './ajv';
import type { Issue } from './errors';
import { UNSUPPORTED_KONG_CREDENTIALS } from './schema/credentials';
import { DocumentSchema, KONG_KEY_REASONS, UNSUPPORTED_KONG_ENTITIES } from './schema/document';

let compiled: ValidateFunction | null = null;

/** Mutates `doc` (defaults). Returns one issue per problem. */
export function validateDocument(doc: unknown): Issue[] {
  compiled ??= getAjv().compile(DocumentSchema);
  if (compiled(doc)) return [];
  return translateAjvErrors(compiled.errors ?? [], doc, []).map((issue) => {
    // A Kong entity Floodgate lacks deserves a better word than "unknown".
    if (issue.at !== 'key') return issue;
    const key = String(issue.path[issue.path.length - 1]);
    const topLevel = issue.path.length === 1;
    const inConsumer = issue.path.length === 3 && issue.path[0] === 'consumers';
    if (topLevel && Object.hasOwn(KONG_KEY_REASONS, key)) return { ...issue, message: KONG_KEY_REASONS[key] };
    if (topLevel && UNSUPPORTED_KONG_ENTITIES.includes(key)) {
      return { ...issue, message: `"${key}" is a Kong entity that Floodgate does not support` };
    }
    if ((topLevel || inConsumer) && UNSUPPORTED_KONG_CREDENTIALS.includes(key)) {
      return { ...issue, message: `"${key}" is a Kong credential that Floodgate does not support (supported: keyauth_credentials, basicauth_credentials, jwt_secrets, acls, hmacauth_credentials)` };
    }
    return issue;
  });
}
