/** Turns issues (data paths) into the public ConfigError (entity label, field path, line, column). */
import { describeEntity, formatField, splitPath } from './entities';
import type { ConfigError, Issue } from './errors';
import type { Source } from './source';

export function toConfigErrors(issues: readonly Issue[], source: Source, doc: unknown): ConfigError[] {
  return issues.map((issue) => {
    const { entityPath, kind, fieldPath } = splitPath(issue.path);
    const pos = source.locate(issue.path, issue.at);
    let message = issue.message;
    if (issue.firstAt !== undefined) {
      const first = source.locate(issue.firstAt);
      if (first !== null) message += ` (first defined at line ${first.line})`;
    }
    return {
      entity: describeEntity(doc, entityPath, kind),
      field: formatField(fieldPath),
      line: pos?.line ?? null,
      column: pos?.column ?? null,
      message,
    };
  });
}
