/** Config templates (bench/nginx/*.tmpl, bench/haproxy/*.tmpl): @NAME@ placeholders, all required. */
import { readFileSync } from 'node:fs';

export function render(templatePath: string, values: Record<string, string | number>): string {
  const text = readFileSync(templatePath, 'utf8').replace(/@([A-Z_]+)@/g, (whole, key: string) => {
    if (!(key in values)) throw new Error(`${templatePath}: no value for ${whole}`);
    return String(values[key]);
  });
  return text;
}
