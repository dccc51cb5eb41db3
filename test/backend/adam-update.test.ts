/**
 * adamUpdate (src/backend/ops.ts) against a float64 reference written here from Kingma & Ba (arXiv 1412.6980,
 * Algorithm 1) with AdamW's decoupled weight decay (Loshchilov & Hutter, arXiv 1711.05101), on the cpu backend (tfjs
 * ops) and on the wasm backend (ferlab's fused FerlabAdam kernel).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { adamUpdate, hasFerlabKernel, type AdamUpdateParams } from '../../src/backend/ops';
import { initBackend } from '../../src/backend/select';
import { FERLAB_KERNELS } from '../../src/backend/wasm/kernels';
import { maxRelError, values } from '../helpers/backends';

/** The paper's update in float64, element by element. */
function reference(x: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>, g: ArrayLike<number>, p: AdamUpdateParams): number[][] {
  const out: number[][] = [[], [], []];
  for (let i = 0; i < x.length; i++) {
    const m1 = p.beta1 * m[i] + (1 - p.beta1) * g[i];
    const v1 = p.beta2 * v[i] + (1 - p.beta2) * g[i] * g[i];
    const mHat = m1 / (1 - p.beta1 ** p.step);
    const vHat = v1 / (1 - p.beta2 ** p.step);
    out[0].push(x[i] - p.lr * (mHat / (Math.sqrt(vHat) + p.epsilon) + p.weightDecay * x[i]));
    out[1].push(m1);
    out[2].push(v1);
  }
  return out;
}

const n = 4 * 37 + 3; // SIMD body and scalar tail of the fused kernel
const inputs = () => {
  const x = values(n, 1);
  const m = values(n, 2).map((a) => 0.1 * a);
  const v = values(n, 3).map((a) => 0.01 * a * a + 1e-4);
  const g = values(n, 4);
  return { x, m, v, g };
};

for (const backend of ['cpu', 'wasm'] as const) {
  test(`adamUpdate on ${backend} equals the float64 reference (step 3, AdamW weight decay) within 1e-6`, async () => {
    await initBackend(backend);
    assert.is(hasFerlabKernel(FERLAB_KERNELS.adam), backend === 'wasm', 'fused kernel used on wasm only');
    const a = inputs();
    const p: AdamUpdateParams = { lr: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05, step: 3 };
    const ref = reference(a.x, a.m, a.v, a.g, p);
    const before = tf.memory().numTensors;
    const ts = [a.x, a.m, a.v, a.g].map((d) => tf.tensor1d(d));
    const got = adamUpdate(ts[0], ts[1], ts[2], ts[3], p);
    ['x', 'm', 'v'].forEach((name, k) => {
      const err = maxRelError(Float32Array.from(got[k].dataSync()), Float32Array.from(ref[k]));
      assert.ok(err <= 1e-6, `${backend} ${name}': max relative error ${err.toExponential(2)} > 1e-6`);
    });
    assert.equal(Array.from(ts[0].dataSync()), Array.from(a.x), 'x itself is not modified');
    tf.dispose([...ts, ...got]);
    assert.is(tf.memory().numTensors, before, 'no intermediate tensor left behind');
  });
}

test('adamUpdate first step moves every weight by lr * sign(g) (m_hat / sqrt(v_hat) = g / |g|), on both backends', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    const z = tf.zeros([5]);
    const [x1, m1, v1] = adamUpdate(tf.tensor1d([1, -2, 3, 0, 5]), z, z, tf.tensor1d([0.5, -0.1, 2, -3, 1e-3]), {
      lr: 0.1,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      step: 1,
    });
    const x = Array.from(x1.dataSync());
    [0.9, -1.9, 2.9, 0.1, 4.9].forEach((e, i) => assert.ok(Math.abs(x[i] - e) < 1e-5, `${backend}: x'[${i}] = ${x[i]}, expected ${e}`));
    assert.ok(Math.abs(m1.dataSync()[0] - 0.05) < 1e-7, `${backend}: m' = 0.1 * g = 0.05, got ${m1.dataSync()[0]}`);
    // the fused kernel takes beta2 as float32: 1 - f32(0.999) = 0.00099999 (relative error 1.3e-5)
    assert.ok(Math.abs(v1.dataSync()[3] - 0.009) < 0.009 * 2e-5, `${backend}: v' = 0.001 * g^2 = 0.009, got ${v1.dataSync()[3]}`);
  }
});

test('fused adamUpdate on wasm flushes moments below 1e-30 to zero; cpu keeps them', async () => {
  const run = () => {
    const z = tf.zeros([5]);
    const [, m1] = adamUpdate(tf.tensor1d([1, 2, 3, 4, 5]), z, z, tf.tensor1d([1e-33, -1e-33, 0, 1e-3, 1e-33]), {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      step: 1,
    });
    return Array.from(m1.dataSync());
  };
  await initBackend('wasm');
  const w = run();
  assert.equal([w[0], w[1], w[2], w[4]], [0, 0, 0, 0], `wasm: flushed first moments, got ${w}`);
  assert.ok(Math.abs(w[3] - 1e-4) < 1e-10, `wasm: kept first moment 1e-4, got ${w[3]}`);
  await initBackend('cpu');
  const c = run();
  assert.ok(c[0] > 0 && c[0] < 1e-30, `cpu: m' = 1e-34 (float32 subnormal) kept, got ${c[0]}`);
});

test('adamUpdate rejects mismatched shapes, non-float32 tensors and step < 1 with the values', async () => {
  await initBackend('cpu');
  const p: AdamUpdateParams = { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, step: 1 };
  const x = tf.zeros([2, 3]);
  assert.throws(() => adamUpdate(x, x, x, tf.zeros([3, 2]), p), /g has shape \[3,2\], expected x's shape \[2,3\]/);
  assert.throws(() => adamUpdate(x, tf.zeros([2, 3], 'int32'), x, x, p), /m has dtype int32, expected float32/);
  assert.throws(() => adamUpdate(x, x, x, x, { ...p, step: 0 }), /step must be an integer >= 1 .* got 0/);
});

test.run();
