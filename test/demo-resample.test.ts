/**
 * The browser demo's own 48x48 conversion (src/demo/resample.ts, for pages without sharp) against sharp's, which
 * training data and `predict` use (src/data/image.ts toFerPixels): same crops of real photos, nearly the same pixels.
 * Plus properties of the Lanczos-3 resize checked by hand: constants stay constant, 48 -> 48 is the identity.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import sharp from 'sharp';
import { toFerPixels } from '../src/data/image';
import { ferPixelsFromRgba, grayFromRgba, resizeLanczos3 } from '../src/demo/resample';
import { pixelDiff, samplesDir } from './predict/helpers';

test('grayscale: within one grey level of sharp/libvips on a real photo', async () => {
  const f = join(samplesDir, 'sample1.jpg');
  const rgba = await sharp(f).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const gray = await sharp(f).grayscale().raw().toBuffer({ resolveWithObject: true });
  assert.is(gray.info.channels, 1);
  const mine = grayFromRgba(rgba.data, rgba.info.width, rgba.info.height).map(Math.round);
  const d = pixelDiff(mine, gray.data);
  assert.ok(d.max <= 1, `max |diff| ${d.max} grey levels`);
  assert.ok(d.mean < 0.2, `mean |diff| ${d.mean.toFixed(3)}`);
});

test('resize: constant images stay constant; 48x48 -> 48x48 is the identity', () => {
  const c = new Float32Array(97 * 61).fill(123.5);
  for (const v of resizeLanczos3(c, 97, 61, 48, 48)) assert.ok(Math.abs(v - 123.5) < 1e-3, `constant kept: ${v}`);
  const img = Float32Array.from({ length: 48 * 48 }, (_, i) => (i * 37) % 256);
  assert.equal(
    Array.from(resizeLanczos3(img, 48, 48, 48, 48)).map((v) => Math.round(v * 1000) / 1000),
    Array.from(img),
  );
});

test('face crops of real photos: the page gives what toFerPixels gives, within a few grey levels', async () => {
  const crops: Array<[string, { left: number; top: number; width: number; height: number }]> = [
    ['sample1.jpg', { left: 380, top: 355, width: 245, height: 245 }],
    ['sample1.jpg', { left: 820, top: 420, width: 240, height: 240 }],
    ['sample5.jpg', { left: 773, top: 99, width: 233, height: 233 }],
    ['sample6.jpg', { left: 1170, top: 290, width: 330, height: 330 }],
    ['sample6.jpg', { left: 1210, top: 400, width: 40, height: 40 }], // upscaling (an eye)
  ];
  for (const [name, crop] of crops) {
    const f = join(samplesDir, name);
    const expected = (await toFerPixels(f, crop)).pixels;
    const region = await sharp(f).extract(crop).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const d = pixelDiff(ferPixelsFromRgba(region.data, region.info.width, region.info.height), expected);
    assert.ok(d.mean < 1 && d.max <= 4, `${name} ${JSON.stringify(crop)}: mean |diff| ${d.mean.toFixed(2)}, max ${d.max}`);
    // and it can tell: a crop 5% to the right is far off
    const moved = await sharp(f)
      .extract({ ...crop, left: crop.left + Math.max(2, Math.round(crop.width * 0.05)) })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const off = pixelDiff(ferPixelsFromRgba(moved.data, moved.info.width, moved.info.height), expected);
    assert.ok(off.mean > 4 * d.mean, `${name}: a moved crop differs more (${off.mean.toFixed(2)} vs ${d.mean.toFixed(2)})`);
  }
});

test.run();
