import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmKernels } from '../module';
import { weightGradRows } from './gemm';
import { K, round8, size, stock, zeros, type Args } from './shared';

/** Matmul kernels: BatchMatMul and _FusedMatMul (bias + relu) on 2-D operands, all transposes but both at once. */

/** C = op(A) @ op(B) for 2-D operands (leading batch dims all 1); null when another case is asked. */
function matMul2D(k: WasmKernels, a: TensorInfo, b: TensorInfo, tA: boolean, tB: boolean): TensorInfo | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (size(a.shape.slice(0, -2)) !== 1 || size(b.shape.slice(0, -2)) !== 1 || (tA && tB)) return null;
  const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = tB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (Ka !== Kb) return null;
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = k.output([...outer, M, N]);
  if (!tA) {
    const packed = k.scratch('wpack', Ka * round8(N) * 4);
    // B [K, N] as-is, or B [N, K] transposed into [K, N]
    if (tB) k.exports.packWeights(k.ptr(b), 1, N, Ka, 1, packed);
    else k.exports.packWeights(k.ptr(b), 1, Ka, N, 0, packed);
    k.exports.igemm(0, k.ptr(a), 1, 1, M, Ka, packed, 1, 1, N, k.ptr(out), 1, M, 1, 1, 1, 1, 0, 0, zeros(k, Ka), k.scratch('ptrs', 16));
  } else {
    // A^T B = sum over the K rows of A [K, M] (x) B [K, N]: a 1x1 "convolution" weight gradient over K pixels
    weightGradRows(k, k.ptr(a), k.ptr(b), Ka, M, N, k.ptr(out));
  }
  return out;
}

/** BatchMatMul: op(a) @ op(b) on 2-D operands (leading dims 1); batched matmuls go to the stock kernel. */
export function batchMatMul(args: Args): TensorInfo {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const out = matMul2D(K(args.backend), a, b, !!args.attrs!.transposeA, !!args.attrs!.transposeB);
  return out ?? (stock.get('BatchMatMul')!(args as never) as TensorInfo);
}

/** _FusedMatMul: BatchMatMul plus bias [N] and linear/relu activation; other cases go to the stock kernel. */
export function fusedMatMul(args: Args): TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const activation = (args.attrs!.activation as string) ?? 'linear';
  const k = K(args.backend);
  const N = args.attrs!.transposeB ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1];
  if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu') || (bias && size(bias.shape) !== N)) {
    return stock.get('_FusedMatMul')!(args as never) as TensorInfo;
  }
  const out = matMul2D(k, a!, b!, !!args.attrs!.transposeA, !!args.attrs!.transposeB);
  if (!out) return stock.get('_FusedMatMul')!(args as never) as TensorInfo;
  if (bias || activation === 'relu') {
    k.exports.biasAct(k.ptr(out), size(out.shape) / N, N, bias ? k.ptr(bias) : zeros(k, N), activation === 'relu' ? 1 : 0);
  }
  return out;
}
