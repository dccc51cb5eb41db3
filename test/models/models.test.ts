/**
 * The model registry, and one forward pass plus training steps through every registered model on the wasm backend
 * (the backend ferlab trains on here). A whole-model gradient is also checked against the cpu backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { createModel, listModels, registerModel, modelStats, buildCnn } from '../../src/models';
import { initBackend } from '../../src/backend/select';
import { installReluGradient } from '../../src/backend/ops';
import { Adam, ADAM_DEFAULTS } from '../../src/train/optimizer';
import { lossFn } from '../../src/train/loss';
import { assertClose, onBothBackends, values } from '../helpers/backends';

test('registry: baseline and deep are registered; unknown names and duplicates are errors', () => {
  const names = listModels();
  for (const n of ['baseline', 'deep']) assert.ok(names.includes(n), `${n} registered (have ${names})`);
  assert.throws(() => createModel('nope', { numClasses: 7 }), /unknown model 'nope'; registered: .*baseline/);
  assert.throws(() => registerModel({ name: 'baseline', description: '', create: () => tf.sequential() }), /already registered/);
});

test('model sizes: parameters and multiply-adds per image as documented', async () => {
  await initBackend('cpu');
  const b = modelStats(createModel('baseline', { numClasses: 8 }));
  const d = modelStats(createModel('deep', { numClasses: 8 }));
  // baseline: convs 1*32*9 + 32*64*9 + 64*128*9, BN 4*(32+64+128), dense 4608*256+256, 256*8+8
  assert.is(b.params, 288 + 18432 + 73728 + 4 * 224 + 4608 * 256 + 256 + 256 * 8 + 8);
  // MACs: 48*48*9*32 + 24*24*9*32*64 + 12*12*9*64*128 + 4608*256 + 256*8
  assert.is(b.macs, 48 * 48 * 9 * 32 + 24 * 24 * 9 * 32 * 64 + 12 * 12 * 9 * 64 * 128 + 4608 * 256 + 256 * 8);
  assert.ok(d.macs > b.macs, `deep (${d.macs}) costs more than baseline (${b.macs})`);
});

for (const name of listModels()) {
  test(`${name}: forward [4, 48, 48, 1] -> logits [4, C], and training steps on wasm lower the loss`, async () => {
    await initBackend('wasm');
    installReluGradient();
    for (const C of [7, 8]) {
      const model = createModel(name, { numClasses: C, seed: 3 });
      const x = tf.tensor4d(
        values(4 * 48 * 48, 1).map((v) => (v + 1) / 2),
        [4, 48, 48, 1],
      );
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), C) as tf.Tensor2D;
      const logits = model.predict(x) as tf.Tensor;
      assert.equal(logits.shape, [4, C]);
      assert.ok(Array.from(logits.dataSync()).every(Number.isFinite), 'finite logits');
      const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
      const before = vars.map((v) => v.clone());
      const opt = new Adam(ADAM_DEFAULTS);
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => lossFn('crossentropy', model.apply(x, { training: true }) as tf.Tensor2D, y), vars);
          opt.apply(vars, grads, 1e-3);
          losses.push(value.dataSync()[0]);
        });
      }
      const changed = vars.filter((v, i) => tf.max(tf.abs(tf.sub(v, before[i]))).dataSync()[0] > 0).length;
      assert.is(changed, vars.length, `every trainable weight updated (${changed}/${vars.length})`);
      assert.ok(losses.every(Number.isFinite), `finite losses ${losses}`);
      assert.ok(losses[4] < losses[0], `loss decreased on a fixed batch: ${losses.map((l) => l.toFixed(4))}`);
      opt.dispose();
      tf.dispose([...before, logits, x, y]);
      model.dispose();
    }
  });
}

test('whole-model gradients (conv, batch norm, relu, pool, dense) on wasm match cpu', async () => {
  // dropout off so both backends compute the same function
  const spec = {
    blocks: [
      { filters: 8, dropout: 0 },
      { filters: 16, dropout: 0 },
    ],
    dense: 12,
    denseDropout: 0,
  };
  const r = await onBothBackends(() => {
    installReluGradient();
    const model = buildCnn(spec, [20, 20, 1], 5, 7);
    const x = tf.tensor4d(values(6 * 20 * 20, 2), [6, 20, 20, 1]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'), 5) as tf.Tensor2D;
    const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const { value, grads } = tf.variableGrads(() => lossFn('crossentropy', model.apply(x, { training: true }) as tf.Tensor2D, y), vars);
    const out = [value, ...vars.map((v) => grads[v.name])];
    const kept = out.map((t) => t.clone());
    model.dispose();
    return kept;
  });
  assertClose(r, 5e-5, 'model gradients');
});

test.run();
