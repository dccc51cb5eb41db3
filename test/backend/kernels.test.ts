/**
 * ferlab's wasm kernels against tfjs' cpu backend (plain JavaScript kernels, the reference), on identical inputs.
 * Tolerance: max |wasm - cpu| / max |cpu| <= 2e-5 for GEMM-based kernels (float32 sums in another order, fused
 * multiply-add, Winograd transforms), 1e-6 for elementwise ones. Shapes cover every code path: direct implicit GEMM,
 * Winograd (3x3 stride 1 on maps >= 6x6), im2col (few input channels), XNNPACK fallback, small-map weight
 * gradients, strides 1 and 2, 'same' and 'valid', kernel sizes 1, 3, 5.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { assertClose, convWithGrads, onBothBackends, values } from '../helpers/backends';
import { batchNormTrain, dropoutTrain, installReluGradient } from '../../src/backend/ops';
import { initBackend } from '../../src/backend/select';
import { Adam } from '../../src/train/optimizer';

const GEMM_TOL = 2e-5;
const EW_TOL = 1e-6;

type Pad = 'same' | 'valid';
const convCases: Array<{ x: [number, number, number, number]; k: number; co: number; stride: number; pad: Pad; path: string; winograd?: '4' }> = [
  { x: [2, 9, 9, 8], k: 3, co: 16, stride: 1, pad: 'same', path: 'winograd' },
  { x: [2, 7, 11, 4], k: 3, co: 12, stride: 1, pad: 'valid', path: 'winograd, odd sizes' },
  { x: [3, 12, 12, 16], k: 3, co: 8, stride: 1, pad: 'same', path: 'winograd, 12x12 (winograd weight gradient)' },
  { x: [2, 8, 8, 6], k: 3, co: 10, stride: 1, pad: 'same', path: 'direct (channels not a multiple of 4)' },
  { x: [2, 10, 10, 8], k: 3, co: 16, stride: 2, pad: 'same', path: 'direct, stride 2' },
  { x: [2, 11, 9, 5], k: 5, co: 7, stride: 2, pad: 'valid', path: 'direct, 5x5 stride 2 valid' },
  { x: [2, 6, 6, 16], k: 1, co: 9, stride: 1, pad: 'valid', path: '1x1' },
  { x: [3, 16, 16, 1], k: 3, co: 8, stride: 1, pad: 'same', path: 'one input channel (XNNPACK forward, one-channel weight gradient)' },
  { x: [2, 9, 7, 1], k: 5, co: 16, stride: 1, pad: 'valid', path: 'one input channel, 5x5 valid (25 taps: the last group of 3 short)' },
  { x: [2, 8, 8, 1], k: 3, co: 12, stride: 1, pad: 'same', path: 'one input channel, 12 filters (im2col weight gradient)' },
  { x: [2, 4, 4, 32], k: 3, co: 16, stride: 1, pad: 'same', path: 'small map (position-major rows, per-tap weight gradient)' },
  { x: [5, 3, 3, 12], k: 3, co: 20, stride: 1, pad: 'same', path: '3x3 map as deep block 5, batch not a multiple of 4 (padding taps skipped)' },
  { x: [2, 2, 2, 8], k: 5, co: 4, stride: 1, pad: 'same', path: 'taps that read only padding (5x5 on 2x2)' },
  { x: [2, 30, 30, 8], k: 3, co: 8, stride: 1, pad: 'same', path: 'large map (direct chunked weight gradient)' },
  { x: [3, 48, 48, 16], k: 3, co: 16, stride: 1, pad: 'same', path: 'winograd in blocks of one image (1.2 MB of tiles per image)' },
  // FERLAB_WINOGRAD=4: F(4x4, 3x3) on maps of 8x8 and up (forward and input gradient; smaller maps stay F(2x2))
  { x: [2, 12, 12, 16], k: 3, co: 8, stride: 1, pad: 'same', path: 'winograd F(4x4), 12x12: whole tiles', winograd: '4' },
  { x: [2, 9, 11, 8], k: 3, co: 12, stride: 1, pad: 'same', path: 'winograd F(4x4), 9x11: partial edge tiles', winograd: '4' },
  { x: [2, 13, 10, 4], k: 3, co: 20, stride: 1, pad: 'valid', path: 'winograd F(4x4), valid 11x8 output, input gradient padded 2', winograd: '4' },
  { x: [1, 24, 24, 32], k: 3, co: 36, stride: 1, pad: 'same', path: 'winograd F(4x4), 24x24 as in deep (channels not a multiple of 8)', winograd: '4' },
];

for (const c of convCases) {
  test(`conv2d forward and gradients match cpu: ${JSON.stringify(c.x)} k${c.k} -> ${c.co}, stride ${c.stride}, ${c.pad} (${c.path})`, async () => {
    const before = process.env.FERLAB_WINOGRAD;
    if (c.winograd) process.env.FERLAB_WINOGRAD = c.winograd;
    const r = await onBothBackends(() => convWithGrads(c)).finally(() => {
      if (before === undefined) delete process.env.FERLAB_WINOGRAD;
      else process.env.FERLAB_WINOGRAD = before;
    });
    assertClose(r, GEMM_TOL, JSON.stringify(c), ['forward', 'input gradient', 'filter gradient']);
  });
}

test('fused conv2d with bias and relu (tf.fused.conv2d) matches cpu, values and gradients', async () => {
  const r = await onBothBackends(() => {
    const x = tf.tensor4d(values(2 * 8 * 8 * 8, 4), [2, 8, 8, 8]);
    const w = tf.tensor4d(values(3 * 3 * 8 * 12, 5), [3, 3, 8, 12]);
    const b = tf.tensor1d(values(12, 6));
    const f = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.fused.conv2d({ x: a as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: 1, pad: 'same', bias: bb, activation: 'relu' });
    const y = f(x, w, b);
    const g = tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(f(a, ww, bb))))([x, w, b]);
    return [y, ...g];
  });
  assertClose(r, GEMM_TOL, 'fused conv2d', ['y', 'dx', 'dw', 'dbias']);
});

for (const [tA, tB] of [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const) {
  test(`matMul transposeA=${tA} transposeB=${tB} matches cpu (odd sizes)`, async () => {
    const r = await onBothBackends(() => {
      const a = tf.tensor2d(values(37 * 53, 7), tA ? [53, 37] : [37, 53]);
      const b = tf.tensor2d(values(53 * 19, 8), tB ? [19, 53] : [53, 19]);
      return tf.matMul(a, b, tA, tB);
    });
    assertClose(r, GEMM_TOL, `matMul ${tA} ${tB}`);
  });
}

test('dense layer math (fused matMul + bias + relu) and its gradients match cpu', async () => {
  const r = await onBothBackends(() => {
    const x = tf.tensor2d(values(16 * 300, 9), [16, 300]);
    const w = tf.tensor2d(values(300 * 7, 10), [300, 7]);
    const b = tf.tensor1d(values(7, 11));
    const f = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.fused.matMul({ a: a as tf.Tensor2D, b: ww as tf.Tensor2D, bias: bb, activation: 'relu' });
    return [f(x, w, b), ...tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(a, ww, bb), 0.5)))([x, w, b])];
  });
  assertClose(r, GEMM_TOL, 'dense', ['y', 'dx', 'dw', 'dbias']);
});

for (const c of [
  { x: [2, 8, 8, 8], k: 2, s: 2, pad: 'valid' as Pad, path: 'tiled 2x2' },
  {
    x: [2, 8, 8, 8],
    k: 2,
    s: 2,
    pad: 'valid' as Pad,
    path: 'tiled 2x2 with ties (values rounded to -2..2: every tie pattern of a window occurs; dy to the first maximum)',
    ties: true,
  },
  { x: [2, 9, 9, 8], k: 3, s: 3, pad: 'valid' as Pad, path: 'tiled 3x3' },
  { x: [2, 9, 7, 6], k: 2, s: 2, pad: 'valid' as Pad, path: 'odd sizes, channels not a multiple of 4' },
  { x: [2, 9, 9, 4], k: 3, s: 2, pad: 'same' as Pad, path: 'overlapping 3x3 windows' },
]) {
  test(`max-pool gradient matches cpu: ${c.path}`, async () => {
    const r = await onBothBackends(() => {
      let x = tf.tensor4d(
        values(
          c.x.reduce((a, b) => a * b),
          12,
        ),
        c.x as [number, number, number, number],
      );
      if (c.ties) x = tf.round(tf.mul(x, 1.5)) as tf.Tensor4D;
      const y = tf.maxPool(x, c.k, c.s, c.pad);
      const dy = tf.tensor(values(y.size, 13), y.shape);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), dy)))(x);
    });
    assertClose(r, EW_TOL, `maxPool ${c.path}`);
  });
}

test('sum over leading axes matches cpu', async () => {
  const r = await onBothBackends(() => {
    const x = tf.tensor4d(values(4 * 5 * 6 * 7, 14), [4, 5, 6, 7]);
    return [tf.sum(x, [0, 1, 2]), tf.sum(x, 0), tf.sum(x, [0, 1], true), tf.sum(x)];
  });
  assertClose(r, 1e-6, 'sum', ['axes 0,1,2', 'axis 0', 'axes 0,1 keepDims', 'all']);
});

test('batch-norm training op matches tf.moments + tf.batchNorm on cpu: outputs, statistics, all gradients', async () => {
  const r = await onBothBackends(() => {
    const x = tf.add(tf.mul(tf.tensor4d(values(3 * 5 * 5 * 8, 15), [3, 5, 5, 8]), 3), 2); // mean 2: a shifted input
    const gamma = tf.tensor1d(values(8, 16));
    const beta = tf.tensor1d(values(8, 17));
    const w = tf.tensor4d(values(3 * 5 * 5 * 8, 18), [3, 5, 5, 8]);
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, 1e-3);
    const out = [y, mean, variance].map((t) => t.clone());
    tf.dispose([mean, variance]);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const res = batchNormTrain(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3);
      tf.dispose([res.mean, res.variance]);
      return tf.sum(tf.mul(res.y, w));
    })([x, gamma, beta]);
    return [...out, ...grads];
  });
  assertClose(r, 1e-5, 'batch norm', ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta']);
});

test('relu gradient (ferlab kernel) matches cpu', async () => {
  installReluGradient();
  const r = await onBothBackends(() => {
    const x = tf.tensor1d(values(1001, 19));
    const dy = tf.tensor1d(values(1001, 20));
    return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy)))(x);
  });
  assertClose(r, EW_TOL, 'relu grad');
});

test('dropout: keep rate, inverted scaling, gradient = dy * mask, same seed = same mask', async () => {
  await initBackend('wasm');
  const n = 200_000;
  const rate = 0.3;
  const x = tf.ones([n]);
  const y1 = dropoutTrain(x, rate, 1234).dataSync();
  const y2 = dropoutTrain(x, rate, 1234).dataSync();
  const y3 = dropoutTrain(x, rate, 99).dataSync();
  let kept = 0;
  let same = true;
  let differs = 0;
  for (let i = 0; i < n; i++) {
    if (y1[i] !== 0) {
      kept++;
      assert.ok(Math.abs(y1[i] - 1 / (1 - rate)) < 1e-6, `kept value ${y1[i]}, expected ${1 / (1 - rate)}`);
    }
    if (y1[i] !== y2[i]) same = false;
    if (y1[i] !== y3[i]) differs++;
  }
  const keep = kept / n;
  assert.ok(Math.abs(keep - (1 - rate)) < 0.005, `keep fraction ${keep}, expected ${1 - rate} +- 0.005`);
  assert.ok(same, 'same seed must give the same mask');
  assert.ok(differs > n * 0.3, `another seed must give another mask (only ${differs} of ${n} differ)`);
  const dy = tf.tensor1d(values(n, 21));
  const dx = tf
    .grad((a: tf.Tensor) => tf.sum(tf.mul(dropoutTrain(a, rate, 1234), dy)))(x)
    .dataSync();
  const dyv = dy.dataSync();
  for (let i = 0; i < n; i += 997) assert.ok(Math.abs(dx[i] - dyv[i] * y1[i]) < 1e-6, `dx[${i}] = ${dx[i]}, expected dy * mask = ${dyv[i] * y1[i]}`);
});

test('fused Adam/AdamW step matches the same update in tfjs ops on cpu over 3 steps', async () => {
  const run = () => {
    const v = tf.variable(tf.tensor2d(values(33 * 7, 22), [33, 7]), true, `w${Math.random()}`);
    const b = tf.variable(tf.tensor1d(values(7, 23)), true, `b${Math.random()}`);
    const opt = new Adam({ beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.01 });
    for (let s = 1; s <= 3; s++) {
      const gw = tf.mul(tf.tensor2d(values(33 * 7, 30 + s), [33, 7]), s);
      const gb = tf.tensor1d(values(7, 40 + s));
      opt.apply([v, b], { [v.name]: gw, [b.name]: gb }, 0.01 * s);
    }
    const out = [v.clone(), b.clone()];
    opt.dispose();
    v.dispose();
    b.dispose();
    return out;
  };
  const r = await onBothBackends(run);
  assertClose(r, 1e-6, 'adam', ['kernel (with weight decay)', 'bias (no decay)']);
});

test('fused Adam on wasm flushes moments below 1e-30 to exactly zero (no subnormal slow path), keeps the rest', async () => {
  await initBackend('wasm');
  const v = tf.variable(tf.tensor1d([1, 2, 3, 4, 5]), true, `f${Math.random()}`);
  const opt = new Adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  // m = (1 - beta1) * g: 1e-34 for the tiny gradients (flushed), 1e-4 for the normal one (kept).
  opt.apply([v], { [v.name]: tf.tensor1d([1e-33, -1e-33, 0, 1e-3, 1e-33]) }, 0.01);
  const st = (opt as unknown as { moments: Map<string, { m: tf.Tensor; v: tf.Tensor }> }).moments.get(v.name)!;
  const m = Array.from(st.m.dataSync());
  assert.equal(m.slice(0, 3), [0, 0, 0], `flushed first moments, got ${m}`);
  assert.is(m[4], 0, `flushed first moment (scalar tail), got ${m[4]}`);
  assert.ok(Math.abs(m[3] - 1e-4) < 1e-10, `kept first moment: expected 1e-4, got ${m[3]}`);
  const x = Array.from(v.dataSync());
  assert.equal([x[0], x[1], x[2], x[4]], [1, 2, 3, 5], 'weights with flushed moments do not move');
  assert.ok(Math.abs(x[3] - (4 - 0.01)) < 1e-6, `Adam's first step moves by lr: expected 3.99, got ${x[3]}`);
  opt.dispose();
  v.dispose();
});

test('identity shares data without copying on wasm, and stays correct after the source is disposed', async () => {
  await initBackend('wasm');
  const a = tf.tensor1d([1, 2, 3]);
  const b = a.clone();
  const offset = (t: tf.Tensor) =>
    (tf.backend() as unknown as { dataIdMap: { get(d: object): { memoryOffset: number } } }).dataIdMap.get(t.dataId).memoryOffset;
  assert.is(offset(b), offset(a), 'clone shares the buffer');
  a.dispose();
  assert.equal(Array.from(b.dataSync()), [1, 2, 3]);
  b.dispose();
});

test.run();
