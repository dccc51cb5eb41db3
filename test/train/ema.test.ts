/**
 * Weight averaging (setting `ema`, src/train/ema.ts WeightEma): the average after two updates against the formula
 * ema <- d ema + (1 - d) w worked by hand, for a dense kernel, its bias and a BatchNorm moving mean (averaged like
 * every other weight, as timm's ModelEmaV2); the warm-up decay min(d, (1 + n) / (10 + n)); withAveraged puts the
 * trained weights back; and in the training loop (src/train/loop.ts): a run stopped after its first checkpoint and
 * continued ends with exactly the weights of an uninterrupted run, the average is what the model ends with (not the
 * last trained weights), and the record says so. Tiny generated task, wasm backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select';
import { WeightEma } from '../../src/train/ema';
import { train, type TrainConfig } from '../../src/train/loop';
import { TRAIN_DEFAULTS } from '../../src/train/settings';
import { Rng } from '../../src/util/rng';
import { tempDir } from '../helpers/fixtures';
import { TINY_CNN, twoClassTask } from '../helpers/two-class';

test.before(async () => {
  await initBackend('wasm');
});

/** A 2-input dense layer (kernel [2, 1], bias [1]) then BatchNormalization of its 1 output. */
function tinyModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [2], units: 1, name: 'd' }));
  m.add(tf.layers.batchNormalization({ name: 'bn' }));
  return m;
}

/** Sets the model's weights by name: kernel [k0, k1], bias, BN moving mean; the other BN weights stay. */
function setWeights(m: tf.LayersModel, k: [number, number], bias: number, movingMean: number): void {
  for (const w of m.weights) {
    const v = (w as unknown as { val: tf.Variable }).val;
    if (w.originalName === 'd/kernel') v.assign(tf.tensor2d([[k[0]], [k[1]]]));
    else if (w.originalName === 'd/bias') v.assign(tf.tensor1d([bias]));
    else if (w.originalName === 'bn/moving_mean') v.assign(tf.tensor1d([movingMean]));
  }
}

/** The averaged weights by name within their layer (kernel, bias, gamma, ...; tfjs suffixes the full names of later models), as plain numbers. */
function averaged(ema: WeightEma, m: tf.LayersModel): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  m.weights.forEach((w, i) => (out[w.originalName.split('/').slice(-1)[0]] = Array.from(ema.weights[i].dataSync())));
  return out;
}

function close(actual: number[], expected: number[], what: string): void {
  assert.is(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) < 1e-6, `${what}[${i}]: expected ${expected[i]}, got ${a}`));
}

test('two updates with decay 0.9 match ema <- 0.9 ema + 0.1 w worked by hand (kernel, bias, BN moving mean)', () => {
  const m = tinyModel();
  // w0: kernel [1, 2], bias 0.5, moving mean 0
  setWeights(m, [1, 2], 0.5, 0);
  const ema = new WeightEma(m, { decay: 0.9, warmup: false });
  // step 1: w1 = kernel [3, -2], bias 1.5, moving mean 10
  setWeights(m, [3, -2], 1.5, 10);
  ema.update(1);
  // ema1 = 0.9 w0 + 0.1 w1: kernel [0.9 + 0.3, 1.8 - 0.2] = [1.2, 1.6]; bias 0.45 + 0.15 = 0.6; mean 0 + 1 = 1
  let a = averaged(ema, m);
  close(a.kernel, [1.2, 1.6], 'kernel after step 1');
  close(a.bias, [0.6], 'bias after step 1');
  close(a.moving_mean, [1], 'moving mean after step 1');
  // step 2: w2 = kernel [0, 4], bias -1, moving mean 20
  setWeights(m, [0, 4], -1, 20);
  ema.update(2);
  // ema2 = 0.9 ema1 + 0.1 w2: kernel [1.08, 1.44 + 0.4] = [1.08, 1.84]; bias 0.54 - 0.1 = 0.44; mean 0.9 + 2 = 2.9
  a = averaged(ema, m);
  close(a.kernel, [1.08, 1.84], 'kernel after step 2');
  close(a.bias, [0.44], 'bias after step 2');
  close(a.moving_mean, [2.9], 'moving mean after step 2');
  // the BN gamma (1) and moving variance (1) never changed: their average stays 1
  close(a.gamma, [1], 'gamma');
  close(a.moving_variance, [1], 'moving variance');
  ema.dispose();
  m.dispose();
});

test('warm-up: decay min(0.999, (1 + n) / (10 + n)) = 2/11 at the first update', () => {
  const m = tinyModel();
  setWeights(m, [1, 0], 0, 0);
  const ema = new WeightEma(m, { decay: 0.999, warmup: true });
  assert.is(ema.decayAt(1), 2 / 11);
  assert.is(ema.decayAt(10000), 0.999);
  setWeights(m, [3, 0], 0, 0);
  ema.update(1);
  // 2/11 * 1 + 9/11 * 3 = 29/11
  close(averaged(ema, m).kernel, [29 / 11, 0], 'kernel after a warm-up step');
  ema.dispose();
  m.dispose();
});

test('withAveraged: the averaged weights inside, the trained ones back afterwards', () => {
  const m = tinyModel();
  setWeights(m, [1, 2], 0.5, 0);
  const ema = new WeightEma(m, { decay: 0.5, warmup: false });
  setWeights(m, [3, 4], 1.5, 2);
  ema.update(1);
  const x = tf.tensor2d([[1, 1]]);
  // inside: kernel [2, 3], bias 1 -> dense output 6; outside: [3, 4], 1.5 -> 8.5
  const inside = ema.withAveraged(() => (m.layers[0].apply(x) as tf.Tensor).dataSync()[0]);
  const after = (m.layers[0].apply(x) as tf.Tensor).dataSync()[0];
  assert.is(inside, 6, `dense output with the average: expected 6, got ${inside}`);
  assert.is(after, 8.5, `dense output after: expected 8.5, got ${after}`);
  ema.dispose();
  m.dispose();
});

// --- in the training loop ---

function synthetic() {
  const rng = new Rng(11);
  const pixels = Uint8Array.from({ length: 96 * 2304 }, () => rng.int(256));
  return twoClassTask(
    pixels,
    Uint8Array.from({ length: 96 }, (_, i) => i % 2),
    64,
    ['a', 'b'],
  );
}
const { ds, labels } = synthetic();
const cfg: TrainConfig = {
  ...TRAIN_DEFAULTS,
  model: TINY_CNN,
  epochs: 3,
  batchSize: 16,
  lr: 1e-2,
  augment: { ...TRAIN_DEFAULTS.augment, flip: true, shift: 2 },
  mixup: { alpha: 0.4, prob: 1 },
  ema: { decay: 0.9, warmup: false },
  seed: 5,
};
/** Validation that prefers later epochs (each epoch better than the last): the final model is the last epoch's. */
let calls = 0;
const validate = () => ({ loss: 1, metrics: { accuracy: ++calls / 100, macroF1: 0 } });
const flat = (m: tf.LayersModel) => m.getWeights().flatMap((w) => Array.from(w.dataSync()));

test('loop: stopped after the checkpoint of epoch 1 and continued = uninterrupted (weights, history); the model is the average', async () => {
  const dirA = tempDir();
  const whole = await train(cfg, ds, labels, { validate, checkpoint: join(dirA, 'ck.bin') });
  const dirB = tempDir();
  await train(cfg, ds, labels, {
    validate,
    checkpoint: join(dirB, 'ck.bin'),
    onEpoch: (r) => {
      if (r.epoch === 1) throw new Error('killed');
    },
  }).catch((e: Error) => assert.is(e.message, 'killed'));
  const resumed = await train(cfg, ds, labels, { validate, checkpoint: join(dirB, 'ck.bin') });
  assert.is(resumed.resumedFrom, 1);
  const a = flat(whole.model);
  const b = flat(resumed.model);
  assert.is(a.length, b.length);
  const diff = a.findIndex((v, i) => v !== b[i]);
  assert.is(diff, -1, `first differing weight ${diff}: ${a[diff]} vs ${b[diff]}`);
  assert.equal(
    resumed.history.map((h) => h.trainLoss),
    whole.history.map((h) => h.trainLoss),
  );
  assert.equal(whole.ema, { decay: 0.9, warmup: false, updates: 12 }, `ema record ${JSON.stringify(whole.ema)}`);
  // the same run without ema ends with other weights (the last trained ones): the average is what the model holds
  const plain = await train({ ...cfg, ema: undefined }, ds, labels, { validate });
  assert.ok(
    flat(plain.model).some((v, i) => v !== a[i]),
    'with ema the final weights differ from the trained ones',
  );
  assert.is(plain.ema, undefined);
  for (const r of [whole, resumed, plain]) r.model.dispose();
});

test.run();
