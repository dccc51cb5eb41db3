/**
 * `ferlab predict` on real photos, as a user runs it: the sample photos of @vladmandic/face-api's package (3, 5 and 4
 * faces, marked by hand in ./helpers.ts), the same photo stored rotated with an EXIF orientation tag, as WebP and
 * upscaled to 4800 px, a real photo region without a face, a truncated JPEG and a text file named .jpg; checks the
 * `--json` boxes against the hand marks, the `--crops` files against an independent computation of the expected
 * 48x48 pixels, the probabilities against the model run on those crops, and the `--annotate` images pixel by pixel.
 * The model is a registered model with its initial weights (this file checks plumbing, not accuracy).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/select';
import { loadLayersModelFromDir } from '../../src/models/io';
import { boxStrokeWidth, classColor } from '../../src/predict/annotate';
import { tempDir } from '../helpers/fixtures';
import { cli, expectedCrop, HAND_MARKED, matchFaces, pixelDiff, samplesDir, writeModelFolder } from './helpers';

interface JsonBox {
  left: number;
  top: number;
  width: number;
  height: number;
}
interface JsonFace {
  face: number;
  box: JsonBox;
  score: number;
  crop: JsonBox;
  label: string;
  probabilities: Record<string, number>;
  cropFile: string;
}
interface JsonFile {
  file: string;
  type: 'image' | 'error';
  width: number;
  height: number;
  faces: JsonFace[];
  annotated?: string;
  error?: string;
}

const work = tempDir('ferlab-predict-');
const sample = (name: string) => join(samplesDir, name);
let runDir = '';
let classes: string[] = [];
let doc: { model: { classes: string[] }; files: JsonFile[] };
let status: number | null;
let stderr = '';
const files = {
  rotated: join(work, 'rotated.jpg'),
  webp: join(work, 'sample6.webp'),
  large: join(work, 'large.jpg'),
  noFace: join(work, 'blinds.jpg'),
  truncated: join(work, 'truncated.jpg'),
  text: join(work, 'notes.jpg'),
};
const annotateDir = join(work, 'annotated');
const cropsDir = join(work, 'crops');

/** The crop rule of the issue, written out independently: square of 1.1 x the longer side, centred, kept inside. */
function handCrop(b: JsonBox, W: number, H: number): JsonBox {
  const side = Math.round(Math.max(b.width, b.height) * 1.1);
  const start = (c: number, extent: number) => Math.min(extent - side, Math.max(0, Math.round(c - side / 2)));
  return { left: start(b.left + b.width / 2, W), top: start(b.top + b.height / 2, H), width: side, height: side };
}

test.before(async () => {
  runDir = await writeModelFolder(join(work, 'run'), { runFolder: true });
  classes = JSON.parse(readFileSync(join(runDir, 'model', 'ferlab.json'), 'utf8')).classes;
  // sample1's pixels turned 90 degrees anticlockwise, tagged EXIF orientation 6 (= display turned 90 clockwise): it
  // displays as sample1 does
  await sharp(sample('sample1.jpg')).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toFile(files.rotated);
  const meta = await sharp(files.rotated).metadata();
  assert.equal([meta.width, meta.height, meta.orientation], [1280, 1920, 6], 'stored portrait with orientation 6');
  await sharp(sample('sample6.jpg')).webp({ quality: 90 }).toFile(files.webp);
  await sharp(sample('sample1.jpg')).resize(4800, 3200, { kernel: 'lanczos3' }).jpeg({ quality: 90 }).toFile(files.large);
  await sharp(sample('sample6.jpg')).extract({ left: 0, top: 0, width: 700, height: 330 }).jpeg({ quality: 90 }).toFile(files.noFace); // window blinds and a door
  const jpeg = readFileSync(sample('sample1.jpg'));
  writeFileSync(files.truncated, jpeg.subarray(0, Math.floor(jpeg.length * 0.3)));
  writeFileSync(files.text, 'not an image\n');
  const inputs = [
    sample('sample1.jpg'),
    sample('sample5.jpg'),
    sample('sample6.jpg'),
    files.rotated,
    files.webp,
    files.large,
    files.noFace,
    files.truncated,
    files.text,
  ];
  // on wasm, by name: the probabilities are compared with the model run here on wasm (auto would pick native)
  const r = cli(['predict', ...inputs, '--model', runDir, '--json', '--annotate', annotateDir, '--crops', cropsDir], { FERLAB_BACKEND: 'wasm' });
  status = r.status;
  stderr = r.stderr;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    assert.unreachable(`--json printed no JSON document; stdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(-3000)}`);
  }
  await initBackend('wasm');
});

const byName = (path: string) => doc.files.find((f) => f.file === path)!;

test('the broken files are errors naming them; every other file is still processed; exit status 1', () => {
  assert.is(status, 1, `exit status 1 (two files could not be read); stderr: ${stderr.slice(-2000)}`);
  assert.is(doc.files.length, 9, 'a result per input file, in order');
  for (const bad of [files.truncated, files.text]) {
    const r = byName(bad);
    assert.is(r.type, 'error', `${bad} is an error`);
    assert.match(r.error!, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read it as an image`));
    assert.ok(stderr.includes(`ferlab: ${bad}: cannot read it as an image`), `stderr names ${bad}`);
  }
  assert.match(byName(files.truncated).error!, /premature end of JPEG/);
  assert.match(byName(files.text).error!, /unsupported image format/);
  assert.match(stderr, /2 of 9 files could not be processed/);
  assert.equal(
    doc.files.filter((f) => f.type === 'image').map((f) => f.file),
    [sample('sample1.jpg'), sample('sample5.jpg'), sample('sample6.jpg'), files.rotated, files.webp, files.large, files.noFace],
  );
});

test('every hand-marked face of the sample photos is found, one box each, in pixels of the full photo', async () => {
  for (const name of ['sample1.jpg', 'sample5.jpg', 'sample6.jpg']) {
    const r = byName(sample(name));
    const meta = await sharp(sample(name)).metadata();
    assert.equal([r.width, r.height], [meta.width, meta.height], `${name}: size`);
    assert.is(
      matchFaces(
        r.faces.map((f) => f.box),
        HAND_MARKED[name],
      ),
      '',
      `${name}: boxes vs hand marks`,
    );
    assert.equal(
      r.faces.map((f) => f.face),
      Array.from({ length: r.faces.length }, (_, i) => i + 1),
    );
    const centres = r.faces.map((f) => f.box.left + f.box.width / 2);
    assert.equal(
      centres,
      [...centres].sort((a, b) => a - b),
      `${name}: faces numbered left to right`,
    );
    for (const f of r.faces) assert.ok(f.score >= 0.5 && f.score <= 1, `${name} face ${f.face}: score ${f.score}`);
  }
});

test('EXIF orientation, WebP and a 4800 px photo: the same faces, in displayed-image pixels', () => {
  const original = byName(sample('sample1.jpg'));
  const rotated = byName(files.rotated);
  assert.equal([rotated.width, rotated.height], [1920, 1280], 'the displayed (rotated) size');
  assert.is(
    matchFaces(
      rotated.faces.map((f) => f.box),
      HAND_MARKED['sample1.jpg'],
    ),
    '',
    'rotated photo vs hand marks',
  );
  const webp = byName(files.webp);
  assert.is(
    matchFaces(
      webp.faces.map((f) => f.box),
      HAND_MARKED['sample6.jpg'],
    ),
    '',
    'WebP vs hand marks',
  );
  const large = byName(files.large);
  assert.equal([large.width, large.height], [4800, 3200]);
  const scaled = HAND_MARKED['sample1.jpg'].map(([x, y]) => [x * 2.5, y * 2.5] as [number, number]);
  assert.is(
    matchFaces(
      large.faces.map((f) => f.box),
      scaled,
    ),
    '',
    '4800 px photo vs hand marks x 2.5',
  );
  // boxes agree with the original's (detection sees each downscaled to 1280 px; JPEG re-encoding moves them a little)
  original.faces.forEach((f, i) => {
    for (const k of ['left', 'top', 'width', 'height'] as const) {
      assert.ok(Math.abs(rotated.faces[i].box[k] - f.box[k]) < 12, `rotated face ${i + 1} ${k}: ${rotated.faces[i].box[k]} vs ${f.box[k]}`);
      assert.ok(Math.abs(large.faces[i].box[k] / 2.5 - f.box[k]) < 12, `large face ${i + 1} ${k}: ${large.faces[i].box[k] / 2.5} vs ${f.box[k]}`);
    }
  });
});

test('a photo without a face: an empty result, said on stderr; exit status 0 when it is the only file', () => {
  assert.equal(byName(files.noFace).faces, []);
  assert.ok(stderr.includes(`${files.noFace}: no face found`), 'stderr says no face was found');
  const r = cli(['predict', files.noFace, '--model', join(runDir, 'model')]);
  assert.is(r.status, 0, `exit 0; stderr: ${r.stderr.slice(-1500)}`);
  assert.match(r.stdout, /no face found/);
  assert.match(r.stderr, /blinds\.jpg: no face found/);
});

test('--json: the crop rule, probabilities summing to 1, label = most probable class', () => {
  for (const r of doc.files.filter((f) => f.type === 'image')) {
    for (const f of r.faces) {
      assert.equal(f.crop, handCrop(f.box, r.width, r.height), `${r.file} face ${f.face}: crop of box ${JSON.stringify(f.box)}`);
      assert.equal(Object.keys(f.probabilities), classes, 'probabilities in class order');
      const p = Object.values(f.probabilities);
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5, `${r.file} face ${f.face}: probabilities sum to 1`);
      assert.is(f.label, classes[p.indexOf(Math.max(...p))], 'label = argmax');
    }
  }
});

test('--crops: each file is the face as 48x48 gray, matching an independent crop-and-shrink of the photo', async () => {
  let faces = 0;
  for (const name of ['sample1.jpg', 'sample5.jpg', 'sample6.jpg']) {
    const r = byName(sample(name));
    const { data: rgb, info } = await sharp(sample(name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    for (const f of r.faces) {
      assert.is(f.cropFile, join(cropsDir, `${name.replace('.jpg', '')}-face${f.face}.png`));
      const meta = await sharp(f.cropFile).metadata();
      assert.equal([meta.format, meta.width, meta.height, meta.channels, meta.depth], ['png', 48, 48, 1, 'uchar'], `${f.cropFile}: 48x48 8-bit gray PNG`);
      const png = await sharp(f.cropFile).extractChannel(0).raw().toBuffer({ resolveWithObject: true }); // the stored gray values
      const d = pixelDiff(png.data, expectedCrop(new Uint8Array(rgb), info.width, f.crop));
      assert.ok(d.mean < 2 && d.max < 20, `${f.cropFile}: mean |diff| ${d.mean.toFixed(2)}, max ${d.max.toFixed(1)} vs the independent crop`);
      // the comparison can tell: the same crop moved right by 5% of its side is far off
      const moved = { ...f.crop, left: Math.min(info.width - f.crop.width, f.crop.left + Math.round(0.05 * f.crop.width)) };
      if (moved.left !== f.crop.left) {
        const off = pixelDiff(png.data, expectedCrop(new Uint8Array(rgb), info.width, moved));
        assert.ok(off.mean > 3 * d.mean && off.mean > 5, `${f.cropFile}: a moved crop differs (${off.mean.toFixed(2)} vs ${d.mean.toFixed(2)})`);
      }
      faces++;
    }
  }
  assert.is(faces, 12);
});

test('--json probabilities are the softmax of the model run on the crop files', async () => {
  const model = await loadLayersModelFromDir(join(runDir, 'model'));
  for (const r of doc.files.filter((f) => f.type === 'image' && f.faces.length)) {
    const x = new Float32Array(r.faces.length * 48 * 48);
    for (const [i, f] of r.faces.entries()) {
      const png = await sharp(f.cropFile).extractChannel(0).raw().toBuffer();
      for (let k = 0; k < png.length; k++) x[i * 2304 + k] = png[k] / 255;
    }
    const logits = tf.tidy(() => (model.predict(tf.tensor4d(x, [r.faces.length, 48, 48, 1])) as tf.Tensor).arraySync() as number[][]);
    for (const [i, f] of r.faces.entries()) {
      const m = Math.max(...logits[i]);
      const e = logits[i].map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      classes.forEach((c, k) =>
        assert.ok(Math.abs(f.probabilities[c] - e[k] / s) < 1e-5, `${r.file} face ${f.face} ${c}: ${f.probabilities[c]} vs ${e[k] / s}`),
      );
    }
  }
  model.dispose();
});

test('--annotate: the photo at full size, each box painted in its class colour on the detected box, faces untouched', async () => {
  for (const name of ['sample1.jpg', 'sample5.jpg', 'sample6.jpg']) {
    const r = byName(sample(name));
    assert.is(r.annotated, join(annotateDir, name.replace('.jpg', '.annotated.png')));
    const out = await sharp(r.annotated!).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const orig = await sharp(sample(name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.equal([out.info.width, out.info.height], [r.width, r.height], `${name}: full size`);
    const at = (img: typeof out, x: number, y: number) => Array.from(img.data.subarray(3 * (y * img.info.width + x), 3 * (y * img.info.width + x) + 3));
    const stroke = boxStrokeWidth(r.width, r.height);
    for (const f of r.faces) {
      const hex = classColor(classes.indexOf(f.label));
      const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const L = Math.round(f.box.left);
      const T = Math.round(f.box.top);
      const R = Math.round(f.box.left + f.box.width);
      const B = Math.round(f.box.top + f.box.height);
      const midX = Math.round((L + R) / 2);
      const midY = Math.round((T + B) / 2);
      // the stroke is centred on the edge: pixels edge - stroke/2 .. edge + stroke/2 - 1 are painted; the JSON box is
      // rounded to 0.01 px, so an edge may land one pixel either way: check the pixels painted in all three cases
      const band = (e: number) => Array.from({ length: stroke - 2 }, (_, k) => e - stroke / 2 + 1 + k);
      const edgePixels: Array<[number, number, string]> = [
        ...band(L).map((x) => [x, midY, 'left'] as [number, number, string]),
        ...band(R).map((x) => [x, midY, 'right'] as [number, number, string]),
        ...band(B).map((y) => [midX, y, 'bottom'] as [number, number, string]),
        ...band(T).map((y) => [L + stroke, y, 'top'] as [number, number, string]),
      ];
      assert.ok(stroke >= 4, `stroke ${stroke} px`);
      for (const [x, y, edge] of edgePixels) assert.equal(at(out, x, y), rgb, `${name} face ${f.face}: ${edge} edge pixel (${x}, ${y}) in ${hex}`);
      // inside the box, away from the stroke, the photo is unchanged
      for (const [x, y] of [
        [midX, midY],
        [L + stroke + 2, midY],
        [midX, B - stroke - 2],
      ])
        assert.equal(at(out, x, y), at(orig, x, y), `${name} face ${f.face}: pixel (${x}, ${y}) inside the box unchanged`);
    }
  }
});

test('bad options and model folders: clear errors, nothing processed', () => {
  const missing = cli(['predict', sample('sample1.jpg'), '--model', join(work, 'nope')]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /ferlab: model folder .*nope does not exist/);
  const notModel = cli(['predict', sample('sample1.jpg'), '--model', work]);
  assert.is(notModel.status, 1);
  assert.match(notModel.stderr, /is not a model folder: no model\.json in it or in .*model/);
  const one = cli(['predict', sample('sample1.jpg'), sample('sample5.jpg'), '--model', runDir, '--annotate', join(work, 'out.png')]);
  assert.is(one.status, 1);
  assert.match(one.stderr, /--annotate .*out\.png names one image file but 2 photos were given; give a folder instead/);
});

test.run();
