import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { kernelsFor, type WasmBackendLike, type WasmKernels } from '../module';

/**
 * Helpers shared by ferlab's kernel families: the kernel-function arguments tfjs passes, the stock wasm kernels kept
 * for the cases ferlab's do not handle, and access to ferlab's kernel module on the tfjs wasm heap.
 */

/** Arguments tfjs passes to a kernel function: named input tensors, attributes, and the backend instance. */
export type Args = { inputs: Record<string, TensorInfo | undefined>; attrs?: NamedAttrMap; backend: unknown };

/** The stock wasm kernels replaced by ferlab's (filled by registerWasmKernels), for the cases ferlab's do not handle. */
export const stock = new Map<string, KernelFunc>();

/** ferlab's kernel module bound to the wasm backend's memory (heap pointers, scratch buffers, outputs). */
export function K(backend: unknown): WasmKernels {
  return kernelsFor(backend as WasmBackendLike);
}

/** Number of elements of a shape. */
export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** n rounded up to a multiple of 8 (the GEMM micro-kernel's output columns, as packWeights pads them). */
export const round8 = (n: number) => (n + 7) & ~7;

/** A zero-filled scratch buffer of at least `floats` floats (for taps that fall in the padding). */
export function zeros(k: WasmKernels, floats: number): number {
  return k.scratch('zeros', floats * 4, true);
}
