/** Environment knobs and report stamps shared by the bench harnesses (ROUNDS=3 make bench-...). */

/** `process.env[name]`, or `fallback` when unset or empty. */
export function envString(name: string, fallback: string): string {
  return process.env[name] || fallback;
}

/** A non-negative integer from the environment; a bad value stops the bench with its name. */
export function envInt(name: string, fallback: number): number {
  const n = Number(envString(name, String(fallback)));
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected an integer`);
  return n;
}

/** `2026-11-22-031630`: local time, for report file names that sort by date. */
export function fileStamp(d: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
