/**
 * A line chart as a PNG, with no dependency: an RGB raster, Bresenham lines, a 5x7 bitmap font
 * for the labels, and a PNG encoder (node:zlib for the deflate stream, our own CRC-32). Enough for
 * the soak's memory-over-time plot; not a plotting library.
 *
 * Why not a dependency: node-canvas needs Cairo and a native build, and the pure-JS chart
 * renderers pull in a DOM or a font stack; the whole job here is a few hundred lines.
 */
import { deflateSync } from 'node:zlib';

export type Rgb = readonly [number, number, number];

// ---------------------------------------------------------------------------------------- raster

export class Raster {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;

  constructor(width: number, height: number, background: Rgb = [255, 255, 255]) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(c, (y * this.width + x) * 3);
  }

  fill(x0: number, y0: number, w: number, h: number, c: Rgb): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, c);
  }

  /** Bresenham; `thick` 2 draws the line twice, one pixel apart (readable at a glance). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thick = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.set(x0, y0, c);
      if (thick > 1) {
        this.set(x0, y0 + 1, c);
        this.set(x0 + 1, y0, c);
      }
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  dashedVLine(x: number, y0: number, y1: number, c: Rgb): void {
    for (let y = y0; y <= y1; y++) if ((y >> 2) % 2 === 0) this.set(x, y, c);
  }

  /** Text in the 5x7 font, top-left at (x, y); `scale` 2 doubles it. Returns the width drawn. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): number {
    let cx = x;
    for (const ch of s) {
      const glyph = FONT[ch] ?? FONT[ch.toUpperCase()] ?? FONT['?'];
      for (let row = 0; row < 7; row++) {
        const bits = glyph[row];
        for (let col = 0; col < 5; col++) if (bits & (16 >> col)) this.fill(cx + col * scale, y + row * scale, scale, scale, c);
      }
      cx += 6 * scale;
    }
    return cx - x;
  }
}

export function textWidth(s: string, scale = 1): number {
  return s.length * 6 * scale;
}

/** 5x7 glyphs, one 5-bit row each (bit 4 = leftmost). Lower case is drawn as upper case. */
const FONT: Record<string, readonly number[]> = {
  ' ': [0, 0, 0, 0, 0, 0, 0],
  '0': [14, 17, 19, 21, 25, 17, 14],
  '1': [4, 12, 4, 4, 4, 4, 14],
  '2': [14, 17, 1, 2, 4, 8, 31],
  '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2],
  '5': [31, 16, 30, 1, 1, 17, 14],
  '6': [6, 8, 16, 30, 17, 17, 14],
  '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14],
  '9': [14, 17, 17, 15, 1, 2, 12],
  A: [14, 17, 17, 31, 17, 17, 17],
  B: [30, 17, 17, 30, 17, 17, 30],
  C: [14, 17, 16, 16, 16, 17, 14],
  D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31],
  F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15],
  H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14],
  J: [7, 2, 2, 2, 2, 18, 12],
  K: [17, 18, 20, 24, 20, 18, 17],
  L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17],
  N: [17, 17, 25, 21, 19, 17, 17],
  O: [14, 17, 17, 17, 17, 17, 14],
  P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13],
  R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30],
  T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4],
  W: [17, 17, 17, 21, 21, 21, 10],
  X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4],
  Z: [31, 1, 2, 4, 8, 16, 31],
  '.': [0, 0, 0, 0, 0, 12, 12],
  ',': [0, 0, 0, 0, 12, 4, 8],
  ':': [0, 12, 12, 0, 12, 12, 0],
  '-': [0, 0, 0, 31, 0, 0, 0],
  '+': [0, 4, 4, 31, 4, 4, 0],
  '/': [0, 1, 2, 4, 8, 16, 0],
  '(': [2, 4, 8, 8, 8, 4, 2],
  ')': [8, 4, 2, 2, 2, 4, 8],
  '=': [0, 0, 31, 0, 31, 0, 0],
  '%': [24, 25, 2, 4, 8, 19, 3],
  '–': [0, 0, 0, 31, 0, 0, 0],
  '±': [4, 4, 31, 4, 4, 0, 31],
  '?': [14, 17, 1, 2, 4, 0, 4],
};

// ------------------------------------------------------------------------------------------- PNG

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array, crc = 0xffffffff): number {
  for (let i = 0; i < buf.length; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return crc;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  const crc = crc32(out.subarray(4, 8 + data.length)) ^ 0xffffffff;
  out.writeUInt32BE(crc >>> 0, 8 + data.length);
  return out;
}

/** 8-bit RGB, no interlace, filter 0 on every row. */
export function encodePng(r: Raster): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(r.width, 0);
  ihdr.writeUInt32BE(r.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const stride = r.width * 3;
  const raw = Buffer.alloc((stride + 1) * r.height);
  for (let y = 0; y < r.height; y++) {
    raw[y * (stride + 1)] = 0;
    Buffer.from(r.pixels.buffer, r.pixels.byteOffset + y * stride, stride).copy(raw, y * (stride + 1) + 1);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

// ----------------------------------------------------------------------------------------- chart

export interface Series {
  readonly name: string;
  readonly color: Rgb;
  /** [x, y] in data units, x ascending. */
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** A dashed vertical line (e.g. where the judged window starts), with its label. */
  readonly marker?: { readonly x: number; readonly label: string };
  readonly width?: number;
  readonly height?: number;
}

/** 1, 2 or 5 times a power of ten, so that about `target` ticks span `range`. */
export function niceStep(range: number, target: number): number {
  if (!(range > 0)) return 1;
  const raw = range / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

function fmtTick(v: number, step: number): string {
  const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return v.toFixed(digits);
}

const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];

export function lineChart(o: ChartOptions): Buffer {
  const W = o.width ?? 1000;
  const H = o.height ?? 560;
  const left = 70;
  const right = 20;
  const top = 40;
  const legendRows = Math.ceil(o.series.length / 3);
  const bottom = 50 + legendRows * 14;
  const r = new Raster(W, H);
  const all = o.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let xMin = Math.min(0, ...xs, o.marker?.x ?? Infinity);
  let xMax = Math.max(...xs, o.marker?.x ?? -Infinity);
  let yMin = Math.min(0, ...ys);
  let yMax = Math.max(...ys);
  if (!Number.isFinite(xMin) || xMin === xMax) (xMin = 0), (xMax = Math.max(1, xMax));
  if (!Number.isFinite(yMax) || yMax <= yMin) yMax = yMin + 1;
  const yStep = niceStep(yMax - yMin, 8);
  yMax = Math.ceil(yMax / yStep) * yStep;
  yMin = Math.floor(yMin / yStep) * yStep;
  const xStep = niceStep(xMax - xMin, 10);
  const pw = W - left - right;
  const ph = H - top - bottom;
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * pw;
  const py = (y: number) => top + ph - ((y - yMin) / (yMax - yMin)) * ph;

  r.text(left, 12, o.title, INK, 2);
  for (let y = yMin; y <= yMax + yStep / 2; y += yStep) {
    r.line(left, py(y), left + pw, py(y), GRID);
    const label = fmtTick(y, yStep);
    r.text(left - 6 - textWidth(label), py(y) - 3, label, INK);
  }
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax + xStep / 2; x += xStep) {
    r.line(px(x), top, px(x), top + ph, GRID);
    const label = fmtTick(x, xStep);
    r.text(px(x) - textWidth(label) / 2, top + ph + 6, label, INK);
  }
  r.line(left, top, left, top + ph, INK);
  r.line(left, top + ph, left + pw, top + ph, INK);
  r.text(left + pw / 2 - textWidth(o.xLabel) / 2, top + ph + 20, o.xLabel, INK);
  r.text(4, top - 14, o.yLabel, INK);
  if (o.marker !== undefined) {
    r.dashedVLine(Math.round(px(o.marker.x)), top, top + ph, [120, 120, 120]);
    r.text(px(o.marker.x) + 4, top + 4, o.marker.label, [90, 90, 90]);
  }
  for (const s of o.series) {
    for (let i = 1; i < s.points.length; i++) {
      const [x0, y0] = s.points[i - 1];
      const [x1, y1] = s.points[i];
      r.line(px(x0), py(y0), px(x1), py(y1), s.color, 2);
    }
    if (s.points.length === 1) r.fill(px(s.points[0][0]) - 1, py(s.points[0][1]) - 1, 3, 3, s.color);
  }
  const colW = Math.floor(pw / 3);
  o.series.forEach((s, i) => {
    const lx = left + (i % 3) * colW;
    const ly = top + ph + 36 + Math.floor(i / 3) * 14;
    r.fill(lx, ly + 2, 18, 3, s.color);
    r.text(lx + 24, ly, s.name, INK);
  });
  return encodePng(r);
}
