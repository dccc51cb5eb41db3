import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { adam } from './adam';
import { conv2D, conv2DBackpropFilter, conv2DBackpropInput, fusedConv2D } from './conv';
import { depthwiseConv2dNativeBackpropFilter, depthwiseConv2dNativeBackpropInput } from './depthwise';
import { dropout, identity, reluGrad } from './elementwise';
import { batchMatMul, fusedMatMul } from './matmul';
import { batchNormGrad, batchNormTrain } from './norm';
import { maxPoolGrad } from './pool';
import { sum } from './reduce';
import { stock } from './shared';

/**
 * ferlab's training kernels for the tfjs wasm backend, registered under tfjs' own kernel names so that the standard
 * ops, gradients and Layers API use them unchanged:
 *
 * | kernel | what ferlab does | stock wasm backend |
 * |---|---|---|
 * | Conv2D, FusedConv2D | Winograd F(2x2, 3x3) for 3x3 stride 1, else implicit GEMM (4x8 FMA micro-kernel); XNNPACK up to 32 input channels x taps | XNNPACK |
 * | Conv2DBackpropInput | Winograd, else implicit GEMM over the transposed convolution | scalar loop (slow) |
 * | Conv2DBackpropFilter | Winograd F(3x3, 2x2) on maps up to 16x16, else a blocked GEMM over repacked pixel chunks, or explicit patches (1-3 channels, tiny maps) | missing (tfjs#8474) |
 * | DepthwiseConv2dNativeBackpropInput, DepthwiseConv2dNativeBackpropFilter | per-pixel tap gather / per-row tap sums, 4 channels per SIMD vector (channel multiplier 1; scalar otherwise) | missing (forward DepthwiseConv2dNative only) |
 * | BatchMatMul, _FusedMatMul | the same GEMMs, all transposes of 2-D operands | XNNPACK only when untransposed, else scalar |
 * | MaxPoolGrad | vectorised first-max scatter (one pass for 2x2 windows) | scalar |
 * | Sum over leading axes | chunked column sums | transpose + reduce |
 * | Identity | shares the data (reference count) | copies |
 *
 * plus ferlab kernels used by ferlab's layers and optimizer: FerlabBatchNormTrain / FerlabBatchNormGrad (batch
 * statistics, normalisation and its full backward pass), FerlabReluGrad, FerlabDropout, FerlabAdam (one fused
 * Adam/AdamW update). Each falls back to the stock kernel outside what it handles (NCHW, batched matmuls, ...).
 * One file per kernel family (conv, depthwise, matmul, pool, reduce, norm, elementwise, adam; as tfjs-backend-wasm's src/kernels/),
 * helpers in shared.ts and gemm.ts. Every one is checked against the cpu backend in test/backend/kernels.test.ts
 * (the depthwise gradients in test/backend/depthwise-kernels.test.ts).
 */

let registered = false;

/** Names of ferlab's own kernels (registered for the wasm backend only). */
export const FERLAB_KERNELS = {
  batchNormTrain: 'FerlabBatchNormTrain',
  batchNormGrad: 'FerlabBatchNormGrad',
  reluGrad: 'FerlabReluGrad',
  dropout: 'FerlabDropout',
  adam: 'FerlabAdam',
  /** Batch-norm moving mean and variance updated in one dispatch (webgpu only; wasm keeps tfjs' ops, bit-exact). */
  movingStats: 'FerlabMovingStats',
} as const;

const overrides: Record<string, KernelFunc> = {
  Conv2D: conv2D as unknown as KernelFunc,
  FusedConv2D: fusedConv2D as unknown as KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as unknown as KernelFunc,
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as KernelFunc,
  DepthwiseConv2dNativeBackpropInput: depthwiseConv2dNativeBackpropInput as unknown as KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: depthwiseConv2dNativeBackpropFilter as unknown as KernelFunc,
  BatchMatMul: batchMatMul as unknown as KernelFunc,
  _FusedMatMul: fusedMatMul as unknown as KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as KernelFunc,
  Sum: sum as unknown as KernelFunc,
  Identity: identity as unknown as KernelFunc,
  [FERLAB_KERNELS.batchNormTrain]: batchNormTrain as unknown as KernelFunc,
  [FERLAB_KERNELS.batchNormGrad]: batchNormGrad as unknown as KernelFunc,
  [FERLAB_KERNELS.reluGrad]: reluGrad as unknown as KernelFunc,
  [FERLAB_KERNELS.dropout]: dropout as unknown as KernelFunc,
  [FERLAB_KERNELS.adam]: adam as unknown as KernelFunc,
};

/**
 * Registers ferlab's kernels for the `wasm` backend (idempotent). The stock kernels they replace are kept and used
 * for the cases ferlab's do not handle. Set `FERLAB_KERNELS=off` to keep the stock wasm backend (for comparisons);
 * it then still lacks Conv2DBackpropFilter and the depthwise gradients and cannot train convolutions.
 * @returns the kernel names now served by ferlab.
 */
export function registerWasmKernels(): string[] {
  if (process.env.FERLAB_KERNELS === 'off') return [];
  if (registered) return Object.keys(overrides);
  for (const [name, fn] of Object.entries(overrides)) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing) {
      stock.set(name, existing.kernelFunc);
      tf.unregisterKernel(name, 'wasm');
    }
    // keep the stock setup (it binds the C++ entry points the fallback path calls)
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn, setupFunc: existing?.setupFunc } as KernelConfig);
  }
  registered = true;
  return Object.keys(overrides);
}

/** True once {@link registerWasmKernels} has run (and ferlab's kernels serve the wasm backend). */
export function wasmKernelsRegistered(): boolean {
  return registered;
}
