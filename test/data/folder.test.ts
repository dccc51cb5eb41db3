/**
 * Image-folder datasets on generated images (no real data needed): layouts, case-insensitive class names and the
 * `classes` mapping, the Kaggle FER2013 file-name rule, stratified seeded carving of val/test, row order, the binary
 * cache, the image conversion (colour, size, alpha, EXIF rotation), and a clear error for every kind of bad input.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DataError, FER_CLASSES, IMAGE_PIXELS, loadDataset, naturalCompare, type FerDataset } from '../../src/data';
import { tempDir } from '../helpers/fixtures';
import { encode, gray48, grayPixels, writePngs, writeTree } from './folder-fixtures';

async function expectDataError(p: Promise<unknown>, fileEnd: string | RegExp, pattern: RegExp): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DataError, `expected a DataError, got ${e}`);
    const d = e as DataError;
    assert.ok(typeof fileEnd === 'string' ? d.file.endsWith(fileEnd) : fileEnd.test(d.file), `error should name ...${fileEnd}, names ${d.file}`);
    assert.match(d.message, pattern, `message '${d.message}' should match ${pattern}`);
    return d;
  }
  assert.unreachable(`expected a DataError naming ${fileEnd}`);
  throw new Error('unreachable');
}

const row = (ds: FerDataset, i: number) => Array.from(ds.pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS));
const rowOf = (ds: FerDataset, file: string) => {
  const i = ds.files!.indexOf(file);
  assert.ok(i >= 0, `${file} is a row of the dataset (rows: ${ds.files!.slice(0, 5).join(', ')}...)`);
  return i;
};
const perClass = (ds: FerDataset, usage: number) => {
  const c = new Array(7).fill(0);
  for (let i = 0; i < ds.n; i++) if (ds.usage[i] === usage) c[ds.emotion[i]] += 1;
  return c;
};

test('natural order: numbers compare by value, then by leading zeros; text by code unit', () => {
  const names = ['Training_10.png', 'Training_9.png', 'Training_100.png', 'Training_010.png', 'PublicTest_2.png', 'a', 'a1', 'b'];
  assert.equal([...names].sort(naturalCompare), [
    'PublicTest_2.png',
    'Training_9.png',
    'Training_10.png',
    'Training_010.png',
    'Training_100.png',
    'a',
    'a1',
    'b',
  ]);
});

test('splits layout: class names case-insensitive with aliases; PNG pixels exact; rows ordered by file name, not by class', async () => {
  const root = tempDir();
  // folder name -> FER2013 label (written out by hand: angry 0, disgust 1, fear 2, happy 3, sad 4, surprise 5, neutral 6)
  const expected: Record<string, number> = { Anger: 0, Disgusted: 1, fearful: 2, HAPPINESS: 3, Sad: 4, Surprised: 5, neutral: 6 };
  const images: Record<string, number> = {};
  let seed = 1;
  for (const [folder] of Object.entries(expected))
    for (const k of [1, 2, 10]) {
      images[`train/${folder}/img${k}.png`] = seed++;
      images[`TEST/${folder}/t${k}.png`] = seed++;
    }
  const pixels = await writePngs(root, images);
  const ds = await loadDataset({ dataDir: root, cacheDir: false });
  assert.is(ds.n, 42);
  assert.is(ds.source.kind, 'folder');
  assert.is(ds.source.loadedFrom, 'images');
  for (const [file, px] of pixels) {
    const i = rowOf(ds, file);
    assert.equal(row(ds, i), Array.from(px), `${file}: pixels`);
    assert.is(ds.emotion[i], expected[file.split('/')[1]], `${file}: label`);
    assert.is(ds.usage[i] === 2, file.startsWith('TEST/'), `${file}: test/ -> PrivateTest (usage 2)`);
  }
  // train rows first, in file-name order across classes: img1 of every class, then img2, then img10
  const train = ds.files!.filter((f) => f.startsWith('train/'));
  assert.equal(
    train.map((f) => f.split('/').pop()),
    [...Array(7).fill('img1.png'), ...Array(7).fill('img2.png'), ...Array(7).fill('img10.png')],
  );
  assert.equal(ds.files!.slice(0, train.length), train, 'rows: train/ images before test/ images');
  const f = ds.source.folder!;
  assert.is(f.layout, 'splits');
  assert.equal(
    f.classMap.map((m) => [m.folder, m.class]).sort(),
    Object.entries(expected)
      .map(([k, v]) => [k, FER_CLASSES[v]])
      .sort(),
  );
  assert.is(f.splits.test, 'test/');
  assert.match(f.splits.val, /carved from train\//);
});

test('unknown and contempt folders: one error listing them and the classes mapping that fixes it; the mapping fixes it', async () => {
  const root = tempDir();
  const images: Record<string, number> = {};
  for (const name of ['1', '2', '3', '4', '5', '6', '7']) for (const k of [1, 2]) images[`train/${name}/x${k}.png`] = Number(name) * 10 + k;
  await writePngs(root, images);
  const e = await expectDataError(loadDataset({ dataDir: root, cacheDir: false }), root, /not recognised: train\/1, train\/2/);
  assert.match(e.message, /RAF-DB/);
  assert.match(e.message, /"classes":\{"1":"surprise","2":"fear","3":"disgust","4":"happy","5":"sad","6":"angry","7":"neutral"\}/);
  assert.match(e.message, /ferlab-dataset\.json/);

  // the suggested mapping, with an alias as a value and one folder left out
  writeTree(root, {
    'ferlab-dataset.json': JSON.stringify({
      kind: 'folder',
      classes: { 1: 'surprise', 2: 'fear', 3: 'disgust', 4: 'happiness', 5: 'sad', 6: 'Anger', 7: null },
    }),
  });
  const ds = await loadDataset({ dataDir: root, cacheDir: false });
  assert.is(ds.n, 12, '7/ is left out');
  assert.is(ds.source.folder!.dropped, 2);
  assert.is(ds.source.folder!.specFile, join(root, 'ferlab-dataset.json'));
  assert.is(ds.emotion[rowOf(ds, 'train/4/x1.png')], 3, '4 -> happiness -> happy (3)');
  assert.is(ds.emotion[rowOf(ds, 'train/6/x2.png')], 0, '6 -> Anger -> angry (0)');

  // a value that is no FER class names the settings file
  writeTree(root, { 'ferlab-dataset.json': JSON.stringify({ kind: 'folder', classes: { 1: 'joy' } }) });
  await expectDataError(loadDataset({ dataDir: root, cacheDir: false }), 'ferlab-dataset.json', /'joy' is not a FER2013 class/);
  writeTree(root, { 'ferlab-dataset.json': JSON.stringify({ kind: 'folder', valFraktion: 0.2 }) });
  await expectDataError(loadDataset({ dataDir: root, cacheDir: false }), 'ferlab-dataset.json', /valFraktion/);

  // contempt (CK+): not a FER2013 class
  const ck = tempDir();
  await writePngs(ck, { 'anger/a.png': 1, 'contempt/c1.png': 2, 'contempt/c2.png': 3, 'happy/h.png': 4, 'happy/h2.png': 5 });
  const c = await expectDataError(loadDataset({ dataDir: ck, cacheDir: false }), ck, /contempt is not a FER2013 class/);
  assert.match(c.message, /"contempt":null/);
  const spec = join(tempDir(), 'ck.json');
  writeFileSync(spec, JSON.stringify({ kind: 'folder', path: ck, classes: { contempt: null } }));
  const cds = await loadDataset({ dataDir: spec, cacheDir: false });
  assert.is(cds.n, 3, 'a dataset settings .json as the data directory, with its path');
  assert.is(cds.source.folder!.dropped, 2);
  assert.equal(
    cds.source.folder!.classMap.find((m) => m.folder === 'contempt'),
    { folder: 'contempt', class: null, by: 'classes', images: 2 },
  );
});

test('bad input: unreadable / truncated image names the file; --skip-bad skips and counts; empty class; no images; non-image files counted', async () => {
  const root = tempDir();
  const cacheDir = tempDir();
  await writePngs(root, { 'train/angry/a1.png': 1, 'train/angry/a2.png': 2, 'train/happy/h1.png': 3, 'train/happy/h2.png': 4, 'test/happy/t1.png': 5 });
  const good = await encode(gray48(9), 'jpeg');
  writeTree(root, {
    'train/happy/truncated.jpg': good.subarray(0, Math.floor(good.length / 2)),
    'train/angry/notanimage.png': 'this is text, not a PNG',
    'train/angry/notes.txt': 'labelling notes',
    'train/.DS_Store': 'x',
    'README.md': '# my dataset',
    'test/happy/scores.csv': 'a,b',
  });
  // both bad images are decoded side by side: the error names whichever failed first
  const err = await expectDataError(loadDataset({ dataDir: root, cacheDir }), /(notanimage\.png|truncated\.jpg)$/, /cannot read it as an image/);
  assert.match(err.message, /--skip-bad/);
  assert.equal(readdirSync(cacheDir), [], 'no cache written for a failed load');

  const ds = await loadDataset({ dataDir: root, cacheDir, skipBad: true });
  assert.is(ds.n, 5);
  const f = ds.source.folder!;
  assert.equal(
    f.skipped.map((s) => s.file),
    ['train/angry/notanimage.png', 'train/happy/truncated.jpg'],
  );
  assert.ok(f.skipped.every((s) => s.error.length > 0));
  assert.is(f.ignored.count, 4, `README.md, notes.txt, .DS_Store, scores.csv ignored: ${f.ignored.examples}`);
  // FERLAB_SKIP_BAD (what --skip-bad sets for worker threads) does the same
  process.env.FERLAB_SKIP_BAD = '1';
  try {
    assert.is((await loadDataset({ dataDir: root, cacheDir: false })).source.folder!.skipped.length, 2);
  } finally {
    delete process.env.FERLAB_SKIP_BAD;
  }

  const empty = tempDir();
  await writePngs(empty, { 'train/angry/a.png': 1, 'train/happy/h.png': 2 });
  writeTree(empty, { 'train/sad/readme.txt': 'to do' });
  const e2 = await expectDataError(loadDataset({ dataDir: empty, cacheDir: false }), join('train', 'sad'), /class folder has no images/);
  assert.match(e2.message, /"sad": null/);

  const none = tempDir();
  writeTree(none, { 'train/list.txt': 'a', 'test/list.txt': 'b' });
  await expectDataError(loadDataset({ dataDir: none, cacheDir: false }), none, /no images found \(2 other files ignored\)/);

  const both = tempDir();
  await writePngs(both, { 'train/angry/a.png': 1, 'val/angry/b.png': 2, 'validation/angry/c.png': 3 });
  await expectDataError(loadDataset({ dataDir: both, cacheDir: false }), both, /both val\/ and validation\//);
});

test('carved splits are stratified per class and seeded; val/ and test/ folders are used when present', async () => {
  // flat layout (CK+ style): per class n images; test = round(0.2 n), then val = round(0.1 of the rest),
  // each capped so a class with 2+ images keeps one for training (hand-computed below)
  const counts = { angry: 20, disgust: 3, fear: 15, happy: 40, sad: 1, surprise: 10, neutral: 25 };
  const wantTest = [4, 1, 3, 8, 0, 2, 5]; // round(0.2 * [20, 3, 15, 40, 1, 10, 25]), 3 -> 0.6 -> 1, 1 -> 0 (keeps its only image)
  const wantVal = [2, 0, 1, 3, 0, 1, 2]; // round(0.1 * [16, 2, 12, 32, 1, 8, 20]) = [1.6, 0.2, 1.2, 3.2, 0.1, 0.8, 2]
  const root = tempDir();
  const images: Record<string, number> = {};
  let s = 1;
  for (const [c, n] of Object.entries(counts)) for (let k = 0; k < n; k++) images[`${c}/${c}_${k}.png`] = s++;
  await writePngs(root, images);
  const a = await loadDataset({ dataDir: root, cacheDir: false });
  assert.is(a.source.folder!.layout, 'flat');
  assert.equal(perClass(a, 2), wantTest, 'test images per class');
  assert.equal(perClass(a, 1), wantVal, 'val images per class');
  assert.equal(
    perClass(a, 0),
    Object.values(counts).map((n, c) => n - wantTest[c] - wantVal[c]),
  );
  const split = (ds: FerDataset) => ds.files!.map((f, i) => `${f}:${ds.usage[i]}`).sort();
  const b = await loadDataset({ dataDir: root, cacheDir: false });
  assert.equal(split(b), split(a), 'same seed, same split');
  const other = await loadDataset({ dataDir: root, cacheDir: false, dataset: { kind: 'folder', seed: 7 } });
  assert.equal(perClass(other, 1), wantVal, 'another seed: same per-class sizes');
  assert.not.equal(split(other), split(a), 'another seed: other images');
  assert.equal(
    [...a.usage],
    [...a.usage].sort((x, y) => x - y),
    'rows: train, then val, then test',
  );

  // splits layout without val/: val carved from train/ only, test/ kept whole
  const sp = tempDir();
  const im2: Record<string, number> = {};
  for (let k = 0; k < 30; k++) im2[`train/happy/h${k}.png`] = 100 + k;
  for (let k = 0; k < 10; k++) im2[`train/sad/s${k}.png`] = 200 + k;
  for (let k = 0; k < 6; k++) im2[`test/sad/t${k}.png`] = 300 + k;
  await writePngs(sp, im2);
  const ds = await loadDataset({ dataDir: sp, cacheDir: false, dataset: { kind: 'folder', valFraction: 0.2 } });
  assert.equal(perClass(ds, 1), [0, 0, 0, 6, 2, 0, 0], 'val: round(0.2 * 30) happy, round(0.2 * 10) sad');
  assert.equal(perClass(ds, 2), [0, 0, 0, 0, 6, 0, 0], 'test: the test/ folder');
  assert.ok(
    ds.files!.every((f, i) => (ds.usage[i] === 2) === f.startsWith('test/')),
    'only test/ images are test images',
  );

  // val/ present: used as is, nothing carved
  const withVal = tempDir();
  await writePngs(withVal, { 'train/happy/a.png': 1, 'train/happy/b.png': 2, 'Validation/happy/c.png': 3, 'test/happy/d.png': 4 });
  const v = await loadDataset({ dataDir: withVal, cacheDir: false });
  assert.equal(
    v.files!.map((f, i) => `${f}:${v.usage[i]}`),
    ['train/happy/a.png:0', 'train/happy/b.png:0', 'Validation/happy/c.png:1', 'test/happy/d.png:2'],
  );
});

test('Kaggle FER2013 names restore PublicTest/PrivateTest; otherwise (or with usageFromNames false) test/ stays whole', async () => {
  const root = tempDir();
  await writePngs(root, {
    'train/angry/Training_3908.png': 1,
    'train/angry/Training_10118481.png': 2,
    'train/happy/Training_55.png': 3,
    'train/happy/Training_56.png': 4,
    'test/angry/PublicTest_5543497.png': 5,
    'test/happy/PublicTest_7.png': 6,
    'test/happy/PrivateTest_902573.png': 7,
  });
  const ds = await loadDataset({ dataDir: root, cacheDir: false });
  const usageOf = (f: string) => ds.usage[rowOf(ds, f)];
  assert.is(usageOf('test/angry/PublicTest_5543497.png'), 1);
  assert.is(usageOf('test/happy/PublicTest_7.png'), 1);
  assert.is(usageOf('test/happy/PrivateTest_902573.png'), 2);
  assert.equal(perClass(ds, 0), [2, 0, 0, 2, 0, 0, 0], 'nothing carved from train/');
  assert.ok(ds.source.folder!.usageFromNames);
  assert.match(ds.source.folder!.splits.val, /PublicTest/);

  const off = await loadDataset({ dataDir: root, cacheDir: false, dataset: { kind: 'folder', usageFromNames: false } });
  assert.equal(perClass(off, 2), [1, 0, 0, 2, 0, 0, 0], 'usageFromNames false: test/ whole');
  writeTree(root, { 'test/happy/extra.png': await encode(gray48(8)) });
  const mixed = await loadDataset({ dataDir: root, cacheDir: false });
  assert.not.ok(mixed.source.folder!.usageFromNames, 'one test image without the prefix: names not used');
  assert.is(
    perClass(mixed, 2).reduce((a, b) => a + b),
    4,
  );
});

test('cache: keyed by the image list, sizes and mtimes, and the options', async () => {
  const root = tempDir();
  const cacheDir = tempDir();
  await writePngs(root, { 'train/angry/a.png': 1, 'train/angry/b.png': 2, 'train/happy/c.png': 3, 'test/happy/d.png': 4 });
  const msgs: string[] = [];
  const first = await loadDataset({ dataDir: root, cacheDir, log: (m) => msgs.push(m) });
  const second = await loadDataset({ dataDir: root, cacheDir });
  assert.is(second.source.loadedFrom, 'cache');
  assert.equal(Array.from(second.pixels), Array.from(first.pixels));
  assert.equal(second.files, first.files);
  assert.equal(second.source.folder, first.source.folder, 'provenance comes back from the cache');
  assert.equal(readdirSync(cacheDir).length, 1);

  const later = new Date(Date.now() + 60_000);
  utimesSync(join(root, 'train/angry/a.png'), later, later);
  msgs.length = 0;
  const touched = await loadDataset({ dataDir: root, cacheDir, log: (m) => msgs.push(m) });
  assert.is(touched.source.loadedFrom, 'images');
  assert.ok(
    msgs.some((m) => /stale/.test(m)),
    msgs.join('\n'),
  );
  writeTree(root, { 'train/happy/e.png': await encode(gray48(5)) });
  const added = await loadDataset({ dataDir: root, cacheDir });
  assert.is(added.source.loadedFrom, 'images');
  assert.is(added.n, 5);
  const seeded = await loadDataset({ dataDir: root, cacheDir, dataset: { kind: 'folder', seed: 3 } });
  assert.is(seeded.source.loadedFrom, 'images');
  assert.is(readdirSync(cacheDir).length, 2, 'other options: a cache file of their own');
  assert.is((await loadDataset({ dataDir: root, cacheDir })).source.loadedFrom, 'cache', 'the default options keep theirs');
});

test('conversion: colour, any size, alpha and EXIF rotation to 48x48 gray (expected values computed by hand)', async () => {
  // constant sRGB colour (200, 100, 50): gray = sRGB(Rec.709 luminance of the linearised channels)
  const lin = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : Math.pow((v / 255 + 0.055) / 1.055, 2.4));
  const y = 0.2126 * lin(200) + 0.7152 * lin(100) + 0.0722 * lin(50);
  const want = 255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * Math.pow(y, 1 / 2.4) - 0.055);
  const rgb = { data: Uint8Array.from({ length: 123 * 77 * 3 }, (_, i) => [200, 100, 50][i % 3]), width: 123, height: 77, channels: 3 as const };
  const rgba = { data: Uint8Array.from({ length: 90 * 60 * 4 }, (_, i) => [200, 100, 50, 128][i % 4]), width: 90, height: 60, channels: 4 as const };
  const half = new Uint8Array(60 * 40);
  for (let yy = 0; yy < 40; yy++) for (let x = 0; x < 60; x++) half[yy * 60 + x] = x < 30 ? 0 : 255;
  const rotated = await sharp(Buffer.from(half), { raw: { width: 60, height: 40, channels: 1 } })
    .png()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const root = tempDir();
  writeTree(root, {
    'happy/colour.png': await encode(rgb),
    'happy/colour.jpg': await encode(rgb, 'jpeg', 100),
    'happy/alpha.png': await encode(rgba),
    'sad/rotated.png': rotated,
    'sad/big.webp': await sharp(Buffer.from(grayPixels(3, 96)), { raw: { width: 96, height: 96, channels: 1 } })
      .webp({ lossless: true })
      .toBuffer(),
  });
  const ds = await loadDataset({ dataDir: root, cacheDir: false, dataset: { kind: 'folder', testFraction: 0.01, valFraction: 0.01 } });
  for (const f of ['happy/colour.png', 'happy/colour.jpg', 'happy/alpha.png']) {
    const px = row(ds, rowOf(ds, f));
    assert.ok(
      px.every((v) => Math.abs(v - want) <= 1.5),
      `${f}: every pixel ${want.toFixed(1)} +- 1.5, got ${Math.min(...px)}-${Math.max(...px)}`,
    );
  }
  // orientation 6 = rotate 90 degrees clockwise: the left (black) half of the stored image is the top when displayed
  const r = row(ds, rowOf(ds, 'sad/rotated.png'));
  assert.ok(r.slice(0, 48 * 20).every((v) => v < 10) && r.slice(48 * 28).every((v) => v > 245), 'rotated: top dark, bottom light');
  assert.is(row(ds, rowOf(ds, 'sad/big.webp')).length, IMAGE_PIXELS, '96x96 WebP resized to 48x48');
});

test('dataset selection: CSV folders stay CSV; an explicit {kind: "csv"} setting; a missing folder keeps its download help', async () => {
  const missing = join(tempDir(), 'nope');
  await expectDataError(loadDataset({ dataDir: missing, cacheDir: false }), 'nope', /data directory not found/);
  const folderish = tempDir();
  writeTree(folderish, { 'notes.txt': 'x' });
  const e = await expectDataError(loadDataset({ dataDir: folderish, cacheDir: false }), 'fer2013.csv', /neither fer2013\.csv nor fer2013\.csv\.gz/);
  assert.match(e.message, /image-folder dataset/);
  const asCsv = tempDir();
  await writePngs(asCsv, { 'train/angry/a.png': 1 });
  await expectDataError(loadDataset({ dataDir: asCsv, cacheDir: false, dataset: { kind: 'csv' } }), 'fer2013.csv', /neither/);
});

test.run();
