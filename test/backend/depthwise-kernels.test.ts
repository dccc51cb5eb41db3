/**
 * ferlab's depthwise-convolution gradient kernels on wasm (DepthwiseConv2dNativeBackpropInput / -Filter,
 * src/backend/wasm/kernels/depthwise.ts) and the stock wasm forward DepthwiseConv2dNative, against tfjs' cpu backend
 * (plain JavaScript kernels, the reference), on identical inputs, as test/backend/kernels.test.ts does for the other
 * kernels. Tolerance: max |wasm - cpu| / max |cpu| <= 2e-5 (float32 sums in another order, fused multiply-add).
 * Shapes cover: channel multiplier 1 (SIMD path) with channel counts a multiple of 4 and not (scalar tail),
 * multipliers 2 and 3 (scalar path), strides 1 and 2, 'same' (odd and even kernels: uneven padding) and 'valid',
 * kernel sizes 1, 2, 3, 5, non-square maps and kernels, and a mini-Xception-sized map. Then SeparableConv2D
 * (tf.separableConv2d and the tfjs layer) end to end: gradients match cpu and a model of them trains on wasm.
 * Each case prints its max relative errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { assertClose, onBothBackends, values } from '../helpers/backends';
import { initBackend } from '../../src/backend/select';
import { installReluGradient } from '../../src/backend/ops';
import { Adam, ADAM_DEFAULTS } from '../../src/train/optimizer';
import { lossFn } from '../../src/train/loss';

const TOL = 2e-5;
type Pad = 'same' | 'valid';
const worst = [0, 0, 0];

const cases: Array<{ x: [number, number, number, number]; k: [number, number]; m: number; stride: [number, number]; pad: Pad; path: string }> = [
  { x: [2, 9, 9, 8], k: [3, 3], m: 1, stride: [1, 1], pad: 'same', path: 'SIMD, stride 1 same' },
  { x: [2, 10, 10, 16], k: [3, 3], m: 1, stride: [2, 2], pad: 'same', path: 'SIMD, stride 2 same' },
  { x: [3, 11, 7, 5], k: [3, 3], m: 1, stride: [2, 2], pad: 'valid', path: 'stride 2 valid, odd sizes, 5 channels (scalar tail)' },
  { x: [2, 8, 9, 6], k: [5, 5], m: 1, stride: [1, 1], pad: 'valid', path: '5x5 valid, 6 channels' },
  { x: [2, 6, 7, 8], k: [2, 2], m: 1, stride: [1, 1], pad: 'same', path: 'even 2x2 kernel same (padding bottom/right only)' },
  { x: [2, 9, 8, 12], k: [3, 1], m: 1, stride: [2, 1], pad: 'same', path: 'non-square 3x1 kernel, strides [2, 1]' },
  { x: [2, 5, 5, 8], k: [1, 1], m: 1, stride: [2, 2], pad: 'valid', path: '1x1 stride 2' },
  { x: [2, 4, 4, 3], k: [3, 3], m: 1, stride: [1, 1], pad: 'same', path: '3 channels (scalar only), tiny map' },
  { x: [2, 44, 44, 16], k: [3, 3], m: 1, stride: [1, 1], pad: 'same', path: "mini-Xception module 1's map (44x44x16)" },
  { x: [2, 12, 12, 4], k: [3, 3], m: 2, stride: [1, 1], pad: 'same', path: 'channel multiplier 2 (scalar path)' },
  { x: [2, 7, 9, 3], k: [3, 3], m: 3, stride: [2, 2], pad: 'same', path: 'channel multiplier 3, stride 2' },
];

for (const c of cases) {
  test(`depthwise conv forward and gradients match cpu: ${JSON.stringify(c.x)} k${c.k.join('x')} x${c.m}, stride ${c.stride}, ${c.pad} (${c.path})`, async () => {
    const [, , , ci] = c.x;
    const r = await onBothBackends(() => {
      const x = tf.tensor4d(
        values(
          c.x.reduce((a, b) => a * b),
          31,
        ),
        c.x,
      );
      const w = tf.tensor4d(values(c.k[0] * c.k[1] * ci * c.m, 32), [c.k[0], c.k[1], ci, c.m]);
      const y = tf.depthwiseConv2d(x, w, c.stride, c.pad);
      const dyWeights = tf.tensor(values(y.size, 33), y.shape);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dyWeights)),
      )([x, w]);
      return [y, dx, dw];
    });
    const errs = assertClose(r, TOL, JSON.stringify(c), ['forward', 'input gradient', 'filter gradient']);
    errs.forEach((e, i) => (worst[i] = Math.max(worst[i], e)));
    console.log(`  ${c.path}: max rel error forward ${errs[0].toExponential(1)}, dx ${errs[1].toExponential(1)}, dW ${errs[2].toExponential(1)}`);
  });
}

test("the kernels are ferlab's on wasm; dilations > 1 are a clear error", async () => {
  await initBackend('wasm');
  for (const name of ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'])
    assert.ok(tf.getKernel(name, 'wasm'), `${name} registered for wasm`);
  const x = tf.ones([1, 6, 6, 4]);
  const dy = tf.ones([1, 6, 6, 4]);
  assert.throws(
    () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dilations: 2, filterShape: [3, 3, 4, 1] }),
    /dilations \[2, 2\] are not supported/,
  );
  tf.dispose([x, dy]);
});

test('separableConv2d (depthwise + pointwise, tf.separableConv2d) forward and gradients match cpu', async () => {
  const r = await onBothBackends(() => {
    const x = tf.tensor4d(values(3 * 11 * 11 * 8, 41), [3, 11, 11, 8]);
    const dw = tf.tensor4d(values(3 * 3 * 8, 42), [3, 3, 8, 1]);
    const pw = tf.tensor4d(values(8 * 16, 43), [1, 1, 8, 16]);
    const f = (a: tf.Tensor, d: tf.Tensor, p: tf.Tensor) => tf.separableConv2d(a as tf.Tensor4D, d as tf.Tensor4D, p as tf.Tensor4D, 1, 'same');
    const y = f(x, dw, pw);
    const wts = tf.tensor(values(y.size, 44), y.shape);
    return [y, ...tf.grads((a: tf.Tensor, d: tf.Tensor, p: tf.Tensor) => tf.sum(tf.mul(f(a, d, p), wts)))([x, dw, pw])];
  });
  const errs = assertClose(r, TOL, 'separableConv2d', ['y', 'dx', 'd depthwise', 'd pointwise']);
  console.log(`  separableConv2d: max rel errors ${errs.map((e) => e.toExponential(1)).join(', ')}`);
});

/** A small model of the layers mini-Xception uses: SeparableConv2D, BatchNorm, ReLU, MaxPool, Add, GlobalAveragePooling2D. */
function sepModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const input = tf.input({ shape: [12, 12, 4] });
  const res = tf.layers
    .conv2d({ filters: 8, kernelSize: 1, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(1) })
    .apply(input) as tf.SymbolicTensor;
  let t = tf.layers
    .separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init(2), pointwiseInitializer: init(3) })
    .apply(input) as tf.SymbolicTensor;
  t = tf.layers.batchNormalization({ epsilon: 1e-5 }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.activation({ activation: 'relu' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers
    .separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', depthwiseInitializer: init(4), pointwiseInitializer: init(5) })
    .apply(t) as tf.SymbolicTensor;
  t = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.add().apply([t, res]) as tf.SymbolicTensor;
  t = tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', kernelInitializer: init(6) }).apply(t) as tf.SymbolicTensor;
  t = tf.layers.globalAveragePooling2d({}).apply(t) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: t });
}

test('SeparableConv2D layers: whole-model gradients on wasm match cpu, and the model trains on wasm', async () => {
  const x = () => tf.tensor4d(values(6 * 12 * 12 * 4, 45), [6, 12, 12, 4]);
  const y = () => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'), 5) as tf.Tensor2D;
  const r = await onBothBackends(() => {
    installReluGradient();
    const model = sepModel(50);
    const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const { value, grads } = tf.variableGrads(() => lossFn('crossentropy', model.apply(x(), { training: true }) as tf.Tensor2D, y()), vars);
    const kept = [value, ...vars.map((v) => grads[v.name])].map((t) => t.clone());
    model.dispose();
    return kept;
  });
  const errs = assertClose(r, 5e-5, 'separable model gradients');
  console.log(`  separable model: max rel error over loss and ${errs.length - 1} gradients ${Math.max(...errs).toExponential(1)}`);

  await initBackend('wasm');
  installReluGradient();
  const model = sepModel(60);
  const xs = x();
  const ys = y();
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const opt = new Adam(ADAM_DEFAULTS);
  const losses: number[] = [];
  for (let s = 0; s < 8; s++) {
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => lossFn('crossentropy', model.apply(xs, { training: true }) as tf.Tensor2D, ys), vars);
      opt.apply(vars, grads, 1e-2);
      losses.push(value.dataSync()[0]);
    });
  }
  assert.ok(losses.every(Number.isFinite), `finite losses ${losses}`);
  assert.ok(losses[7] < losses[0] * 0.9, `loss fell on a fixed batch: ${losses.map((l) => l.toFixed(4))}`);
  opt.dispose();
  model.dispose();
});

test.after(() => {
  console.log(
    `  worst max relative error over the depthwise cases: forward ${worst[0].toExponential(1)}, dx ${worst[1].toExponential(1)}, dW ${worst[2].toExponential(1)}`,
  );
});

test.run();
