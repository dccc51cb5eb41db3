/**
 * ferlab's WGSL kernels for tfjs' webgpu backend (src/backend/webgpu) against tfjs' cpu backend (plain JavaScript
 * kernels, the reference), on identical inputs. Runs on any WebGPU adapter; where no GPU exists, on SwiftShader (the
 * CPU Vulkan driver in Debian's chromium package: VK_ICD_FILENAMES is pointed at it when unset). Without any adapter
 * (no `webgpu` package, no Vulkan loader libvulkan1, no driver) the whole file is reported as skipped with the reason.
 *
 * Tolerance (max |webgpu - cpu| / max |cpu|): 2e-5 for the GEMM and reductions (float32 sums in another order:
 * split-K partial sums, per-workgroup trees), 1e-6 for elementwise kernels and MaxPoolGrad (the same float32
 * arithmetic). The largest errors seen on SwiftShader are printed. Shapes are small (all of this file takes a few
 * seconds on SwiftShader) but cover strides 1 and 2, 'same' and 'valid', 1x1/3x3/5x5 filters, 1 to 40 channels, and
 * several split-K slices.
 */
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { maxRelError, values } from '../helpers/backends';
import { skipFile } from '../helpers/skip';
import { adamUpdate, batchNormTrain, dropoutTrain, hasFerlabKernel, installReluGradient, updateMovingStats } from '../../src/backend/ops';
import { initBackend, type BackendInfo } from '../../src/backend/select';
import { SWIFTSHADER_ICD } from '../../src/backend/webgpu/device';
import { conv2DBackpropFilter } from '../../src/backend/webgpu/conv';
import { dropoutKeep } from '../../src/backend/webgpu/elementwise';
import { maxPoolGrad } from '../../src/backend/webgpu/pool';
import { FERLAB_KERNELS } from '../../src/backend/wasm/kernels';

const GEMM_TOL = 2e-5;
const EW_TOL = 1e-6;
/** Largest relative error per kernel family, printed at the end. */
const worst = new Map<string, number>();

type Outputs = Float32Array[];
async function read(r: tf.Tensor | tf.Tensor[]): Promise<Outputs> {
  const ts = Array.isArray(r) ? r : [r];
  const out = await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(ts);
  return out;
}

/** Runs `f` on the cpu backend and on webgpu (ferlab's kernels) and returns both outputs. */
async function onCpuAndWebgpu(f: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Outputs; gpu: Outputs }> {
  await initBackend('cpu');
  const cpu = await read(tf.tidy(f));
  await initBackend('webgpu');
  const gpu = await read(tf.tidy(f));
  return { cpu, gpu };
}

function assertClose(r: { cpu: Outputs; gpu: Outputs }, tol: number, family: string, what: string, names: string[]): void {
  assert.is(r.gpu.length, r.cpu.length, `${what}: number of outputs`);
  r.cpu.forEach((ref, i) => {
    assert.is(r.gpu[i].length, ref.length, `${what} ${names[i]}: length`);
    const err = maxRelError(r.gpu[i], ref);
    worst.set(family, Math.max(worst.get(family) ?? 0, err));
    assert.ok(err <= tol, `${what} ${names[i]}: max relative error ${err.toExponential(2)} exceeds ${tol.toExponential(0)}`);
  });
}

const t4 = (shape: number[], seed: number) =>
  tf.tensor4d(
    values(
      shape.reduce((a, b) => a * b),
      seed,
    ),
    shape as [number, number, number, number],
  );

type Pad = 'same' | 'valid';
const convCases: Array<{ x: number[]; k: number; co: number; stride: number; pad: Pad; note: string }> = [
  { x: [2, 9, 9, 8], k: 3, co: 16, stride: 1, pad: 'same', note: '3x3 stride 1' },
  { x: [2, 7, 11, 4], k: 3, co: 12, stride: 1, pad: 'valid', note: 'odd sizes, valid' },
  { x: [2, 10, 10, 6], k: 3, co: 40, stride: 2, pad: 'same', note: 'stride 2, 40 output channels (64-wide tile, partial)' },
  { x: [2, 11, 9, 5], k: 5, co: 7, stride: 2, pad: 'valid', note: '5x5 stride 2 valid' },
  { x: [3, 16, 16, 1], k: 3, co: 8, stride: 1, pad: 'same', note: 'one input channel (first layer)' },
  { x: [2, 6, 6, 24], k: 1, co: 9, stride: 1, pad: 'valid', note: '1x1' },
  { x: [8, 24, 24, 8], k: 3, co: 32, stride: 1, pad: 'same', note: 'R = 72 rows over two tiles, many split-K slices' },
];

async function main(): Promise<void> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  let info: BackendInfo;
  try {
    info = await initBackend('webgpu');
  } catch (e) {
    skipFile(
      `no WebGPU adapter (${(e as Error).message.replace(/\s*\n\s*/g, ' ')}); on Debian: apt-get install chromium libvulkan1 (SwiftShader) and the optional npm package webgpu`,
    );
    test.run();
    return;
  }
  console.log(`# webgpu adapter: ${info.description}`);

  test('the ferlab kernels serve the webgpu backend (ops.ts dispatches to them)', () => {
    for (const name of Object.values(FERLAB_KERNELS)) assert.ok(hasFerlabKernel(name), `${name} served on webgpu`);
    assert.is(tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc, conv2DBackpropFilter as unknown, "ferlab's Conv2DBackpropFilter replaces tfjs'");
    assert.is(tf.getKernel('MaxPoolGrad', 'webgpu')?.kernelFunc, maxPoolGrad as unknown, "ferlab's MaxPoolGrad replaces tfjs'");
    assert.is(info.kernels, 'ferlab');
  });

  for (const c of convCases) {
    test(`conv2d weight gradient (and forward, input gradient) match cpu: ${JSON.stringify(c.x)} k${c.k} -> ${c.co}, stride ${c.stride}, ${c.pad} (${c.note})`, async () => {
      const ci = c.x[3];
      const r = await onCpuAndWebgpu(() => {
        const x = t4(c.x, 1);
        const w = t4([c.k, c.k, ci, c.co], 2);
        const y = tf.conv2d(x, w, c.stride, c.pad);
        const dy = tf.tensor(values(y.size, 3), y.shape);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy)))([x, w]);
        return [y, dx, dw];
      });
      assertClose(r, GEMM_TOL, 'Conv2DBackpropFilter', JSON.stringify(c), ['forward (tfjs)', 'input gradient (tfjs)', 'filter gradient (ferlab)']);
    });
  }

  for (const c of [
    { x: [2, 8, 8, 8], k: 2, s: 2, pad: 'valid' as Pad, note: '2x2 stride 2' },
    { x: [2, 9, 7, 6], k: 2, s: 2, pad: 'valid' as Pad, note: 'odd sizes (last row/column in no window)' },
    { x: [2, 9, 9, 4], k: 3, s: 2, pad: 'same' as Pad, note: 'overlapping 3x3 windows, padding' },
    { x: [1, 6, 6, 3], k: 3, s: 1, pad: 'same' as Pad, note: '3x3 stride 1 same' },
  ]) {
    test(`MaxPoolGrad matches cpu: ${c.note}`, async () => {
      const r = await onCpuAndWebgpu(() => {
        // rounded values: ties inside windows test the first-max rule
        const x = tf.round(tf.mul(t4(c.x, 12), 3));
        const y = tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.pad);
        const dy = tf.tensor(values(y.size, 13), y.shape);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), dy)))(x);
      });
      assertClose(r, EW_TOL, 'MaxPoolGrad', `maxPool ${c.note}`, ['dx']);
    });
  }

  for (const shape of [
    [3, 5, 5, 8],
    [4, 6, 6, 12],
    [64, 3, 3, 32],
  ]) {
    test(`batch-norm training op on webgpu matches tf.moments + tf.batchNorm on cpu: outputs, statistics, all gradients, ${JSON.stringify(shape)}`, async () => {
      const C = shape[3];
      const r = await onCpuAndWebgpu(() => {
        const x = tf.add(tf.mul(t4(shape, 15), 3), 2); // mean 2: a shifted input
        const gamma = tf.tensor1d(values(C, 16));
        const beta = tf.tensor1d(values(C, 17));
        const w = t4(shape, 18);
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
      assertClose(r, GEMM_TOL, 'batch norm', `batch norm ${shape}`, ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta']);
    });
  }

  test('relu gradient (FerlabReluGrad) matches cpu', async () => {
    installReluGradient();
    const r = await onCpuAndWebgpu(() => {
      const x = tf.tensor1d(values(1001, 19));
      const dy = tf.tensor1d(values(1001, 20));
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy)))(x);
    });
    assertClose(r, EW_TOL, 'relu grad', 'relu grad', ['dx']);
  });

  test('dropout on webgpu: the mask is the PCG hash mask computed here in JavaScript, scaled by 1/(1-rate); gradient = dy * mask', async () => {
    await initBackend('webgpu');
    const n = 50_000;
    const rate = 0.3;
    const x = tf.tensor1d(values(n, 24));
    const dy = tf.tensor1d(values(n, 21));
    const y = await dropoutTrain(x, rate, 1234).data();
    const dx = await tf
      .grad((a: tf.Tensor) => tf.sum(tf.mul(dropoutTrain(a, rate, 1234), dy)))(x)
      .data();
    const keep = dropoutKeep(n, rate, 1234);
    const other = dropoutKeep(n, rate, 99);
    const xv = await x.data();
    const dyv = await dy.data();
    let kept = 0;
    let differs = 0;
    for (let i = 0; i < n; i++) {
      const m = keep[i] ? 1 / (1 - rate) : 0;
      kept += keep[i];
      differs += keep[i] !== other[i] ? 1 : 0;
      assert.ok(Math.abs(y[i] - xv[i] * m) <= 1e-6, `y[${i}] = ${y[i]}, expected x * mask = ${xv[i] * m}`);
      assert.ok(Math.abs(dx[i] - dyv[i] * m) <= 1e-6, `dx[${i}] = ${dx[i]}, expected dy * mask = ${dyv[i] * m}`);
    }
    assert.ok(Math.abs(kept / n - (1 - rate)) < 0.01, `keep fraction ${kept / n}, expected ${1 - rate} +- 0.01`);
    assert.ok(differs > n * 0.3, `another seed gives another mask (${differs} of ${n} differ)`);
    tf.dispose([x, dy]);
  });

  test('FerlabAdam on webgpu matches the Adam/AdamW formula in tfjs ops on cpu over 3 steps', async () => {
    const run = () => {
      let x: tf.Tensor = tf.tensor2d(values(33 * 7, 22), [33, 7]);
      let m: tf.Tensor = tf.zerosLike(x);
      let v: tf.Tensor = tf.zerosLike(x);
      for (let s = 1; s <= 3; s++) {
        const g = tf.mul(tf.tensor2d(values(33 * 7, 30 + s), [33, 7]), s);
        [x, m, v] = adamUpdate(x, m, v, g, { lr: 0.01 * s, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.01, step: s });
      }
      return [x, m, v];
    };
    const r = await onCpuAndWebgpu(run);
    assertClose(r, EW_TOL, 'adam', 'adam', ['x', 'm', 'v']);
  });

  test('FerlabMovingStats on webgpu: moving - (moving - batch) * decay for mean and variance, computed here in JavaScript', async () => {
    await initBackend('webgpu');
    const C = 37;
    const [mm, mv, m, v] = [40, 41, 42, 43].map((s) => values(C, s));
    const decay = 0.01;
    const out = await read(updateMovingStats(tf.tensor1d(mm), tf.tensor1d(mv), tf.tensor1d(m), tf.tensor1d(v), decay));
    for (let i = 0; i < C; i++) {
      const em = mm[i] - (mm[i] - m[i]) * decay;
      const ev = mv[i] - (mv[i] - v[i]) * decay;
      assert.ok(Math.abs(out[0][i] - em) <= 1e-6 * Math.max(1, Math.abs(em)), `moving mean[${i}] = ${out[0][i]}, expected ${em}`);
      assert.ok(Math.abs(out[1][i] - ev) <= 1e-6 * Math.max(1, Math.abs(ev)), `moving variance[${i}] = ${out[1][i]}, expected ${ev}`);
    }
  });

  test('errors stated', () => {
    console.log(`# max relative error vs cpu on ${info.adapter?.description}: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
  });
  test.run();
}

void main();
