import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { K, type Args } from './shared';

/**
 * Depthwise-convolution gradients: DepthwiseConv2dNativeBackpropInput and DepthwiseConv2dNativeBackpropFilter, which
 * tfjs-backend-wasm does not have (it has only the forward DepthwiseConv2dNative, on XNNPACK): without them no
 * DepthwiseConv2D / SeparableConv2D layer trains on the wasm backend. Both are AssemblyScript SIMD kernels of ferlab's
 * module (src/backend/wasm/assembly/depthwise.ts), like the other training kernels: the loops are simple enough that
 * a TypeScript version on the heap would only be slower (no SIMD), and the module already shares tfjs' memory.
 *
 * Layout NHWC only (the only layout tfjs' depthwise ops produce on any backend). Strides any, padding 'same', 'valid'
 * or explicit, dimRoundingMode as tfjs computes it (tf.backend_util.computeConv2DInfo with depthwise = true). Channel
 * multiplier 1 runs 4 channels per SIMD lane group; other multipliers run a scalar path of the same sums. Dilations
 * > 1 are an error (tfjs-core's DepthwiseConv2dNative gradient refuses them before any kernel runs, so autodiff never
 * reaches it). Checked against the cpu backend in test/backend/depthwise-kernels.test.ts.
 */

interface DwGeom {
  N: number;
  H: number;
  W: number;
  C: number;
  M: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

function dwGeom(kernel: string, xShape: number[], filterShape: number[], attrs: NamedAttrMap): DwGeom {
  const dil = (attrs.dilations as number | [number, number] | undefined) ?? 1;
  const [dh, dw] = typeof dil === 'number' ? [dil, dil] : dil;
  if (dh !== 1 || dw !== 1) throw new Error(`ferlab ${kernel}: dilations [${dh}, ${dw}] are not supported (only 1, as tfjs-core's depthwise gradient)`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    M: filterShape[3],
    KH: info.filterHeight,
    KW: info.filterWidth,
    OH: info.outHeight,
    OW: info.outWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * DepthwiseConv2dNativeBackpropInput: dy [N, OH, OW, C*M], filter [KH, KW, C, M] -> dx of attrs.inputShape [N, H, W, C]
 * (float32). dx[n, iy, ix, c] = sum over the taps (kh, kw) that read (iy, ix) and over m of dy[.., c*M + m] * filter[kh, kw, c, m].
 */
export function depthwiseConv2dNativeBackpropInput(args: Args): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs!;
  const g = dwGeom('DepthwiseConv2dNativeBackpropInput', attrs.inputShape as number[], filter.shape, attrs);
  const k = K(args.backend);
  const work = k.scratch('dwTaps', k.exports.dwInputGradScratchBytes(g.KH, g.KW, g.W));
  const dx = k.output([g.N, g.H, g.W, g.C]);
  k.exports.dwInputGrad(k.ptr(dy), g.N, g.OH, g.OW, k.ptr(filter), g.KH, g.KW, g.C, g.M, g.sh, g.sw, g.pt, g.pl, k.ptr(dx), g.H, g.W, work);
  return dx;
}

/**
 * DepthwiseConv2dNativeBackpropFilter: x [N, H, W, C], dy [N, OH, OW, C*M] -> dW of attrs.filterShape [KH, KW, C, M]
 * (float32). dW[kh, kw, c, m] = sum over (n, oy, ox) of x at tap (kh, kw) of (oy, ox), channel c, times dy[.., c*M + m];
 * row sums in float32, the total in float64.
 */
export function depthwiseConv2dNativeBackpropFilter(args: Args): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs!;
  const filterShape = attrs.filterShape as number[];
  const g = dwGeom('DepthwiseConv2dNativeBackpropFilter', x.shape, filterShape, attrs);
  const k = K(args.backend);
  const work = k.scratch('dwAcc', k.exports.dwFilterGradScratchBytes(g.KH, g.KW, g.C, g.M));
  const out = k.output(filterShape);
  k.exports.dwFilterGrad(k.ptr(x), g.N, g.H, g.W, g.C, g.M, k.ptr(dy), g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.pt, g.pl, work, k.ptr(out));
  return out;
}
