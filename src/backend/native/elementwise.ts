import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { FERLAB_KERNELS } from '../wasm/kernels';
import { memoryBoundOnNative, type NativeArgs, type NativeContext } from './backend';

/**
 * Elementwise kernels of the native backend on oneDNN (eltwise.cc): Relu and FerlabReluGrad (dx = dy where x > 0,
 * else 0), float32, in place on the wasm heap. Memory-bound: they run on oneDNN only when it has more than one
 * thread by default (see memoryBoundOnNative); on one thread the wasm kernels (XNNPACK, ferlab's) run.
 */

/** The native elementwise kernels, by kernel name. */
export function elementwiseKernels(ctx: NativeContext): Record<string, KernelFunc> {
  /** Relu: x -> max(x, 0). */
  const relu = (args: NativeArgs): TensorInfo => {
    const { x } = args.inputs as { x: TensorInfo };
    const n = tf.util.sizeFromShape(x.shape);
    if (x.dtype !== 'float32' || n === 0 || !memoryBoundOnNative(ctx)) return ctx.fallback('Relu')(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const y = h.output(x.shape);
    ctx.addon.relu(ctx.buffer(args.backend), h.ptr(x), h.ptr(y), n);
    return y;
  };

  /** FerlabReluGrad: dy, x (same shape) -> dx = dy where x > 0, else 0. */
  const reluGrad = (args: NativeArgs): TensorInfo => {
    const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
    const n = tf.util.sizeFromShape(x.shape);
    if (n === 0 || !memoryBoundOnNative(ctx)) return ctx.fallback(FERLAB_KERNELS.reluGrad)(args as never) as TensorInfo;
    const h = ctx.heap(args.backend);
    const dx = h.output(x.shape);
    ctx.addon.reluGrad(ctx.buffer(args.backend), h.ptr(dy), h.ptr(x), h.ptr(dx), n);
    return dx;
  };

  return { Relu: relu as unknown as KernelFunc, [FERLAB_KERNELS.reluGrad]: reluGrad as unknown as KernelFunc };
}
