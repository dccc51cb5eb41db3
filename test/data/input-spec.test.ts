/**
 * Per-model input specs (src/data/input.ts) and where they are applied: the centre crop, the bilinear resize, the
 * per-image standardisation and the histogram equalisation, each against values computed here by hand or in closed
 * form (a linear ramp stays linear under a half-pixel-centre bilinear resize; OpenCV's equalizeHist LUT for tiny
 * images; mean and standard deviation of a 4-pixel image); the default spec against pixel / 255; the settings and
 * registry errors naming the setting; training batches (random crop windows, resize after histogram equalisation),
 * TTA views and predict's model input with a spec.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import {
  bilinearAxis,
  centreOffset,
  checkInputSpec,
  DEFAULT_INPUT,
  describeInput,
  equalizeHist,
  inputBatches,
  InputWriter,
  standardize,
  type InputSpec,
} from '../../src/data/input';
import { evalBatches, PREPROCESSING } from '../../src/data/preprocess';
import { applyOverrides, ConfigError, DEFAULT_SETTINGS, defineExperiment, resolveRuns } from '../../src/exp/config';
import { buildTtaBatch, predictProbabilitiesTTA } from '../../src/eval/tta';
import { createModel, registerModel, resolveInputSpec } from '../../src/models/registry';
import { buildCnn } from '../../src/models/cnn';
import '../../src/models';
import { classify, modelInput } from '../../src/predict/faces';
import { TrainBatches } from '../../src/train/batches';
import { AUGMENT_OFF, TrainSettingsSchema } from '../../src/train/settings';
import { Rng } from '../../src/util/rng';

const S = 48;
const P = S * S;

/** `[n, 48, 48]` uint8 images of the ramp p(r, c) = 2 r + 3 c (+ k per image k, kept <= 255). */
function ramps(n: number): Uint8Array {
  const px = new Uint8Array(n * P);
  for (let k = 0; k < n; k++) for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) px[k * P + r * S + c] = 2 * r + 3 * c + k;
  return px;
}

const crop40: InputSpec = { size: 40, resize: 'crop', normalize: 'unit' };
const scale64: InputSpec = { size: 64, resize: 'scale', normalize: 'unit' };

test('the default spec is 48 / none / unit, is described by PREPROCESSING itself, and writes exactly pixel / 255', () => {
  assert.equal({ ...DEFAULT_INPUT }, { size: 48, resize: 'none', normalize: 'unit' });
  assert.is(describeInput(DEFAULT_INPUT), 'x = pixel / 255 (float32 [batch, 48, 48, 1] in [0, 1]); no mean/std normalisation');
  assert.is(describeInput(DEFAULT_INPUT), PREPROCESSING);
  const px = new Uint8Array(3 * P);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7) % 256;
  const index = Int32Array.from([2, 0, 1]);
  const got = [...inputBatches(px, index, 2)].map((b) => Array.from(b.x.subarray(0, b.n * P)));
  const old = [...evalBatches(px, index, 2)].map((b) => Array.from(b.x.subarray(0, b.n * P)));
  assert.equal(got, old, 'the old evalBatches floats');
  const all = got.flat();
  const want = Array.from(index).flatMap((row) => Array.from(px.subarray(row * P, (row + 1) * P), (p) => Math.fround(p / 255)));
  assert.equal(all, want);
  const x = modelInput(px);
  assert.equal(
    Array.from(x),
    Array.from(px, (p) => Math.fround(p / 255)),
    "predict's model input of the default spec",
  );
});

test('centre offset: round((48 - size) / 2) half to even (torchvision center_crop); the centre 40x40 window of a ramp', () => {
  assert.equal([40, 41, 43, 45, 16, 47].map(centreOffset), [4, 4, 2, 2, 16, 0]); // 3.5 -> 4, 2.5 -> 2, 1.5 -> 2, 0.5 -> 0
  const px = ramps(1);
  const w = new InputWriter(crop40);
  assert.is(w.pixels, 1600);
  const out = new Float32Array(1600);
  w.write(px, 0, out, 0);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) assert.is(out[y * 40 + x], Math.fround((2 * (y + 4) + 3 * (x + 4)) / 255), `(${y}, ${x})`);
  w.write(px, 0, out, 0, true); // the same window of the mirrored image: column 47 - (x + 4)
  for (let y = 0; y < 40; y++)
    for (let x = 0; x < 40; x++) assert.is(out[y * 40 + x], Math.fround((2 * (y + 4) + 3 * (43 - x)) / 255), `mirrored (${y}, ${x})`);
  assert.match(describeInput(crop40), /centre 40x40 window at row 4, column 4 \(training: a random 40x40 window\).*\[batch, 40, 40, 1\] in \[0, 1\]/);
});

test('bilinear 48 -> 64 (half-pixel centres): source s(d) = clamp(0.75 d - 0.125, 0, 47); a linear ramp stays linear', () => {
  const ax = bilinearAxis(48, 64);
  // d = 0: s = -0.125 -> 0; d = 1: 0.625; d = 10: 7.375; d = 62: 46.375; d = 63: 47.125 -> 47
  assert.equal([ax.lo[0], ax.hi[0], ax.w[0]], [0, 1, 0]);
  assert.equal([ax.lo[1], ax.hi[1], ax.w[1]], [0, 1, 0.625]);
  assert.equal([ax.lo[10], ax.hi[10], ax.w[10]], [7, 8, 0.375]);
  assert.equal([ax.lo[62], ax.hi[62], ax.w[62]], [46, 47, 0.375]);
  assert.equal([ax.lo[63], ax.hi[63], ax.w[63]], [47, 47, 0]);
  const out = new Float32Array(64 * 64);
  new InputWriter(scale64).write(ramps(1), 0, out, 0);
  const s = (d: number) => Math.min(47, Math.max(0, 0.75 * d - 0.125));
  let worst = 0;
  for (let i = 0; i < 64; i++) for (let j = 0; j < 64; j++) worst = Math.max(worst, Math.abs(out[i * 64 + j] - (2 * s(i) + 3 * s(j)) / 255));
  assert.ok(worst < 2e-7, `max |resize - closed form| = ${worst}`);
  // a few pixels written out: (1, 1) = (2 + 3) 0.625 / 255, (10, 20) = (2 * 7.375 + 3 * 14.875) / 255, (63, 63) = 235 / 255
  assert.ok(Math.abs(out[1 * 64 + 1] - 3.125 / 255) < 1e-7);
  assert.ok(Math.abs(out[10 * 64 + 20] - 59.375 / 255) < 1e-7);
  assert.ok(Math.abs(out[63 * 64 + 63] - 235 / 255) < 1e-7);
  assert.is(out[0], 0);
  assert.match(describeInput(scale64), /bilinear resize 48x48 -> 64x64 \(half-pixel centres/);
});

test('standardize: (g - mean) / max(std, 1 / sqrt(n)) on the grey levels g = 255 x, computed by hand', () => {
  // g = 0, 51, 102, 255: mean 102, deviations -102, -51, 0, 153, variance (10404 + 2601 + 0 + 23409) / 4 = 9103.5
  const x = Float32Array.from([0, 51, 102, 255], (g) => g / 255);
  standardize(x, 0, 4);
  const sd = Math.sqrt(9103.5);
  [-102, -51, 0, 153].forEach((d, i) => assert.ok(Math.abs(x[i] - d / sd) < 1e-6, `${i}: ${x[i]} vs ${d / sd}`));
  // g = 100, 100, 100, 101: std sqrt(0.1875) = 0.433 < 1 / sqrt(4) = 0.5, so the floor divides: (g - 100.25) / 0.5
  const y = Float32Array.from([100, 100, 100, 101], (g) => g / 255);
  standardize(y, 0, 4);
  [-0.5, -0.5, -0.5, 1.5].forEach((v, i) => assert.ok(Math.abs(y[i] - v) < 1e-5, `floor ${i}: ${y[i]} vs ${v}`));
  const z = new Float32Array(4).fill(0.5);
  standardize(z, 0, 4);
  assert.equal(Array.from(z), [0, 0, 0, 0], 'a uniform image becomes 0');
  // through a writer: the centre 40x40 window of the ramp, standardised (mean and std of 2 (y + 4) + 3 (x + 4) by hand)
  const out = new Float32Array(1600);
  new InputWriter({ size: 40, resize: 'crop', normalize: 'standardize' }).write(ramps(1), 0, out, 0);
  // over y, x in 0..39: mean = 2 * 23.5 + 3 * 23.5 = 117.5; var = (4 + 9) * var(0..39) = 13 * (40^2 - 1) / 12
  const sd2 = Math.sqrt((13 * (1600 - 1)) / 12);
  let worst = 0;
  for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) worst = Math.max(worst, Math.abs(out[y * 40 + x] - (2 * (y + 4) + 3 * (x + 4) - 117.5) / sd2));
  assert.ok(worst < 1e-5, `standardised window: max error ${worst}`);
});

test("equalizeHist: OpenCV's LUT (cdf - H[min]) * 255 / (n - H[min]), rounded half to even, on tiny images", () => {
  const eq = (v: number[]) => {
    const out = new Uint8Array(v.length);
    equalizeHist(Uint8Array.from(v), 0, v.length, out, 0);
    return Array.from(out);
  };
  // H[10] = 2 of n = 4: scale 255 / 2 = 127.5; lut[20] = 1 * 127.5 -> 128 (half to even), lut[30] = 2 * 127.5 = 255
  assert.equal(eq([10, 20, 10, 30]), [0, 128, 0, 255]);
  // H[0] = 1 of 7: scale 255 / 6 = 42.5; lut[1] = 42.5 -> 42 (half to even), lut[2] = 6 * 42.5 = 255
  assert.equal(eq([0, 1, 2, 2, 2, 2, 2]), [0, 42, 255, 255, 255, 255, 255]);
  // H[0] = 3 of 6: scale 85; lut[100] = 85, lut[200] = 3 * 85 = 255
  assert.equal(eq([0, 0, 100, 0, 200, 200]), [0, 0, 85, 0, 255, 255]);
  assert.equal(eq([5, 5, 5, 5]), [5, 5, 5, 5], 'a constant image stays as it is');
  // through a histeq writer: a 48x48 image, left half 50, right half 100 -> 0 and 255 -> 0 and 1
  const px = new Uint8Array(P);
  for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) px[r * S + c] = c < 24 ? 50 : 100;
  const out = new Float32Array(P);
  new InputWriter({ size: 48, resize: 'none', normalize: 'histeq' }).write(px, 0, out, 0);
  for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) assert.is(out[r * S + c], c < 24 ? 0 : 1);
});

test('invalid specs: errors name the field, the expected and the actual value', () => {
  assert.throws(() => checkInputSpec({ size: 48, resize: 'crop', normalize: 'unit' }), /input\.size: resize 'crop' .* must be in \[16, 47\], got 48/);
  assert.throws(() => checkInputSpec({ size: 12, resize: 'crop', normalize: 'unit' }), /got 12/);
  assert.throws(() => checkInputSpec({ size: 40, resize: 'none', normalize: 'unit' }), /input\.size: resize 'none' .* size must be 48, got 40/);
  assert.throws(() => checkInputSpec({ size: 48, resize: 'scale', normalize: 'unit' }), /input\.size: resize 'scale' .* must be in \[49, 256\], got 48/);
  assert.throws(() => checkInputSpec({ size: 40.5, resize: 'crop', normalize: 'unit' }), /input\.size: size must be an integer/);
  assert.throws(
    () => checkInputSpec({ size: 48, resize: 'none', normalize: 'zscore' }, 'ferlab.json inputSpec'),
    /ferlab\.json inputSpec\.normalize: normalize must be one of unit, standardize, histeq, got "zscore"/,
  );
  assert.throws(() => checkInputSpec({ size: 48, resize: 'none', normalize: 'unit', mean: 0.5 }), /unknown key\(s\) mean/);
});

test('settings: `input` is optional (absent from the defaults), strict, and checked against the model before any run', () => {
  assert.not.ok('input' in DEFAULT_SETTINGS, 'the default settings have no input key (records of default runs unchanged)');
  const bad = TrainSettingsSchema.safeParse({ input: { size: 48, resize: 'crop' } });
  assert.not.ok(bad.success);
  assert.equal(bad.error!.issues[0].path, ['input', 'size']);
  assert.match(bad.error!.issues[0].message, /resize 'crop' .* \[16, 47\], got 48/);
  const extra = TrainSettingsSchema.safeParse({ input: { size: 40, crop: true } });
  assert.not.ok(extra.success);
  assert.match(JSON.stringify(extra.error!.issues), /crop/);
  // the group is created by a dotted override
  const s = applyOverrides(DEFAULT_SETTINGS, ['input.size=40', 'input.resize=crop']);
  assert.equal(s.input, { size: 40, resize: 'crop' });
  assert.throws(
    () => applyOverrides(DEFAULT_SETTINGS, ['input.resize=zoom']),
    (e: Error) => e instanceof ConfigError && /input\.resize/.test(e.message),
  );
  const exp = defineExperiment({ name: 'inputs', description: 'test', runs: [{ name: 'deep-fer', model: 'deep', labels: 'fer' }], quick: {} });
  // size 40 over deep's default resize 'none': only the model's default tells, so resolveRuns does
  assert.throws(
    () => resolveRuns(exp, { overrides: ['input.size=40'] }),
    (e: Error) => e instanceof ConfigError && /run 'deep-fer': input\.size: resize 'none' .* got 40/.test(e.message) && /model 'deep'/.test(e.message),
  );
  assert.throws(
    () => resolveRuns(exp, { overrides: ['tta=tencrop'] }),
    (e: Error) => e instanceof ConfigError && /tta 'tencrop' .* needs input\.resize 'crop'/.test(e.message),
  );
  const ok = resolveRuns(exp, { overrides: ['input={"size":40,"resize":"crop"}', 'tta=tencrop'] });
  assert.equal(ok[0].input, { size: 40, resize: 'crop' });
  assert.not.ok('input' in resolveRuns(exp)[0], 'runs without the setting have no input key');
});

test('registry: a model may declare its default input; runs override it field by field; too small an input is an error', async () => {
  await tf.setBackend('cpu');
  registerModel({
    name: 'test-crop40',
    description: 'test model with a 40x40 crop input',
    input: { size: 40, resize: 'crop', normalize: 'unit' },
    create: (o) => buildCnn({ blocks: [{ filters: 4, dropout: 0 }], dense: 8, denseDropout: 0 }, o.inputShape, o.numClasses, o.seed),
  });
  assert.throws(
    () => registerModel({ name: 'test-bad', description: '', input: { size: 48, resize: 'crop', normalize: 'unit' }, create: () => tf.sequential() }),
    /model 'test-bad' input\.size/,
  );
  assert.equal(resolveInputSpec('test-crop40'), { size: 40, resize: 'crop', normalize: 'unit' });
  assert.equal(resolveInputSpec('test-crop40', { normalize: 'standardize' }), { size: 40, resize: 'crop', normalize: 'standardize' });
  assert.equal(resolveInputSpec('deep'), { size: 48, resize: 'none', normalize: 'unit' });
  assert.throws(() => resolveInputSpec('deep', { resize: 'crop' }), /input\.size: resize 'crop' .* got 48 .*model 'deep'/);
  const m = createModel('test-crop40', { numClasses: 3 });
  assert.equal(m.inputs[0].shape, [null, 40, 40, 1]);
  m.dispose();
  // deep: five 2x2 max-pools, 16 -> 8 -> 4 -> 2 -> 1 -> 0
  assert.throws(() => createModel('deep', { numClasses: 7, inputShape: [16, 16, 1] }), /model 'deep' .*input \[16, 16, 1\]/);
});

test('training batches: a random 40x40 window (top, then left drawn after the flip) of the possibly mirrored image', () => {
  const n = 6;
  const px = ramps(n);
  const split = { index: Int32Array.from({ length: n }, (_, i) => i), label: new Uint8Array(n), target: new Float32Array(n * 2).fill(0.5) };
  const opts = { batchSize: 3, augment: { flip: true, shift: 0 }, loss: 'crossentropy' as const, sampleOneHot: false };
  const batches = new TrainBatches(px, split, 2, { ...opts, input: crop40, rng: new Rng(3) });
  // the same draws replayed here: shuffle, then per image flip, top, left
  const rng = new Rng(3);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const corners = new Set<string>();
  for (let epoch = 0; epoch < 3; epoch++) {
    rng.shuffle(order);
    let k = 0;
    for (const b of batches.epoch()) {
      assert.is(b.x.length, 3 * 1600);
      for (let i = 0; i < b.n; i++, k++) {
        const img = order[k];
        const flip = rng.uniform() < 0.5;
        const top = rng.int(9);
        const left = rng.int(9);
        corners.add(`${top},${left}`);
        for (let y = 0; y < 40; y++)
          for (let x = 0; x < 40; x++) {
            const c = flip ? 47 - (left + x) : left + x;
            const want = Math.fround((2 * (top + y) + 3 * c + img) / 255);
            if (b.x[i * 1600 + y * 40 + x] !== want) assert.unreachable(`epoch ${epoch} image ${img} (${y}, ${x}): ${b.x[i * 1600 + y * 40 + x]} vs ${want}`);
          }
      }
    }
  }
  assert.ok(corners.size > 5, `windows vary: ${[...corners].join(' ')}`);
});

test('training batches: the default spec gives the very batches of no spec; scale + histeq of a step image in closed form', () => {
  const n = 4;
  const px = new Uint8Array(n * P);
  for (let k = 0; k < n; k++) for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) px[k * P + r * S + c] = (r * 5 + c * 11 + k) % 256;
  const split = { index: Int32Array.from([3, 1, 0, 2]), label: Uint8Array.from([0, 1, 0, 1]), target: Float32Array.from([1, 0, 0, 1, 1, 0, 0, 1]) };
  const opts = { batchSize: 2, augment: { flip: true, shift: 2, ...AUGMENT_OFF, rotation: 5 }, loss: 'crossentropy' as const, sampleOneHot: false };
  const a = new TrainBatches(px, split, 2, { ...opts, rng: new Rng(9) });
  const b = new TrainBatches(px, split, 2, { ...opts, input: { ...DEFAULT_INPUT }, rng: new Rng(9) });
  for (let e = 0; e < 2; e++) {
    const xa = [...a.epoch()].map((q) => Array.from(q.x));
    const xb = [...b.epoch()].map((q) => Array.from(q.x));
    assert.equal(xb, xa);
  }
  assert.equal(b.getState(), a.getState(), 'same random state');

  // left half 50, right half 100: equalised to 0 and 255, i.e. 0 and 1; resized 48 -> 64, column j samples
  // s = clamp(0.75 j - 0.125, 0, 47), between columns 23 (0) and 24 (1): value clamp(s - 23, 0, 1); mirrored: 1 - that
  const step = new Uint8Array(2 * P);
  for (let k = 0; k < 2; k++) for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) step[k * P + r * S + c] = c < 24 ? 50 : 100;
  const sp = { index: Int32Array.from([0, 1]), label: Uint8Array.from([0, 1]), target: Float32Array.from([1, 0, 0, 1]) };
  const t = new TrainBatches(step, sp, 2, {
    batchSize: 2,
    augment: { flip: true, shift: 0 },
    loss: 'crossentropy',
    sampleOneHot: false,
    input: { size: 64, resize: 'scale', normalize: 'histeq' },
    rng: new Rng(1),
  });
  const rng = new Rng(1);
  let flips = 0;
  for (let e = 0; e < 4; e++) {
    rng.shuffle(Int32Array.from([0, 1]));
    const [batch] = [...t.epoch()];
    for (let i = 0; i < 2; i++) {
      const flip = rng.uniform() < 0.5;
      flips += flip ? 1 : 0;
      for (let r = 0; r < 64; r++)
        for (let j = 0; j < 64; j++) {
          const s = Math.min(47, Math.max(0, 0.75 * j - 0.125));
          const v = Math.min(1, Math.max(0, s - 23));
          const got = batch.x[i * 4096 + r * 64 + j];
          if (Math.abs(got - (flip ? 1 - v : v)) > 1e-7) assert.unreachable(`epoch ${e} image ${i} (${r}, ${j}) flip ${flip}: ${got} vs ${flip ? 1 - v : v}`);
        }
    }
  }
  assert.ok(flips > 0 && flips < 8, `both mirrored and plain images seen (${flips} of 8 mirrored)`);
});

test('TTA with a spec: the centre view is the evaluation input; tencrop needs a crop input; standardised views', async () => {
  await tf.setBackend('cpu');
  const px = ramps(3);
  const rows = [2, 0];
  const ev = [...inputBatches(px, Int32Array.from(rows), 2, crop40)][0].x;
  const flip = buildTtaBatch(px, rows, 'flip', { input: crop40 });
  assert.is(flip.length, 2 * 2 * 1600);
  for (let j = 0; j < 2; j++)
    assert.equal(
      Array.from(flip.subarray(j * 3200, j * 3200 + 1600)),
      Array.from(ev.subarray(j * 1600, (j + 1) * 1600)),
      `image ${j}: view 0 = evaluation input`,
    );
  // tencrop with standardisation: view 0 is the top-left window, standardised (mean and std of the ramp window by hand)
  const ten = buildTtaBatch(px, [1], 'tencrop', { input: { size: 40, resize: 'crop', normalize: 'standardize' } });
  assert.is(ten.length, 10 * 1600);
  const sd = Math.sqrt((13 * (1600 - 1)) / 12);
  for (let y = 0; y < 40; y += 7)
    for (let x = 0; x < 40; x += 5) assert.ok(Math.abs(ten[y * 40 + x] - (2 * y + 3 * x - 97.5) / sd) < 1e-5, `top-left view (${y}, ${x})`);
  assert.throws(() => buildTtaBatch(px, [0], 'tencrop', { input: scale64 }), /tencrop .* needs an input with resize 'crop'/);
  const sc = buildTtaBatch(px, [0], 'flip', { input: scale64 });
  assert.is(sc.length, 2 * 4096);
  // the mirrored view of a ramp 2 r + 3 c: columns reversed, (r, j) -> 2 s(r) + 3 (47 - s(j))
  const s = (d: number) => Math.min(47, Math.max(0, 0.75 * d - 0.125));
  assert.ok(Math.abs(sc[4096 + 10 * 64 + 20] - (2 * s(10) + 3 * (47 - s(20))) / 255) < 2e-7);
  // record: the crop is the model input side
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [40, 40, 1] }), tf.layers.dense({ units: 3 })] });
  const r = predictProbabilitiesTTA(model, px, [0, 1], 'tencrop', { input: crop40 });
  assert.equal(r.record, { tta: 'tencrop', views: 10, crop: 40, average: 'probabilities' });
  assert.throws(
    () => predictProbabilitiesTTA(model, px, [0], 'flip', { input: scale64 }),
    /takes inputs \[batch, 40, 40, 1\] but its input spec .* makes \[batch, 64, 64, 1\]/,
  );
  // predict: the model input of a crop spec is the evaluation input, and classify feeds [n, 40, 40, 1]
  const x = modelInput(px.slice(2 * P, 3 * P), crop40);
  assert.equal(Array.from(x), Array.from(ev.subarray(0, 1600)));
  const c = classify({ model, meta: { classes: ['a', 'b', 'c'], preprocessing: describeInput(crop40), inputSpec: crop40 }, dir: '', input: crop40 }, x);
  assert.is(c.logits.length, 3);
  model.dispose();
});

test.run();
