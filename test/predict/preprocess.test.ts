/**
 * predict feeds a face to the model exactly as training feeds a FER2013 image: a FER2013 image written as a PNG and
 * run through predict's path with the whole image as the face gives the very pixels of its dataset row and the very
 * float32 tensor training's `writeImage` makes of that row, and the same probabilities as evaluation's
 * `predictLogits`. Also the crop geometry, by hand-worked examples.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/select';
import { IMAGE_PIXELS, USAGES } from '../../src/data/classes';
import { loadDataset } from '../../src/data/dataset';
import { writeImage } from '../../src/data/preprocess';
import { predictLogits, softmaxRows } from '../../src/eval/predict';
import { modelInput } from '../../src/predict/faces';
import { faceCropBox } from '../../src/predict/geometry';
import { predictImage } from '../../src/predict/image';
import { loadPredictModel } from '../../src/predict/model';
import { tempDir } from '../helpers/fixtures';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipTest } from '../helpers/skip';
import { writeModelFolder } from './helpers';

test('faceCropBox: square of the longer side x (1 + 2 margin), centred, moved inside the image, clipped only when too big', () => {
  // box 80x120 centred at (140, 110); side round(120 * 1.1) = 132; left round(140 - 66) = 74, top round(110 - 66) = 44
  assert.equal(faceCropBox({ left: 100, top: 50, width: 80, height: 120 }, 1000, 800, 0.05), { left: 74, top: 44, width: 132, height: 132 });
  // margin 0: side 120 -> left 140 - 60 = 80, top 110 - 60 = 50
  assert.equal(faceCropBox({ left: 100, top: 50, width: 80, height: 120 }, 1000, 800, 0), { left: 80, top: 50, width: 120, height: 120 });
  // at the top-left corner: side 40 * 1.5 = 60, centre (20, 30) would start at (-10, 0): moved to (0, 0)
  assert.equal(faceCropBox({ left: 0, top: 10, width: 40, height: 40 }, 200, 200, 0.25), { left: 0, top: 0, width: 60, height: 60 });
  // at the bottom-right corner: side 30, centre (190, 190) would end at 205: moved to start at 200 - 30 = 170
  assert.equal(faceCropBox({ left: 180, top: 180, width: 20, height: 20 }, 200, 200, 0.25), { left: 170, top: 170, width: 30, height: 30 });
  // side 150 * 1.2 = 180 exceeds both sides of a 120x100 image: the whole image
  assert.equal(faceCropBox({ left: 0, top: 0, width: 100, height: 150 }, 120, 100, 0.1), { left: 0, top: 0, width: 120, height: 100 });
  // larger than the height only: full height, width 90 placed around the centre x = 100 -> 55
  assert.equal(faceCropBox({ left: 70, top: 5, width: 60, height: 90 }, 300, 80, 0), { left: 55, top: 0, width: 90, height: 80 });
  assert.throws(() => faceCropBox({ left: 0, top: 0, width: 0, height: 10 }, 100, 100), /positive size.*"width":0/);
  assert.throws(() => faceCropBox({ left: 0, top: 0, width: 10, height: 10 }, 100, 100, -0.1), /margin must be >= 0, got -0.1/);
});

const dataDir = realDataDir();
if (!dataDir) skipTest('a FER2013 image as a PNG gives the training tensor of its row', noRealDataReason());
else
  test('a FER2013 image as a PNG, through predict with the whole image as the face, gives the training tensor of its row', async () => {
    await initBackend('wasm');
    const ds = await loadDataset({ dataDir, cacheDir: tempDir() });
    const privateTest = USAGES.indexOf('PrivateTest');
    const testRows = Array.from({ length: ds.n }, (_, i) => i).filter((i) => ds.usage[i] === privateTest);
    const rows = Array.from({ length: 16 }, (_, k) => testRows[Math.floor((k * testRows.length) / 16)]); // spread over PrivateTest
    const pm = await loadPredictModel(await writeModelFolder(tempDir(), { model: 'baseline' }));
    const dir = tempDir();
    const inputs = new Float32Array(rows.length * IMAGE_PIXELS);
    const probs: number[][] = [];
    for (const [k, row] of rows.entries()) {
      const png = join(dir, `row${row}.png`);
      await sharp(Buffer.from(ds.pixels.subarray(row * IMAGE_PIXELS, (row + 1) * IMAGE_PIXELS)), { raw: { width: 48, height: 48, channels: 1 } })
        .png()
        .toFile(png);
      const r = await predictImage(pm, png, { detect: false });
      assert.is(r.faces.length, 1, 'the whole image is one face');
      assert.equal([r.width, r.height], [48, 48]);
      const face = r.faces[0];
      assert.equal(Array.from(face.pixels), Array.from(ds.pixels.subarray(row * IMAGE_PIXELS, (row + 1) * IMAGE_PIXELS)), `row ${row}: the same 48x48 pixels`);
      // the model input predict builds from them, against training's writeImage on the dataset row and pixel / 255
      const x = modelInput(face.pixels);
      const train = new Float32Array(IMAGE_PIXELS);
      writeImage(ds.pixels, row, train, 0);
      assert.equal(Array.from(x), Array.from(train), `row ${row}: the same float32 tensor as training`);
      for (let i = 0; i < IMAGE_PIXELS; i++)
        if (x[i] !== Math.fround(ds.pixels[row * IMAGE_PIXELS + i] / 255)) assert.unreachable(`row ${row} pixel ${i}: ${x[i]} != pixel / 255`);
      inputs.set(x, k * IMAGE_PIXELS);
      probs.push(pm.meta.classes.map((c) => face.probabilities[c]));
    }
    // evaluation's path on the dataset rows gives the same probabilities
    const C = pm.meta.classes.length;
    const evalProbs = softmaxRows(predictLogits(pm.model, ds.pixels, Int32Array.from(rows)), C);
    for (let k = 0; k < rows.length; k++)
      for (let c = 0; c < C; c++)
        assert.ok(
          Math.abs(probs[k][c] - evalProbs[k * C + c]) < 1e-6,
          `row ${rows[k]} class ${c}: predict ${probs[k][c]} vs evaluation ${evalProbs[k * C + c]}`,
        );
  });

test.run();
