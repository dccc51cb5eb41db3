/**
 * The shared training step and its deferred read-back (src/train/step.ts): reading the loss and accuracy every few
 * steps gives exactly the numbers of a synchronous read after every step (the loop before the change), and ties in
 * the logits count as argmaxRows counts them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { createModel } from '../../src/models/registry';
import '../../src/models';
import { TrainBatches, type Batch } from '../../src/train/batches';
import { lossFn } from '../../src/train/loss';
import { Adam, ADAM_DEFAULTS } from '../../src/train/optimizer';
import { StepAccounting, trainingStep } from '../../src/train/step';
import { argmaxRows } from '../../src/util/argmax';
import { Rng } from '../../src/util/rng';

const C = 8;
const N = 64;

function fixture(): { batches: TrainBatches } {
  const rng = new Rng(5);
  const pixels = Uint8Array.from({ length: N * 2304 }, () => rng.int(256));
  const label = Uint8Array.from({ length: N }, (_, i) => (i * 3) % C);
  const target = new Float32Array(N * C);
  for (let i = 0; i < N; i++) target[i * C + label[i]] = 1;
  const batches = new TrainBatches(pixels, { index: Int32Array.from({ length: N }, (_, i) => i), label, target }, C, {
    batchSize: 16,
    augment: { flip: true, shift: 2 },
    loss: 'crossentropy',
    sampleOneHot: false,
    rng: new Rng(9),
  });
  return { batches };
}

test.before(async () => {
  await initBackend('wasm');
});

test('trainingStep + StepAccounting read every 5 steps = a synchronous read of loss and logits after every step', async () => {
  const steps = 12;
  // reference: the loop as it was, written out here (per-step dataSync of the loss, argmaxRows of the logits)
  const ref = fixture();
  const m1 = createModel('baseline', { numClasses: C, seed: 3 });
  const v1 = m1.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const o1 = new Adam(ADAM_DEFAULTS);
  const refLoss: number[] = [];
  let refCorrect = 0;
  const next = (gen: { it: Generator<Batch> }, b: TrainBatches) => {
    let r = gen.it.next();
    if (r.done) {
      gen.it = b.epoch();
      r = gen.it.next();
    }
    return r.value as Batch;
  };
  const g1 = { it: ref.batches.epoch() };
  for (let s = 0; s < steps; s++) {
    const b = next(g1, ref.batches);
    tf.tidy(() => {
      const x = tf.tensor4d(b.x, [b.n, 48, 48, 1]);
      const y = tf.tensor2d(b.y, [b.n, C]);
      let logits: tf.Tensor2D | undefined;
      const { value, grads } = tf.variableGrads(() => {
        logits = tf.keep(m1.apply(x, { training: true }) as tf.Tensor2D);
        return lossFn('crossentropy', logits, y);
      }, v1);
      o1.apply(v1, grads, 1e-3);
      refLoss.push(value.dataSync()[0]);
      const preds = argmaxRows(logits!.dataSync() as Float32Array, C);
      for (let i = 0; i < b.n; i++) if (preds[i] === b.label[i]) refCorrect++;
      logits!.dispose();
    });
  }
  // the shared step, read every 5 steps
  const mine = fixture();
  const m2 = createModel('baseline', { numClasses: C, seed: 3 });
  const ctx = {
    model: m2,
    vars: m2.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val),
    optimizer: new Adam(ADAM_DEFAULTS),
    loss: 'crossentropy' as const,
    numClasses: C,
  };
  const acc = new StepAccounting();
  const losses: number[] = [];
  let correct = 0;
  const g2 = { it: mine.batches.epoch() };
  for (let s = 1; s <= steps; s++) {
    trainingStep(ctx, next(g2, mine.batches), 1e-3, acc);
    if (s % 5 === 0 || s === steps) {
      assert.is(acc.pending, s % 5 === 0 ? 5 : steps % 5);
      const r = await acc.read();
      losses.push(...r.losses);
      correct += r.correct;
      assert.is(acc.pending, 0);
    }
  }
  assert.equal(losses, refLoss, 'per-step losses bit-identical');
  assert.is(correct, refCorrect);
  assert.ok(refCorrect > 0 && refCorrect < steps * 16, `a count that can differ: ${refCorrect}`);
  // same weights after the steps (same updates)
  const w1 = m1.getWeights().map((w) => w.dataSync());
  const w2 = m2.getWeights().map((w) => w.dataSync());
  for (let i = 0; i < w1.length; i++) assert.equal(Array.from(w2[i]), Array.from(w1[i]), `weight ${i}`);
  acc.dispose();
  o1.dispose();
  ctx.optimizer.dispose();
  m1.dispose();
  m2.dispose();
});

test('StepAccounting counts the first maximum on ties, as argmaxRows; an empty read is empty', async () => {
  const acc = new StepAccounting();
  const logits = tf.tensor2d([
    [1, 3, 3],
    [2, 2, 0],
    [0, 0, 5],
    [4, 1, 4],
  ]);
  // argmaxRows: 1, 0, 2, 0 (first maximum)
  assert.equal(Array.from(argmaxRows(logits.dataSync() as Float32Array, 3)), [1, 0, 2, 0]);
  tf.tidy(() => acc.add(tf.scalar(0.5), logits as tf.Tensor2D, Uint8Array.from([1, 1, 2, 3])));
  tf.tidy(() => acc.add(tf.scalar(0.25), logits as tf.Tensor2D, Uint8Array.from([2, 0, 2, 0])));
  const r = await acc.read();
  assert.equal(Array.from(r.losses), [0.5, 0.25]);
  assert.is(r.correct, 2 + 3);
  const empty = await acc.read();
  assert.is(empty.losses.length, 0);
  assert.is(empty.correct, 0);
  logits.dispose();
});

test.run();
