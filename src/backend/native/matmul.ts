import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { NativeArgs, NativeContext } from './backend';

/**
 * Matrix-product kernels of the native backend on oneDNN's matmul (matmul.cc): BatchMatMul and _FusedMatMul (bias
 * [N] and ReLU fused), all transposes, batches equal or one side 1, read in place on the wasm heap. Other cases
 * (broadcast over several batch dims, prelu, other activations, bias not [N]) go to the wasm kernels.
 */

/** The native matmul kernels, by tfjs kernel name. */
export function matmulKernels(ctx: NativeContext): Record<string, KernelFunc> {
  const run = (args: NativeArgs, bias: TensorInfo | undefined, relu: boolean): TensorInfo | null => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const tA = !!args.attrs!.transposeA;
    const tB = !!args.attrs!.transposeB;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = tA ? a.shape[ra - 2] : a.shape[ra - 1];
    const Kb = tB ? b.shape[rb - 1] : b.shape[rb - 2];
    const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const BA = tf.util.sizeFromShape(outerA);
    const BB = tf.util.sizeFromShape(outerB);
    // batches must be equal (same shape) or one side a single matrix; the output takes the broadcast shape
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    if (K !== Kb || M * N * K === 0 || !(sameOuter || BA === 1 || BB === 1) || (bias && tf.util.sizeFromShape(bias.shape) !== N)) return null;
    const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    const h = ctx.heap(args.backend);
    const c = h.output([...outer, M, N]);
    ctx.addon.matMul(ctx.buffer(args.backend), h.ptr(a), h.ptr(b), bias ? h.ptr(bias) : -1, h.ptr(c), BA, BB, M, K, N, tA ? 1 : 0, tB ? 1 : 0, relu ? 1 : 0);
    return c;
  };

  /** BatchMatMul: op(a) @ op(b). */
  const batchMatMul = (args: NativeArgs): TensorInfo => run(args, undefined, false) ?? (ctx.fallback('BatchMatMul')(args as never) as TensorInfo);

  /** _FusedMatMul: BatchMatMul plus bias [N] and linear/relu activation. */
  const fusedMatMul = (args: NativeArgs): TensorInfo => {
    const { bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const activation = (args.attrs!.activation as string) ?? 'linear';
    const out = preluActivationWeights || (activation !== 'linear' && activation !== 'relu') ? null : run(args, bias, activation === 'relu');
    return out ?? (ctx.fallback('_FusedMatMul')(args as never) as TensorInfo);
  };

  return { BatchMatMul: batchMatMul as unknown as KernelFunc, _FusedMatMul: fusedMatMul as unknown as KernelFunc };
}
