/**
 * Knowledge distillation (setting `distill`, src/train/distill.ts, loss in src/train/loss.ts distillationLoss):
 * - the loss of 2 examples at T = 2, alpha = 0.5 against a value worked by hand (float64);
 * - cached targets = softmax(teacher logits / T) of the teacher's own prediction of those images (src/eval/predict.ts
 *   predictLogits on the teacher's input spec, here 40x40 centre crops), and for two teachers softmax(log(mean p) / T);
 *   only training rows are predicted;
 * - 'batch' targets = the teacher's prediction of the batch tensor;
 * - refusals: a teacher with other classes, a 'batch' teacher with another input spec;
 * - in the loop: alpha = 1 (distillation term weighted 0) trains bit for bit as without distillation, and alpha 0.5
 *   trains differently and records the teachers.
 * Tiny generated models and images, wasm backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { DEFAULT_INPUT, type InputSpec } from '../../src/data/input';
import { predictLogits } from '../../src/eval/predict';
import { createModel } from '../../src/models/registry';
import { loadLayersModelFromDir, saveLayersModel } from '../../src/models/io';
import { writeModelMeta } from '../../src/records/model';
import { Distiller } from '../../src/train/distill';
import { distillationLoss } from '../../src/train/loss';
import { train, type TrainConfig } from '../../src/train/loop';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { Rng } from '../../src/util/rng';
import { tempDir } from '../helpers/fixtures';
import { TINY_CNN, twoClassTask } from '../helpers/two-class';

test.before(async () => {
  await initBackend('wasm');
});

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-5): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) < tol, `${what}[${i}]: expected ${expected[i]}, got ${actual[i]}`);
}

test('distillationLoss: 2 examples, T = 2, alpha = 0.5 = 2.9228720351 (worked by hand)', () => {
  // student z, teacher t, true targets y (one-hot, and a FER+ vote distribution)
  const z = [
    [1, 2, 0],
    [0.5, -1, 1.5],
  ];
  const t = [
    [2, 0, 1],
    [0, 1, -1],
  ];
  const y = [
    [0, 1, 0],
    [0.25, 0, 0.75],
  ];
  // q = softmax(t / 2): row 0 softmax([1, 0, 0.5]) = [0.5064803911, 0.1863237232, 0.3071958857]; row 1 softmax([0, 0.5, -0.5]) = [0.3071958857, 0.5064803911, 0.1863237232]
  const q = [
    [0.506480391055654, 0.18632372322584756, 0.3071958857184984],
    [0.3071958857184984, 0.506480391055654, 0.18632372322584756],
  ];
  // hard: row 0 logsumexp([1, 2, 0]) - 2 = 2.4076059644 - 2 = 0.4076059644; row 1 logsumexp([0.5, -1, 1.5]) - (0.125 + 1.125) = 1.8715390319 - 1.25 = 0.6215390319; mean 0.5145724981
  // soft: row 0 logsumexp(z / 2 = [0.5, 1, 0]) = 1.6802696706, minus sum q z / 2 = 0.2532401955 + 0.1863237232 = 0.4395639188 -> 1.2407057518;
  //       row 1 logsumexp([0.25, -0.5, 0.75]) = 1.3881816024, minus 0.0767989714 - 0.2532401955 + 0.1397427924 = -0.0366984317 -> 1.4248800341; mean 1.3327928930
  // loss = 0.5 * 0.5145724981 + 0.5 * 4 * 1.3327928930 = 0.2572862491 + 2.6655857860 = 2.9228720351
  close(q.flat(), soften(t.flat(), 3, 2), 'q = softmax(t / 2)');
  const hard = tf.losses.softmaxCrossEntropy(tf.tensor2d(y), tf.tensor2d(z)) as tf.Scalar;
  close(hard.dataSync(), [0.5145724981485317], 'hard part');
  const loss = distillationLoss(hard, tf.tensor2d(z), tf.tensor2d(q), 2, 0.5).dataSync()[0];
  assert.ok(Math.abs(loss - 2.922872035053627) < 1e-5, `loss: expected 2.9228720351, got ${loss}`);
  // alpha = 1: the hard loss alone; alpha = 0: T^2 times the soft term alone
  close(distillationLoss(hard, tf.tensor2d(z), tf.tensor2d(q), 2, 1).dataSync(), [0.5145724981485317], 'alpha 1');
  close(distillationLoss(hard, tf.tensor2d(z), tf.tensor2d(q), 2, 0).dataSync(), [4 * 1.3327928929896806], 'alpha 0');
});

const CLASSES = ['a', 'b'];
const N = 40;
const rng = new Rng(4);
const pixels = Uint8Array.from({ length: N * 2304 }, () => rng.int(256));
const label = Uint8Array.from({ length: N }, (_, i) => i % 2);
/** Training split = the first 24 images; the rest are validation / test (never predicted by a teacher). */
const { ds, labels } = twoClassTask(pixels, label, 24, ['a', 'b']);

/** Saves a tiny CNN with ferlab.json (classes, input spec) as a teacher folder; returns the folder. */
async function teacherFolder(seed: number, input: InputSpec, classes = CLASSES, output = 'logits [batch, 2] float32'): Promise<string> {
  const dir = tempDir('ferlab-teacher-');
  const model = createModel(TINY_CNN, { numClasses: classes.length, seed, inputShape: [input.size, input.size, 1] });
  const meta = {
    run: 'teacher',
    model: TINY_CNN,
    labelSet: 'fer',
    classes,
    input: `[batch, ${input.size}, ${input.size}, 1] float32`,
    preprocessing: 'test',
    inputSpec: input,
    output,
  };
  await saveLayersModel(model, dir, { ferlab: meta });
  writeModelMeta(dir, meta);
  model.dispose();
  return dir;
}

/** softmax(v / T) of each row, float64. */
function soften(logits: ArrayLike<number>, C: number, T: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < logits.length; i += C) {
    const r = Array.from({ length: C }, (_, c) => logits[i + c] / T);
    const m = Math.max(...r);
    const s = r.reduce((a, v) => a + Math.exp(v - m), 0);
    out.push(...r.map((v) => Math.exp(v - m) / s));
  }
  return out;
}

const CROP40: InputSpec = { size: 40, resize: 'crop', normalize: 'unit' };

test("cached targets = softmax(teacher's own predict / T) on training rows; two teachers = softmax(log(mean p) / T)", async () => {
  const d1 = await teacherFolder(1, CROP40);
  const d2 = await teacherFolder(2, DEFAULT_INPUT);
  const cfg = { teacher: [d1], temperature: 3, alpha: 0.5, mode: 'cached' as const };
  const one = await Distiller.create(cfg, [d1], ds.pixels, labels.train, CLASSES, DEFAULT_INPUT, 8);
  // the teacher's own prediction, as src/eval/predict.ts makes it on its input spec (centre 40x40 crop)
  const m1 = await loadLayersModelFromDir(d1);
  const z1 = predictLogits(m1, ds.pixels, labels.train.index, 256, CROP40);
  close(one.cached!, soften(z1, 2, 3), 'one teacher');
  assert.is(one.cached!.length, 24 * 2, 'one row per training image, none for validation / test');
  assert.is(one.info.teachers[0].inputSpec.size, 40);
  assert.ok(one.info.cacheSeconds! >= 0);
  const two = await Distiller.create({ ...cfg, teacher: [d1, d2] }, [d1, d2], ds.pixels, labels.train, CLASSES, DEFAULT_INPUT, 8);
  const m2 = await loadLayersModelFromDir(d2);
  const p1 = soften(z1, 2, 1);
  const p2 = soften(predictLogits(m2, ds.pixels, labels.train.index, 256, DEFAULT_INPUT), 2, 1);
  const logMean = p1.map((p, i) => Math.log((p + p2[i]) / 2));
  close(two.cached!, soften(logMean, 2, 3), 'two teachers');
  // a batch gathers its rows (pos) and mixes them with its lambda
  const b = {
    x: new Float32Array(0),
    y: new Float32Array(0),
    label: new Uint8Array(2),
    n: 2,
    pos: Int32Array.from([5, 9]),
    mix: { kind: 'mixup' as const, lambda: 0.8 },
  };
  const got = one.targets(b, tf.zeros([2, 48, 48, 1])).dataSync();
  const c = one.cached!;
  close(got, [0.8 * c[10] + 0.2 * c[18], 0.8 * c[11] + 0.2 * c[19], 0.8 * c[18] + 0.2 * c[10], 0.8 * c[19] + 0.2 * c[11]], 'batch rows, mixed');
  m1.dispose();
  m2.dispose();
});

test("'batch' targets = softmax(teacher predict of the batch tensor / T)", async () => {
  const d = await teacherFolder(3, DEFAULT_INPUT);
  const dist = await Distiller.create({ teacher: [d], temperature: 2, alpha: 0.5, mode: 'batch' }, [d], ds.pixels, labels.train, CLASSES, DEFAULT_INPUT, 4);
  const x = tf.randomUniform([4, 48, 48, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const m = await loadLayersModelFromDir(d);
  const z = (m.predict(x) as tf.Tensor).dataSync();
  const b = { x: new Float32Array(0), y: new Float32Array(0), label: new Uint8Array(4), n: 4 };
  close(dist.targets(b, x).dataSync(), soften(z, 2, 2), 'batch-mode targets');
  dist.dispose();
  m.dispose();
});

test('refused: a teacher with other classes; a batch-mode teacher with another input spec; a teacher whose output is not logits', async () => {
  const other = await teacherFolder(4, DEFAULT_INPUT, ['b', 'a']);
  let err = '';
  await Distiller.create({ teacher: [other], temperature: 2, alpha: 0.5, mode: 'cached' }, [other], ds.pixels, labels.train, CLASSES, DEFAULT_INPUT, 4).catch(
    (e: Error) => (err = e.message),
  );
  assert.match(err, /predicts the classes \[b, a\], the student's label set has \[a, b\]/);
  const crop = await teacherFolder(5, CROP40);
  err = '';
  await Distiller.create({ teacher: [crop], temperature: 2, alpha: 0.5, mode: 'batch' }, [crop], ds.pixels, labels.train, CLASSES, DEFAULT_INPUT, 4).catch(
    (e: Error) => (err = e.message),
  );
  assert.match(err, /use distill.mode 'cached'/);
  const probs = await teacherFolder(7, DEFAULT_INPUT, CLASSES, 'probabilities [batch, 2] float32');
  err = '';
  await Distiller.create({ teacher: [probs], temperature: 2, alpha: 0.5, mode: 'cached' }, [probs], ds.pixels, labels.train, CLASSES, DEFAULT_INPUT, 4).catch(
    (e: Error) => (err = e.message),
  );
  assert.match(err, /not logits/);
});

test('loop: alpha 1 trains bit for bit as without distillation; alpha 0.5 differs and records its teacher', async () => {
  const d = await teacherFolder(6, CROP40);
  const cfg: TrainConfig = { ...TRAIN_DEFAULTS, model: TINY_CNN, epochs: 2, batchSize: 8, seed: 2, cutmix: { alpha: 1, prob: 1 } };
  const validate = () => ({ loss: 1, metrics: { accuracy: 0.5, macroF1: 0.5 } });
  const flat = (m: tf.LayersModel) => m.getWeights().flatMap((w) => Array.from(w.dataSync()));
  const plain = await train(cfg, ds, labels, { validate });
  const weight1 = await train({ ...cfg, distill: { teacher: [d], temperature: 4, alpha: 1, mode: 'cached' } }, ds, labels, { validate, teacherDirs: [d] });
  const a = flat(plain.model);
  const b = flat(weight1.model);
  const diff = a.findIndex((v, i) => v !== b[i]);
  assert.is(diff, -1, `first differing weight ${diff}: ${a[diff]} vs ${b[diff]}`);
  const half = await train({ ...cfg, distill: { teacher: [d], temperature: 4, alpha: 0.5, mode: 'cached' } }, ds, labels, { validate, teacherDirs: [d] });
  assert.ok(
    flat(half.model).some((v, i) => v !== a[i]),
    'alpha 0.5 changes the training',
  );
  assert.is(half.distill?.teachers[0].dir, d);
  assert.is(half.distill?.mode, 'cached');
  assert.is(half.distill?.combine, 'log of the mean probability');
  for (const r of [plain, weight1, half]) r.model.dispose();
});

test.run();
