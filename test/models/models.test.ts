/**
 * The model registry, and one forward pass plus training steps through every registered model on the wasm backend
 * (the backend ferlab trains on here). A whole-model gradient is also checked against the cpu backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createModel,
  listModels,
  registerModel,
  modelStats,
  buildCnn,
  buildResNet,
  buildMiniXception,
  freezeLayers,
  unfreezeLayers,
  saveLayersModel,
  loadLayersModelFromDir,
} from '../../src/models';
import { initBackend } from '../../src/backend/select';
import { installReluGradient } from '../../src/backend/ops';
import { Adam, ADAM_DEFAULTS } from '../../src/train/optimizer';
import { lossFn } from '../../src/train/loss';
import { assertClose, onBothBackends, values } from '../helpers/backends';

test('registry: baseline, deep, vgg13, vgg-cpu, resnet-cpu, mini-xception are registered; unknown names and duplicates are errors', () => {
  const names = listModels();
  for (const n of ['baseline', 'deep', 'vgg13', 'vgg-cpu', 'resnet-cpu', 'mini-xception']) assert.ok(names.includes(n), `${n} registered (have ${names})`);
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
  assert.is(d.macs, 37_890_048);
  // a training step: forward + weight gradient of every layer, input gradient of all but conv1 (fed by the input)
  assert.is(b.trainingMacs, 3 * b.macs - 48 * 48 * 9 * 32);
  assert.is(d.trainingMacs, 3 * 37_890_048 - 48 * 48 * 9 * 32);

  // vgg-cpu: convs 1*32*9 + 32*32*9, 32*64*9 + 64*64*9, 64*128*9 + 128*128*9, 128*256*9 + 256*256*9 (no bias);
  // BN 4 * 2*(32+64+128+256); dense 2304*256+256, 256*256+256, 256*8+8
  const v = modelStats(createModel('vgg-cpu', { numClasses: 8 }));
  const vConv = 9 * (32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 256 * 256);
  assert.is(v.params, vConv + 4 * 2 * (32 + 64 + 128 + 256) + 2304 * 256 + 256 + 256 * 256 + 256 + 256 * 8 + 8);
  assert.is(v.params, 1_832_488);
  const vMacs = 48 * 48 * 9 * (32 + 32 * 32) + 24 * 24 * 9 * (32 * 64 + 64 * 64) + 12 * 12 * 9 * (64 * 128 + 128 * 128) + 6 * 6 * 9 * (128 * 256 + 256 * 256);
  assert.is(v.macs, vMacs + 2304 * 256 + 256 * 256 + 256 * 8);
  assert.ok(v.macs / d.macs < 3.2, `vgg-cpu costs ${(v.macs / d.macs).toFixed(2)}x deep`);

  // resnet-cpu: stem 1*32*9; stage 1: 4 convs 32*32*9; stage 2: 32*64*9 + 3 * 64*64*9 + 1x1 32*64; stage 3: 64*128*9 +
  // 3 * 128*128*9 + 1x1 64*128; BN 4 * (32 + 4*32 + 5*64 + 5*128); dense 128*8 + 8
  const r = modelStats(createModel('resnet-cpu', { numClasses: 8 }));
  const rConv = 9 * 32 + 4 * 9 * 32 * 32 + 9 * 32 * 64 + 3 * 9 * 64 * 64 + 32 * 64 + 9 * 64 * 128 + 3 * 9 * 128 * 128 + 64 * 128;
  assert.is(r.params, rConv + 4 * (32 + 4 * 32 + 5 * 64 + 5 * 128) + 128 * 8 + 8);
  assert.is(r.params, 698_024);
  const rMacs =
    48 * 48 * 9 * 32 +
    24 * 24 * 4 * 9 * 32 * 32 +
    12 * 12 * (9 * 32 * 64 + 3 * 9 * 64 * 64 + 32 * 64) +
    6 * 6 * (9 * 64 * 128 + 3 * 9 * 128 * 128 + 64 * 128) +
    128 * 8;
  assert.is(r.macs, rMacs);
  // a functional model: only the stem conv reads the input (the first stage's shortcut is an identity)
  assert.is(r.trainingMacs, 3 * rMacs - 48 * 48 * 9 * 32);

  // mini-xception: the reference (oarriaga/face_classification mini_XCEPTION) has 58,423 parameters for 7 classes
  const x7 = modelStats(createModel('mini-xception', { numClasses: 7 }));
  assert.is(x7.params, 58_423);
  const x = modelStats(createModel('mini-xception', { numClasses: 8 }));
  assert.is(x.params, 58_423 + 9 * 128 + 1);
  // base convs 46x46 and 44x44; module k at map s (44, 22, 11, 6) from Cin to F, pooled to s' (22, 11, 6, 3):
  // shortcut s'^2 Cin F, separable 1: s^2 (9 Cin + Cin F), separable 2: s^2 (9 F + F F); head 3x3 conv on 3x3 to 8
  const mod = (s: number, sp: number, cin: number, f: number) => sp * sp * cin * f + s * s * (9 * cin + cin * f) + s * s * (9 * f + f * f);
  const xMacs =
    46 * 46 * 9 * 8 + 44 * 44 * 9 * 8 * 8 + mod(44, 22, 8, 16) + mod(22, 11, 16, 32) + mod(11, 6, 32, 64) + mod(6, 3, 64, 128) + 3 * 3 * 9 * 128 * 8;
  assert.is(x.macs, xMacs);
  const all = { baseline: b, deep: d, 'vgg-cpu': v, 'resnet-cpu': r, 'mini-xception': x };
  console.log(
    `  params / MMAC per image (8 classes): ${Object.entries(all)
      .map(([n, m]) => `${n} ${m.params} / ${(m.macs / 1e6).toFixed(2)}`)
      .join(', ')}`,
  );
});

test('mini-xception: logits (no softmax), residual Adds, separable convs with their own pointwise init; resnet-cpu: projection shortcuts', async () => {
  await initBackend('cpu');
  const m = createModel('mini-xception', { numClasses: 7, seed: 1 });
  const cls = m.layers.map((l) => l.getClassName());
  assert.is(cls.filter((c) => c === 'SeparableConv2D').length, 8);
  assert.is(cls.filter((c) => c === 'Add').length, 4);
  assert.is(cls[cls.length - 1], 'GlobalAveragePooling2D');
  assert.ok(!m.layers.some((l) => (l.getConfig() as { activation?: string }).activation === 'softmax'), 'no softmax anywhere');
  assert.equal(m.outputs[0].shape, [null, 7]);
  // pointwise kernels U(+-1/sqrt(Cin)), depthwise U(+-1/3) (tfjs' own layer would draw both with the depthwise rule)
  for (const l of m.layers.filter((q) => q.getClassName() === 'SeparableConv2D')) {
    const [dw, pw] = l.getWeights();
    const maxAbs = (t: tf.Tensor) => tf.max(tf.abs(t)).dataSync()[0];
    assert.ok(maxAbs(dw) <= 1 / 3 && maxAbs(dw) > 0.3, `${l.name} depthwise bound`);
    const bound = 1 / Math.sqrt(pw.shape[2] as number);
    assert.ok(maxAbs(pw) <= bound && maxAbs(pw) > 0.9 * bound, `${l.name} pointwise max ${maxAbs(pw)} vs bound ${bound}`);
  }
  // freeze 'conv' keeps the head conv (the last layer with weights, before the global pooling) trainable
  const frozen = freezeLayers(m, 'conv');
  assert.ok(!frozen.includes('head_conv') && frozen.includes('m4_sep2') && frozen.includes('conv1'), `frozen: ${frozen}`);
  assert.equal(
    m.trainableWeights.map((w) => w.originalName),
    ['head_conv/kernel', 'head_conv/bias'],
  );
  unfreezeLayers(m, frozen);
  assert.ok(m.layers.every((l) => l.trainable));
  m.dispose();

  const r = createModel('resnet-cpu', { numClasses: 7, seed: 1 });
  const names = r.layers.map((l) => l.name);
  for (const n of ['s2b1_short_conv', 's3b1_short_conv']) assert.ok(names.includes(n), n);
  assert.ok(!names.includes('s1b1_short_conv') && !names.includes('s2b2_short_conv'), 'identity shortcuts elsewhere');
  assert.equal(r.getLayer('s3b2_add').outputShape, [null, 6, 6, 128]);
  r.dispose();
});

for (const name of ['vgg-cpu', 'resnet-cpu', 'mini-xception']) {
  test(`${name}: saved in tfjs layers format, reloads with plain tf.loadLayersModel and predicts the same`, async () => {
    await initBackend('cpu');
    const model = createModel(name, { numClasses: 8, seed: 9 });
    const dir = mkdtempSync(join(tmpdir(), 'ferlab-model-'));
    try {
      await saveLayersModel(model, dir);
      const back = await loadLayersModelFromDir(dir);
      const x = tf.tensor4d(
        values(2 * 48 * 48, 4).map((v) => (v + 1) / 2),
        [2, 48, 48, 1],
      );
      const a = (model.predict(x) as tf.Tensor).dataSync();
      const b2 = (back.predict(x) as tf.Tensor).dataSync();
      assert.equal(Array.from(b2), Array.from(a));
      back.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  });
}

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

test('whole-model gradients of small resnet and mini-xception graphs (residual Add, stride-2 and separable convs, global pooling) on wasm match cpu', async () => {
  for (const [what, build] of [
    ['resnet', () => buildResNet({ stem: 8, stages: [8, 16], blocks: 2 }, [20, 20, 1], 5, 7)],
    ['mini-xception', () => buildMiniXception({ base: 4, modules: [8, 16] }, [20, 20, 1], 5, 7)],
  ] as const) {
    const r = await onBothBackends(() => {
      installReluGradient();
      const model = build();
      const x = tf.tensor4d(values(6 * 20 * 20, 2), [6, 20, 20, 1]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'), 5) as tf.Tensor2D;
      const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
      const { value, grads } = tf.variableGrads(() => lossFn('crossentropy', model.apply(x, { training: true }) as tf.Tensor2D, y), vars);
      const kept = [value, ...vars.map((v) => grads[v.name])].map((t) => t.clone());
      model.dispose();
      return kept;
    });
    const errs = assertClose(r, 5e-5, `${what} gradients`);
    console.log(`  ${what}: max rel error over the loss and ${errs.length - 1} gradients ${Math.max(...errs).toExponential(1)}`);
  }
});

test.run();
