import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { FERLAB_KERNELS } from '../wasm/kernels';
import { memoryBoundOnNative, type NativeArgs, type NativeContext } from './backend';

/**
 * Batch-normalisation kernels of the native backend on oneDNN (norm.cc): FerlabBatchNormTrain (batch statistics and
 * the affine output) and FerlabBatchNormGrad (the full backward pass), the same contracts as ferlab's wasm kernels
 * (src/backend/wasm/kernels/norm.ts), over the last axis of x [..., C], float32, read in place on the wasm heap.
 * Memory-bound: on oneDNN only when it has more than one thread by default (see memoryBoundOnNative).
 */

/** The native batch-norm kernels, by kernel name. */
export function normKernels(ctx: NativeContext): Record<string, KernelFunc> {
  /** FerlabBatchNormTrain: inputs x [..., C], gamma [C], beta [C]; attrs epsilon. Outputs y, batch mean, biased batch variance. */
  const batchNormTrain = (args: NativeArgs): TensorInfo[] => {
    const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const C = x.shape[x.shape.length - 1];
    const M = tf.util.sizeFromShape(x.shape) / C;
    if (M === 0 || !memoryBoundOnNative(ctx)) return ctx.fallback(FERLAB_KERNELS.batchNormTrain)(args as never) as unknown as TensorInfo[];
    const h = ctx.heap(args.backend);
    const y = h.output(x.shape);
    const mean = h.output([C]);
    const variance = h.output([C]);
    ctx.addon.batchNormTrain(
      ctx.buffer(args.backend),
      h.ptr(x),
      h.ptr(gamma),
      h.ptr(beta),
      h.ptr(y),
      h.ptr(mean),
      h.ptr(variance),
      M,
      C,
      args.attrs!.epsilon as number,
    );
    return [y, mean, variance];
  };

  /** FerlabBatchNormGrad: inputs dy, x, mean, variance, gamma; attrs epsilon. Outputs dx, dgamma, dbeta. */
  const batchNormGrad = (args: NativeArgs): TensorInfo[] => {
    const { dy, x, mean, variance, gamma } = args.inputs as Record<string, TensorInfo>;
    const C = x.shape[x.shape.length - 1];
    const M = tf.util.sizeFromShape(x.shape) / C;
    if (M === 0 || !memoryBoundOnNative(ctx)) return ctx.fallback(FERLAB_KERNELS.batchNormGrad)(args as never) as unknown as TensorInfo[];
    const h = ctx.heap(args.backend);
    const dx = h.output(x.shape);
    const dgamma = h.output([C]);
    const dbeta = h.output([C]);
    ctx.addon.batchNormGrad(
      ctx.buffer(args.backend),
      h.ptr(dy),
      h.ptr(x),
      h.ptr(mean),
      h.ptr(variance),
      h.ptr(gamma),
      h.ptr(dx),
      h.ptr(dgamma),
      h.ptr(dbeta),
      M,
      C,
      args.attrs!.epsilon as number,
    );
    return [dx, dgamma, dbeta];
  };

  return {
    [FERLAB_KERNELS.batchNormTrain]: batchNormTrain as unknown as KernelFunc,
    [FERLAB_KERNELS.batchNormGrad]: batchNormGrad as unknown as KernelFunc,
  };
}
