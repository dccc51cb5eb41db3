/**
 * The `native` backend's oneDNN kernels (src/backend/native/) against tfjs' cpu backend (plain JavaScript kernels, the
 * reference), on identical inputs: values and gradients of convolutions (Conv2D, FusedConv2D with bias and ReLU, the
 * input and filter gradients), depthwise convolutions (channel multipliers 1 to 3) and their gradients, matmuls (all transposes, batched, fused bias + ReLU), max pooling and its gradient
 * (ties included), batch norm and ReLU with its gradient (those two forced on with FERLAB_NATIVE_MEMBOUND=on). Shapes
 * cover strides 1 and 2, 'same' and 'valid', 1x1 / 3x3 / 5x5 filters, 1 and 3 input channels, odd sizes and a dilated
 * forward pass. Each test also counts the addon calls, so a silent fall back to the wasm kernels would fail it. A
 * small network's gradients on 2 oneDNN threads match cpu and repeat bit for bit (same inputs, same thread count).
 * Tolerance: max |native - cpu| / max |cpu| <= 2e-5 (float32 sums in another order, FMA), as for the wasm kernels.
 *
 * Needs the addon (built by `npm ci` when g++ and oneDNN are installed: apt-get install g++ make libdnnl-dev); without
 * it the file is skipped with the reason, except under CI=true (.ci/run installs both), where that is a failure. The
 * test of the message shown when the addon is missing runs either way.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { convWithGrads, maxRelError, values } from '../helpers/backends';
import { skipFileUnlessCI } from '../helpers/skip';
import { ROOT } from '../helpers/cli';
import { initBackend, nativeThreadsFromEnv } from '../../src/backend/select';
import { batchNormTrain, installReluGradient } from '../../src/backend/ops';
import { loadNativeAddon, type NativeAddon } from '../../src/backend/native/addon';

const TOL = 2e-5;
// batch norm and ReLU run on oneDNN only with more than one thread by default (src/backend/native/backend.ts
// memoryBoundOnNative): forced on here
process.env.FERLAB_NATIVE_MEMBOUND = 'on';

test('--backend native without the addon: initBackend rejects, saying the addon is missing and what to install', () => {
  const script = [
    "require('./src/backend/select').initBackend('native').then(",
    "  (info) => { console.log('CHOSE ' + info.name); process.exit(0); },",
    "  (e) => { console.log('ERROR ' + e.message); process.exit(2); });",
  ].join('\n');
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FERLAB_NATIVE_ADDON: '/nonexistent/ferlab_native.node', FERLAB_BACKEND: '' },
  });
  assert.is(r.status, 2, `rejected (exit 2), got exit ${r.status}:\n${r.stdout}\n${r.stderr.slice(-2000)}`);
  const msg = r.stdout;
  for (const want of [
    "no usable tfjs backend for 'native'",
    'native: the oneDNN addon is not built',
    '/nonexistent/ferlab_native.node is missing',
    'apt-get install g++ make libdnnl-dev',
    'npm run build:native',
  ]) {
    assert.ok(msg.includes(want), `message contains '${want}':\n${msg}`);
  }
});

test('FERLAB_NATIVE_THREADS: default 1, a positive integer, anything else an error naming the variable', () => {
  const before = process.env.FERLAB_NATIVE_THREADS;
  try {
    delete process.env.FERLAB_NATIVE_THREADS;
    assert.is(nativeThreadsFromEnv(), 1);
    process.env.FERLAB_NATIVE_THREADS = '2';
    assert.is(nativeThreadsFromEnv(), 2);
    for (const bad of ['0', '-1', '1.5', 'two']) {
      process.env.FERLAB_NATIVE_THREADS = bad;
      assert.throws(
        () => nativeThreadsFromEnv(),
        (e: Error) => e.message.includes(`FERLAB_NATIVE_THREADS='${bad}'`),
        `'${bad}' rejected`,
      );
    }
  } finally {
    if (before === undefined) delete process.env.FERLAB_NATIVE_THREADS;
    else process.env.FERLAB_NATIVE_THREADS = before;
  }
});

const loaded = loadNativeAddon();
if ('error' in loaded) {
  skipFileUnlessCI('native kernels', `the native backend is unavailable: ${loaded.error}`);
} else {
  registerKernelTests(loaded.addon);
}

/** Counts calls of the addon's kernel functions (the backend calls them through the same module object). */
function countCalls(addon: NativeAddon): Record<string, number> {
  const counts: Record<string, number> = {};
  const a = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of [
    'conv2dForward',
    'conv2dBackwardData',
    'conv2dBackwardWeights',
    'matMul',
    'batchNormTrain',
    'batchNormGrad',
    'maxPoolForward',
    'maxPoolBackward',
    'relu',
    'reluGrad',
    'depthwiseForward',
    'depthwiseBackwardData',
    'depthwiseBackwardWeights',
  ]) {
    const f = a[name];
    if ((f as { counted?: boolean }).counted) continue;
    const wrapped = (...args: unknown[]) => {
      counts[name] = (counts[name] ?? 0) + 1;
      return f.apply(addon, args);
    };
    (wrapped as { counted?: boolean }).counted = true;
    a[name] = wrapped;
  }
  return counts;
}

function registerKernelTests(addon: NativeAddon): void {
  const calls = countCalls(addon);
  const reset = () => {
    for (const k of Object.keys(calls)) delete calls[k];
  };

  /** Runs `f` on the cpu backend (the reference) and on native; returns both outputs. */
  async function onCpuAndNative(f: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Float32Array[]; native: Float32Array[] }> {
    const read = (r: tf.Tensor | tf.Tensor[]) => (Array.isArray(r) ? r : [r]).map((t) => Float32Array.from(t.dataSync()));
    await initBackend('cpu');
    const cpu = tf.tidy(() => read(f()));
    await initBackend('native');
    reset();
    const native = tf.tidy(() => read(f()));
    return { cpu, native };
  }

  function assertClose(r: { cpu: Float32Array[]; native: Float32Array[] }, what: string, names: string[]): void {
    assert.is(r.native.length, r.cpu.length, `${what}: number of outputs`);
    r.cpu.forEach((ref, i) => {
      assert.is(r.native[i].length, ref.length, `${what} ${names[i]}: length`);
      const err = maxRelError(r.native[i], ref);
      assert.ok(err <= TOL, `${what} ${names[i]}: max relative error ${err.toExponential(2)} exceeds ${TOL.toExponential(0)}`);
    });
  }

  function assertCalled(what: string, want: Record<string, number>): void {
    for (const [name, n] of Object.entries(want))
      assert.ok((calls[name] ?? 0) >= n, `${what}: addon ${name} called ${calls[name] ?? 0} times, expected >= ${n}`);
  }

  type Pad = 'same' | 'valid';
  const convCases: Array<{ x: [number, number, number, number]; k: number; co: number; stride: number; pad: Pad }> = [
    { x: [2, 9, 9, 8], k: 3, co: 16, stride: 1, pad: 'same' },
    { x: [2, 7, 11, 4], k: 3, co: 12, stride: 1, pad: 'valid' },
    { x: [3, 16, 16, 1], k: 3, co: 8, stride: 1, pad: 'same' },
    { x: [2, 12, 10, 3], k: 3, co: 16, stride: 2, pad: 'same' },
    { x: [2, 10, 10, 3], k: 3, co: 5, stride: 2, pad: 'valid' },
    { x: [2, 11, 9, 1], k: 5, co: 7, stride: 2, pad: 'valid' },
    { x: [2, 10, 10, 8], k: 3, co: 16, stride: 2, pad: 'same' },
    { x: [2, 6, 6, 16], k: 1, co: 9, stride: 1, pad: 'valid' },
    { x: [5, 3, 3, 12], k: 3, co: 20, stride: 1, pad: 'same' },
    { x: [2, 2, 2, 8], k: 5, co: 4, stride: 1, pad: 'same' },
    { x: [2, 24, 24, 32], k: 3, co: 36, stride: 1, pad: 'same' },
  ];

  for (const c of convCases) {
    test(`native conv2d forward and gradients match cpu: ${JSON.stringify(c.x)} k${c.k} -> ${c.co}, stride ${c.stride}, ${c.pad}`, async () => {
      const r = await onCpuAndNative(() => convWithGrads(c));
      assertClose(r, JSON.stringify(c), ['forward', 'input gradient', 'filter gradient']);
      assertCalled(JSON.stringify(c), { conv2dForward: 2, conv2dBackwardData: 1, conv2dBackwardWeights: 1 });
    });
  }

  const depthwiseCases: Array<{ x: [number, number, number, number]; k: [number, number]; m: number; stride: [number, number]; pad: Pad }> = [
    { x: [2, 9, 9, 8], k: [3, 3], m: 1, stride: [1, 1], pad: 'same' },
    { x: [2, 10, 10, 16], k: [3, 3], m: 1, stride: [2, 2], pad: 'same' },
    { x: [3, 11, 7, 5], k: [3, 3], m: 1, stride: [2, 2], pad: 'valid' },
    { x: [2, 6, 7, 8], k: [2, 2], m: 1, stride: [1, 1], pad: 'same' },
    { x: [2, 9, 8, 1], k: [3, 1], m: 1, stride: [2, 1], pad: 'same' },
    { x: [2, 12, 12, 4], k: [3, 3], m: 2, stride: [1, 1], pad: 'same' },
    { x: [2, 7, 9, 3], k: [3, 3], m: 3, stride: [2, 2], pad: 'same' },
  ];
  for (const c of depthwiseCases) {
    test(`native depthwise conv2d forward and gradients match cpu: ${JSON.stringify(c)}`, async () => {
      const ci = c.x[3];
      const r = await onCpuAndNative(() => {
        const x = tf.tensor4d(
          values(
            c.x.reduce((a, b) => a * b),
            31,
          ),
          c.x,
        );
        const w = tf.tensor4d(values(c.k[0] * c.k[1] * ci * c.m, 32), [c.k[0], c.k[1], ci, c.m]);
        const conv = (a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
        const y = conv(x, w);
        const dyWeights = tf.tensor(values(y.size, 33), y.shape);
        return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dyWeights)))([x, w])];
      });
      assertClose(r, JSON.stringify(c), ['forward', 'input gradient', 'filter gradient']);
      assertCalled(JSON.stringify(c), { depthwiseForward: 2, depthwiseBackwardData: 1, depthwiseBackwardWeights: 1 });
    });
  }

  test('native dilated conv2d (dilation 2, forward) matches cpu', async () => {
    const r = await onCpuAndNative(() => {
      const x = tf.tensor4d(values(2 * 11 * 11 * 4, 4), [2, 11, 11, 4]);
      const w = tf.tensor4d(values(3 * 3 * 4 * 6, 5), [3, 3, 4, 6]);
      return tf.conv2d(x, w, 1, 'same', 'NHWC', 2);
    });
    assertClose(r, 'dilated conv2d', ['forward']);
    assertCalled('dilated conv2d', { conv2dForward: 1 });
  });

  for (const activation of ['relu', 'linear'] as const) {
    test(`native fused conv2d (bias, ${activation}) matches cpu, values and gradients, 3 input channels, stride 2`, async () => {
      const r = await onCpuAndNative(() => {
        const x = tf.tensor4d(values(2 * 9 * 9 * 3, 4), [2, 9, 9, 3]);
        const w = tf.tensor4d(values(3 * 3 * 3 * 12, 5), [3, 3, 3, 12]);
        const b = tf.tensor1d(values(12, 6));
        const f = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.fused.conv2d({ x: a as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: 2, pad: 'same', bias: bb, activation });
        const y = f(x, w, b);
        const g = tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(f(a, ww, bb))))([x, w, b]);
        return [y, ...g];
      });
      assertClose(r, `fused conv2d ${activation}`, ['y', 'dx', 'dw', 'dbias']);
      assertCalled(`fused conv2d ${activation}`, { conv2dForward: 2, conv2dBackwardData: 1, conv2dBackwardWeights: 1 });
    });
  }

  for (const [tA, tB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    test(`native matMul transposeA=${tA} transposeB=${tB} matches cpu (odd sizes)`, async () => {
      const r = await onCpuAndNative(() => {
        const a = tf.tensor2d(values(37 * 53, 7), tA ? [53, 37] : [37, 53]);
        const b = tf.tensor2d(values(53 * 19, 8), tB ? [19, 53] : [53, 19]);
        return tf.matMul(a, b, tA, tB);
      });
      assertClose(r, `matMul ${tA} ${tB}`, ['c']);
      assertCalled(`matMul ${tA} ${tB}`, { matMul: 1 });
    });
  }

  test('native batched matMul (batch 3, and a single matrix broadcast over the batch) matches cpu', async () => {
    const r = await onCpuAndNative(() => {
      const a = tf.tensor3d(values(3 * 5 * 7, 9), [3, 5, 7]);
      const b = tf.tensor3d(values(3 * 7 * 4, 10), [3, 7, 4]);
      const b1 = tf.tensor2d(values(4 * 7, 11), [4, 7]);
      return [tf.matMul(a, b), tf.matMul(a, b1, false, true)];
    });
    assertClose(r, 'batched matMul', ['batch 3', 'broadcast']);
    assertCalled('batched matMul', { matMul: 2 });
  });

  test('native dense layer math (fused matMul + bias + relu) and its gradients match cpu', async () => {
    const r = await onCpuAndNative(() => {
      const x = tf.tensor2d(values(16 * 300, 9), [16, 300]);
      const w = tf.tensor2d(values(300 * 7, 10), [300, 7]);
      const b = tf.tensor1d(values(7, 11));
      const f = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.fused.matMul({ a: a as tf.Tensor2D, b: ww as tf.Tensor2D, bias: bb, activation: 'relu' });
      return [f(x, w, b), ...tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(a, ww, bb), 0.5)))([x, w, b])];
    });
    assertClose(r, 'dense', ['y', 'dx', 'dw', 'dbias']);
    assertCalled('dense', { matMul: 3 });
  });

  for (const shape of [
    [3, 5, 5, 8],
    [16, 12],
  ]) {
    test(`native batch-norm training op matches tf.moments + tf.batchNorm on cpu: outputs, statistics, all gradients, ${JSON.stringify(shape)}`, async () => {
      const n = shape.reduce((a, b) => a * b);
      const C = shape[shape.length - 1];
      const r = await onCpuAndNative(() => {
        const x = tf.add(tf.mul(tf.tensor(values(n, 15), shape), 3), 2); // mean 2: a shifted input
        const gamma = tf.tensor1d(values(C, 16));
        const beta = tf.tensor1d(values(C, 17));
        const w = tf.tensor(values(n, 18), shape);
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
      assertClose(r, 'batch norm', ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta']);
      assertCalled('batch norm', { batchNormTrain: 2, batchNormGrad: 1 });
    });
  }

  for (const c of [
    { x: [2, 8, 8, 8], k: 2, s: 2, pad: 'valid' as Pad, path: '2x2 stride 2' },
    { x: [2, 8, 8, 8], k: 2, s: 2, pad: 'valid' as Pad, path: '2x2 with ties (values rounded to -2..2: dy to the first maximum)', ties: true },
    { x: [2, 8, 8, 8], k: 2, s: 2, pad: 'valid' as Pad, path: '2x2 after ReLU (ties at 0)', relu: true },
    { x: [2, 9, 7, 3], k: 2, s: 2, pad: 'valid' as Pad, path: 'odd sizes, 3 channels' },
    { x: [2, 9, 9, 4], k: 3, s: 2, pad: 'same' as Pad, path: 'overlapping 3x3 windows, same padding' },
    { x: [1, 7, 7, 1], k: 3, s: 1, pad: 'same' as Pad, path: '3x3 stride 1, 1 channel' },
  ]) {
    test(`native max pool and its gradient match cpu: ${c.path}`, async () => {
      const r = await onCpuAndNative(() => {
        let x = tf.tensor4d(
          values(
            c.x.reduce((a, b) => a * b),
            12,
          ),
          c.x as [number, number, number, number],
        );
        if (c.ties) x = tf.round(tf.mul(x, 1.5)) as tf.Tensor4D;
        if (c.relu) x = tf.relu(x);
        const y = tf.maxPool(x, c.k, c.s, c.pad);
        const dy = tf.tensor(values(y.size, 13), y.shape);
        return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), dy)))(x)];
      });
      // selections and sums of dy: exact up to the order of the sums where windows overlap
      assertClose(r, `maxPool ${c.path}`, ['y', 'dx']);
      assertCalled(`maxPool ${c.path}`, { maxPoolForward: 2, maxPoolBackward: 1 });
    });
  }

  test('native relu and its gradient (ferlab FerlabReluGrad) match cpu', async () => {
    installReluGradient();
    const r = await onCpuAndNative(() => {
      const x = tf.tensor1d(values(1001, 19));
      const dy = tf.tensor1d(values(1001, 20));
      return [tf.relu(x), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy)))(x)];
    });
    assertClose(r, 'relu', ['y', 'dx']);
    assertCalled('relu', { relu: 2, reluGrad: 1 });
  });

  test('native on 2 oneDNN threads: convolution, matmul, pooling and batch-norm gradients match cpu, and repeat bit for bit', async () => {
    const f = () => {
      const x = tf.tensor4d(values(4 * 12 * 12 * 16, 21), [4, 12, 12, 16]);
      const w = tf.tensor4d(values(3 * 3 * 16 * 32, 22), [3, 3, 16, 32]);
      const wd = tf.tensor2d(values(6 * 6 * 32 * 10, 23), [6 * 6 * 32, 10]);
      const gamma = tf.tensor1d(values(32, 24));
      const beta = tf.tensor1d(values(32, 25));
      const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const y = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'));
        const bn = batchNormTrain(y, gamma, beta, 1e-3);
        tf.dispose([bn.mean, bn.variance]);
        const p = tf.maxPool(bn.y as tf.Tensor4D, 2, 2, 'valid');
        return tf.sum(tf.square(tf.matMul(tf.reshape(p, [4, -1]), c as tf.Tensor2D)));
      };
      return tf.grads(loss)([x, w, wd]);
    };
    const before = process.env.FERLAB_NATIVE_THREADS;
    process.env.FERLAB_NATIVE_THREADS = '2'; // initBackend('native') sets oneDNN's threads from it
    try {
      const r = await onCpuAndNative(f);
      assert.is(addon.threads(), 2, 'oneDNN threads');
      const again = tf.tidy(() => f().map((t) => Float32Array.from(t.dataSync())));
      assertClose(r, '2 threads', ['dx', 'dw', 'dwDense']);
      assertCalled('2 threads', { conv2dForward: 1, conv2dBackwardData: 1, conv2dBackwardWeights: 1, matMul: 3, maxPoolBackward: 1, batchNormGrad: 1 });
      r.native.forEach((a, i) => {
        const b = again[i];
        let same = a.length === b.length;
        for (let j = 0; same && j < a.length; j++) same = Object.is(a[j], b[j]);
        assert.ok(same, `output ${i}: the same inputs on the same thread count give the same bits`);
      });
    } finally {
      if (before === undefined) delete process.env.FERLAB_NATIVE_THREADS;
      else process.env.FERLAB_NATIVE_THREADS = before;
      addon.setThreads(1);
    }
  });

  test('native shares the wasm backend: a tensor made on wasm is read on native in place (same heap offset, no copy)', async () => {
    await initBackend('wasm');
    const a = tf.tensor1d([1, 2, 3, 4]);
    const offset = () => (tf.backend() as unknown as { dataIdMap: { get(d: object): { memoryOffset: number } } }).dataIdMap.get(a.dataId).memoryOffset;
    const before = offset();
    await initBackend('native');
    assert.is(tf.getBackend(), 'native');
    assert.is(offset(), before, 'same heap offset on native');
    assert.equal(Array.from(tf.mul(a, 2).dataSync()), [2, 4, 6, 8]);
    a.dispose();
  });
}

test.run();
