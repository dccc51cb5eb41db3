import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { FERLAB_KERNELS } from '../wasm/kernels';
import { adam } from './adam';
import { conv2DBackpropFilter, stockWebgpu } from './conv';
import { dropout, reluGrad } from './elementwise';
import { batchNormGrad, batchNormTrain, movingStats } from './norm';
import { maxPoolGrad } from './pool';

/**
 * ferlab's WGSL training kernels for tfjs' webgpu backend (tfjs-backend-webgpu 4.22), chosen by profiling a
 * training step of `baseline` on an H100 (bench/results/webgpu-stock-latest.md): tfjs' Conv2DBackpropFilter took
 * 75 of 84 ms of GPU time per step; the rest of the step is many small kernels whose JavaScript dispatch cost
 * (~0.1 ms each) bounds the step, which the fused kernels cut down (553 -> 193 kernel calls per step). MaxPoolGrad
 * was quoted at 6-14 ms per call; here tfjs' took 0.26 ms for three calls and ferlab's 0.46 ms, in one dispatch
 * instead of two.
 *
 * | kernel | what ferlab does | stock webgpu backend |
 * |---|---|---|
 * | Conv2DBackpropFilter | tiled split-K GEMM over implicit patches, 4x4 per thread (conv.ts) | one thread per weight, serial loop over every pixel |
 * | MaxPoolGrad | one pass, first-max rescan per window (pool.ts) | argmax positions pass + full window loop |
 * | FerlabBatchNormTrain / FerlabBatchNormGrad | 3 dispatches each (norm.ts) | ~25 kernels of moments/batchNorm and their gradients |
 * | FerlabReluGrad, FerlabDropout | one dispatch each (elementwise.ts) | 2-4 kernels |
 * | FerlabAdam | one dispatch per weight tensor (adam.ts) | ~12 kernels per weight tensor |
 * | FerlabMovingStats | batch-norm moving mean and variance in one dispatch (norm.ts) | 6 kernels per layer |
 *
 * Every kernel is checked against the cpu backend in test/backend/webgpu-kernels.test.ts (on SwiftShader where no
 * GPU exists).
 */

const overrides: Record<string, KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as KernelFunc,
  [FERLAB_KERNELS.batchNormTrain]: batchNormTrain as unknown as KernelFunc,
  [FERLAB_KERNELS.batchNormGrad]: batchNormGrad as unknown as KernelFunc,
  [FERLAB_KERNELS.reluGrad]: reluGrad as unknown as KernelFunc,
  [FERLAB_KERNELS.dropout]: dropout as unknown as KernelFunc,
  [FERLAB_KERNELS.adam]: adam as unknown as KernelFunc,
  [FERLAB_KERNELS.movingStats]: movingStats as unknown as KernelFunc,
};

let registered = false;

/**
 * Registers ferlab's WGSL kernels for the `webgpu` backend (idempotent; after `@tensorflow/tfjs-backend-webgpu` is
 * loaded). The stock kernels they replace are kept for the cases ferlab's do not handle (NCHW). Set
 * `FERLAB_KERNELS=off` to keep the stock webgpu backend (for comparisons).
 * @returns the kernel names now served by ferlab.
 */
export function registerWebgpuKernels(): string[] {
  if (process.env.FERLAB_KERNELS === 'off') return [];
  if (registered) return Object.keys(overrides);
  for (const [name, fn] of Object.entries(overrides)) {
    const existing = tf.getKernel(name, 'webgpu');
    if (existing) {
      stockWebgpu.set(name, existing.kernelFunc);
      tf.unregisterKernel(name, 'webgpu');
    }
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: fn } as KernelConfig);
  }
  registered = true;
  return Object.keys(overrides);
}

/** True once {@link registerWebgpuKernels} has run. */
export function webgpuKernelsRegistered(): boolean {
  return registered;
}
