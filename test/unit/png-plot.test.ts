/**
 * The soak's PNG renderer (loadtest/lib/png-plot.ts): the file must be a valid PNG (signature,
 * chunk CRCs, a zlib stream that inflates to height rows of filter byte + RGB), and the chart must
 * actually draw the series in their colours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { crc32, encodePng, lineChart, niceStep, Raster } from '../../loadtest/lib/png-plot';

function chunks(png: Buffer): { type: string; data: Buffer }[] {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const out = [];
  let at = 8;
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    const crc = png.readUInt32BE(at + 8 + len);
    assert.equal(crc, (crc32(png.subarray(at + 4, at + 8 + len)) ^ 0xffffffff) >>> 0, `CRC of ${type}`);
    out.push({ type, data });
    at += 12 + len;
  }
  return out;
}

test('CRC-32 matches zlib\'s', () => {
  const data = Buffer.from('floodgate soak plot');
  assert.equal((crc32(data) ^ 0xffffffff) >>> 0, zlibCrc32(data));
});

test('encodePng: valid chunks, and the pixels come back out', () => {
  const r = new Raster(3, 2, [10, 20, 30]);
  r.set(1, 1, [200, 100, 50]);
  const c = chunks(encodePng(r));
  assert.deepEqual(c.map((x) => x.type), ['IHDR', 'IDAT', 'IEND']);
  assert.equal(c[0].data.readUInt32BE(0), 3);
  assert.equal(c[0].data.readUInt32BE(4), 2);
  const raw = inflateSync(c[1].data);
  assert.equal(raw.length, 2 * (1 + 3 * 3));
  assert.deepEqual([...raw.subarray(0, 4)], [0, 10, 20, 30]);
  assert.deepEqual([...raw.subarray(10 + 1 + 3, 10 + 1 + 6)], [200, 100, 50]);
});

test('lineChart draws each series in its colour', () => {
  const png = lineChart({
    title: 'test',
    xLabel: 'minutes',
    yLabel: 'MiB',
    width: 400,
    height: 300,
    series: [
      { name: 'a', color: [250, 0, 0], points: [[0, 10], [10, 20]] },
      { name: 'b', color: [0, 0, 250], points: [[0, 5], [10, 5]] },
    ],
  });
  const c = chunks(png);
  const raw = inflateSync(c[1].data);
  const count = (rgb: number[]) => {
    let n = 0;
    for (let i = 0; i + 2 < raw.length; i++) if (raw[i] === rgb[0] && raw[i + 1] === rgb[1] && raw[i + 2] === rgb[2]) n++;
    return n;
  };
  assert.ok(count([250, 0, 0]) > 100, 'series a drawn');
  assert.ok(count([0, 0, 250]) > 100, 'series b drawn');
});

test('niceStep gives 1, 2 or 5 times a power of ten', () => {
  assert.equal(niceStep(100, 10), 10);
  assert.equal(niceStep(30, 10), 5);
  assert.equal(niceStep(0.9, 8), 0.2);
});
