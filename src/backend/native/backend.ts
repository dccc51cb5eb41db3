import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { kernelsFor, type WasmBackendLike, type WasmKernels } from '../wasm/module';
import { loadNativeAddon, type NativeAddon } from './addon';
import { convKernels } from './conv';
import { depthwiseKernels } from './depthwise';
import { matmulKernels } from './matmul';
import { normKernels } from './norm';
import { poolKernels } from './pool';
import { elementwiseKernels } from './elementwise';

/**
 * The `native` tfjs backend: the wasm backend's own instance (same module, same heap, same tensors) registered under a
 * second name, with every kernel registered for `wasm` (tfjs' and ferlab's) copied to `native`, and the kernels where
 * a training step spends its time replaced by oneDNN calls (the addon, addon.ts) that read and write the wasm heap in
 * place. Switching between `wasm` and `native` therefore moves no data, and any kernel not overridden runs exactly
 * as on wasm. Overrides fall back to the wasm kernel (ferlab's) for the cases they do not handle (NCHW, prelu, ...).
 *
 * | kernel | on oneDNN (file) |
 * |---|---|
 * | Conv2D, FusedConv2D (bias, ReLU post-op), Conv2DBackpropInput, Conv2DBackpropFilter | convolution_forward / _backward_data / _backward_weights, NHWC activations in place, HWIO filters reordered to oneDNN's choice per call (conv.cc) |
 * | DepthwiseConv2dNative and its input / filter gradients | grouped convolutions, one group per channel (depthwise.cc) |
 * | BatchMatMul, _FusedMatMul (bias, ReLU post-op) | matmul, transposes as strides (matmul.cc) |
 * | MaxPool, MaxPoolGrad | pooling_max forward with workspace, backward from it (pool.cc) |
 * | FerlabBatchNormTrain, FerlabBatchNormGrad | batch_normalization (norm.cc) |
 * | Relu, FerlabReluGrad | eltwise_relu forward / backward (eltwise.cc) |
 *
 * The memory-bound ones (batch norm, ReLU) run on oneDNN only with more than one thread by default
 * ({@link memoryBoundOnNative}). Everything else (Adam, dropout, sums, elementwise ops) is the wasm
 * backend's, single-threaded. Primitives are cached by shape per thread; oneDNN's threads are OpenMP's (setThreads).
 */

/** The name the backend is registered under. */
export const NATIVE_BACKEND = 'native';

/** Arguments tfjs passes to a kernel function. */
export type NativeArgs = { inputs: Record<string, TensorInfo | undefined>; attrs?: Record<string, unknown>; backend: unknown };

/** What a native kernel needs: the addon, the wasm heap (pointers, outputs) and the wasm kernel to fall back on. */
export interface NativeContext {
  addon: NativeAddon;
  /** The wasm kernel of the same name (ferlab's where it has one), for the cases the native one does not handle. */
  fallback(name: string): KernelFunc;
  /** Heap helpers (tensor byte offsets, new outputs) of the shared wasm backend. */
  heap(backend: unknown): WasmKernels;
  /** The heap's current ArrayBuffer (fetch it after allocating outputs: a growing heap replaces it). */
  buffer(backend: unknown): ArrayBuffer;
  /** Extra attribute for conv primitives: 1 lets oneDNN choose blocked activation layouts (reordered per call). */
  anyLayout: number;
}

/**
 * Whether the memory-bound kernels (batch norm, ReLU and its gradient) run on oneDNN now: `FERLAB_NATIVE_MEMBOUND=on`
 * or `off` forces it; by default (`auto`) only when oneDNN has more than one thread, since on one thread ferlab's wasm
 * kernels are as fast (batch norm of deep's five layers at batch 64, min of 5, loaded 2-core AMD EPYC: forward
 * 10.0 ms on oneDNN vs 6.6 ms wasm, backward 13.4 vs 12.8 ms) but single-threaded.
 */
export function memoryBoundOnNative(ctx: NativeContext): boolean {
  const mode = process.env.FERLAB_NATIVE_MEMBOUND ?? 'auto';
  if (mode === 'on') return true;
  if (mode === 'off') return false;
  return ctx.addon.threads() > 1;
}

let state: { addon: NativeAddon; kernels: string[] } | undefined;

/**
 * Registers the `native` backend over the already initialised `wasm` backend (call after tf.setBackend('wasm') with
 * ferlab's wasm kernels registered). Idempotent.
 *
 * @param threads OpenMP threads for oneDNN (>= 1).
 * @returns the addon and the kernel names oneDNN serves.
 * @throws Error when the addon is unavailable (the message says why and what to install), or wasm is not initialised.
 */
export function registerNativeBackend(threads = 1): { addon: NativeAddon; kernels: string[] } {
  const loaded = loadNativeAddon();
  if ('error' in loaded) throw new Error(loaded.error);
  const { addon } = loaded;
  addon.setThreads(threads);
  if (state) return state;
  const wasm = tf.findBackend('wasm');
  if (!wasm) throw new Error('the native backend needs the tfjs wasm backend initialised first');
  const ctx: NativeContext = {
    addon,
    fallback: (name) => {
      const k = tf.getKernel(name, 'wasm');
      if (!k) throw new Error(`no wasm kernel ${name} to fall back on`);
      return k.kernelFunc;
    },
    heap: (backend) => kernelsFor(backend as WasmBackendLike),
    buffer: (backend) => (backend as WasmBackendLike).wasm.HEAPU8.buffer as ArrayBuffer,
    anyLayout: process.env.FERLAB_NATIVE_LAYOUT === 'any' ? 1 : 0,
  };
  // the same instance under a second name: tensors never move between wasm and native
  tf.registerBackend(NATIVE_BACKEND, () => wasm, 0);
  const overrides: Record<string, KernelFunc> = {
    ...convKernels(ctx),
    ...depthwiseKernels(ctx),
    ...matmulKernels(ctx),
    ...normKernels(ctx),
    ...poolKernels(ctx),
    ...elementwiseKernels(ctx),
  };
  for (const k of tf.getKernelsForBackend('wasm')) {
    if (tf.getKernel(k.kernelName, NATIVE_BACKEND)) continue;
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND, kernelFunc: overrides[k.kernelName] ?? k.kernelFunc } as KernelConfig);
  }
  state = { addon, kernels: Object.keys(overrides) };
  return state;
}
