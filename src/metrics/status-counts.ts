/**
 * Request counts by status code with no lookup for the common codes: a module-wide table maps a
 * code to its slot once, and each counter set is a small Float64Array. Rare codes (a 418, a 451)
 * go to a per-set Map created on first use.
 */
import type { CodeCounts } from './snapshot-types';

/** The codes a gateway answers most; 499 = the client went away before the response ended. */
const COMMON_CODES = [
  200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 422, 429, 431, 499,
  500, 502, 503, 504,
] as const;

const SLOT = new Int8Array(600).fill(-1);
for (let i = 0; i < COMMON_CODES.length; i++) SLOT[COMMON_CODES[i]] = i;

export class StatusCounts {
  readonly common = new Float64Array(COMMON_CODES.length);
  rare: Map<number, number> | null = null;

  add(code: number): void {
    const slot = code >= 0 && code < 600 ? SLOT[code] : -1;
    if (slot >= 0) this.common[slot]++;
    else this.#addRare(code);
  }

  #addRare(code: number): void {
    const rare = (this.rare ??= new Map());
    rare.set(code, (rare.get(code) ?? 0) + 1);
  }

  total(): number {
    let n = 0;
    for (let i = 0; i < this.common.length; i++) n += this.common[i];
    if (this.rare !== null) for (const v of this.rare.values()) n += v;
    return n;
  }

  toPairs(): CodeCounts {
    const out: CodeCounts = [];
    for (let i = 0; i < COMMON_CODES.length; i++) if (this.common[i] !== 0) out.push([COMMON_CODES[i], this.common[i]]);
    if (this.rare !== null) for (const [code, n] of this.rare) out.push([code, n]);
    return out;
  }
}
