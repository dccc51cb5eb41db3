/**
 * Folder datasets made from real FER2013 rows (the first 1,400 Training, 350 PublicTest and 350 PrivateTest rows of
 * fer2013.csv, about 200 images per class folder): the Kaggle layout as PNG reads back pixel-exact with the CSV's
 * labels and Usage; the same quick training run on the CSV and on the folder gives the same accuracy; JPEG and
 * colour/upscaled copies read back within the error of their encoding.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { IMAGE_PIXELS, loadDataset, writeFolderCopy, type FerDataset } from '../../src/data';
import { loadExperiment, runExperiment } from '../../src/exp/experiment';
import { noRealDataReason, realDataDir } from '../helpers/realdata';
import { skipFile } from '../helpers/skip';
import { tempDir } from '../helpers/fixtures';
import { encode, writeTree } from './folder-fixtures';

const dataDir = realDataDir();
if (!dataDir) skipFile(noRealDataReason());

/** CSV rows of the copy: first rows of each Usage (Training 0-28708, PublicTest 28709-32297, PrivateTest 32298-35886). */
const ROWS = [
  ...Array.from({ length: 1400 }, (_, i) => i),
  ...Array.from({ length: 350 }, (_, i) => 28709 + i),
  ...Array.from({ length: 350 }, (_, i) => 32298 + i),
];
const csvRow = (file: string) => Number(/_(\d+)\.\w+$/.exec(file)![1]);

let csv: FerDataset;
let pngDir = '';

if (dataDir) {
  test('PNG copy in the Kaggle layout: pixel-exact vs the CSV, same labels, Usage restored from file names, CSV row order', async () => {
    csv = await loadDataset({ dataDir });
    pngDir = join(tempDir(), 'fer2013-png');
    assert.is(await writeFolderCopy(csv, pngDir, { rows: ROWS }), ROWS.length);
    writeTree(pngDir, { 'README.txt': 'FER2013 subset', 'train/angry/.DS_Store': 'x' });
    const ds = await loadDataset({ dataDir: pngDir, cacheDir: tempDir() });
    assert.is(ds.n, ROWS.length);
    assert.is(ds.source.folder!.ignored.count, 2);
    assert.ok(ds.source.folder!.usageFromNames);
    assert.equal(ds.source.folder!.perSplit, { train: 1400, val: 350, test: 350 });
    const rows = ds.files!.map(csvRow);
    assert.equal(rows, ROWS, 'rows in fer2013.csv order (Training, PublicTest, PrivateTest)');
    let differing = 0;
    rows.forEach((r, i) => {
      const a = ds.pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS);
      const b = csv.pixels.subarray(r * IMAGE_PIXELS, (r + 1) * IMAGE_PIXELS);
      if (a.some((v, k) => v !== b[k])) differing++;
      assert.is(ds.emotion[i], csv.emotion[r], `${ds.files![i]}: label`);
      assert.is(ds.usage[i], csv.usage[r], `${ds.files![i]}: usage`);
    });
    assert.is(differing, 0, 'images whose pixels differ from the CSV');
    const perFolder = ds.source.folder!.classMap.map((m) => m.images);
    assert.ok(
      perFolder.every((n) => n >= 20),
      `images per class folder: ${perFolder}`,
    );
  });

  test('the same quick run on the CSV and on its PNG folder copy: identical test accuracy and confusion matrix', async () => {
    const overrides = ['epochs=1', 'slice.train=640', 'slice.val=200', 'slice.test=200'];
    const opts = { quick: true, overrides, only: ['baseline-fer'], workers: 1, runsDir: tempDir(), log: () => {} };
    const fromCsv = await runExperiment(loadExperiment('default'), { ...opts, dataDir });
    const fromFolder = await runExperiment(loadExperiment('default'), { ...opts, dataDir: pngDir, cacheDir: tempDir() });
    const [a, b] = [fromCsv.runs[0], fromFolder.runs[0]];
    assert.equal(b.sizes, a.sizes);
    assert.equal(b.sizes, { train: 640, val: 200, test: 200 });
    assert.is(b.test.accuracy, a.test.accuracy, 'PrivateTest accuracy');
    assert.is(b.val.accuracy, a.val.accuracy, 'PublicTest accuracy');
    assert.equal(b.test.confusion, a.test.confusion);
    const predicted = a.test.confusion[0].map((_, c) => a.test.confusion.reduce((s, r) => s + r[c], 0)).filter((n) => n > 0).length;
    assert.ok(predicted >= 2, `a model that predicts more than one class (${predicted}), so equal scores say something`);
  });

  test('JPEG and colour (RGB, upscaled to 96x96) copies: same labels and splits, pixels within the encoding error', async () => {
    const rows = ROWS.filter((_, k) => k % 7 === 0); // 300 images
    const jpgDir = join(tempDir(), 'fer2013-jpg');
    await writeFolderCopy(csv, jpgDir, { rows, format: 'jpeg', quality: 95 });
    // colour: R = G = B = the gray value, each pixel repeated 2x2 (96x96), written by hand here
    const colourDir = join(tempDir(), 'fer2013-rgb');
    const files: Record<string, Buffer> = {};
    for (const r of rows) {
      const rgb = new Uint8Array(96 * 96 * 3);
      for (let y = 0; y < 96; y++)
        for (let x = 0; x < 96; x++) rgb.fill(csv.pixels[r * IMAGE_PIXELS + (y >> 1) * 48 + (x >> 1)], (y * 96 + x) * 3, (y * 96 + x) * 3 + 3);
      const usage = ['Training', 'PublicTest', 'PrivateTest'][csv.usage[r]];
      files[
        `${usage === 'Training' ? 'train' : 'test'}/${['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'][csv.emotion[r]]}/${usage}_${r}.png`
      ] = await encode({ data: rgb, width: 96, height: 96, channels: 3 });
    }
    writeTree(colourDir, files);
    for (const [dir, maxMean] of [
      [jpgDir, 2.5],
      [colourDir, 2.5],
    ] as const) {
      const ds = await loadDataset({ dataDir: dir, cacheDir: false });
      assert.equal(ds.files!.map(csvRow), rows, `${dir}: rows`);
      let sum = 0;
      ds.files!.map(csvRow).forEach((r, i) => {
        assert.is(ds.emotion[i], csv.emotion[r]);
        assert.is(ds.usage[i], csv.usage[r]);
        for (let k = 0; k < IMAGE_PIXELS; k++) sum += Math.abs(ds.pixels[i * IMAGE_PIXELS + k] - csv.pixels[r * IMAGE_PIXELS + k]);
      });
      const mean = sum / (ds.n * IMAGE_PIXELS);
      assert.ok(mean < maxMean, `${dir}: mean absolute pixel error ${mean.toFixed(2)} (expected < ${maxMean})`);
      assert.ok(mean > 0, `${dir}: lossy or resampled copies are not bit-exact (mean error ${mean})`);
    }
  });
}

test.run();
